"""verify URL against real servers: the examples under hypercorn and uvicorn, broken
deployments, and Debian's nginx as a caching reverse proxy in front."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .nginx import nginx
from .servers import BIN, copy_example, free_port, serve

pytestmark = [pytest.mark.server]


def verify(url: str, *args: str, command: tuple[str, ...] | None = None, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    """Run verify as a user does; its completed process."""
    command = command or (sys.executable, "-m", "quart_appcache")
    return subprocess.run(
        [*command, "verify", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def report(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    done = verify(url, "--json", *args)
    return done.returncode, json.loads(done.stdout)


def problems(found: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {problem["url"]: problem for problem in found["problems"]}


@pytest.mark.parametrize(
    ("kind", "module", "command"),
    [
        ("hypercorn", "app:app", None),
        ("uvicorn", "fastapi_app:app", (sys.executable, "-m", "quart_appcache.starlette")),
        ("hypercorn", "fastapi_app:app", None),
        ("uvicorn", "app:app", (str(BIN / "quart"), "--app", "app:app", "appcache")),
    ],
)
def test_the_examples_pass_and_report_nothing(
    tmp_path: Path, kind: str, module: str, command: tuple[str, ...] | None
) -> None:
    root = copy_example(tmp_path / "example")
    with serve(root, kind=kind, module=module) as server:
        done = verify(server.url + "/", command=command, cwd=root)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"OK: {server.url}/, version ")
        assert "0 problem(s), 0 warning(s)" in done.stdout
        code, found = report(server.url)
        assert code == 0
        assert found["problems"] == []
        assert found["entries"] == 12  # the example's, the page client, manifest, icons


BROKEN_APP = """
from app import create_app

inner = create_app()


async def app(scope, receive, send):
    path = scope.get("path")
    if scope["type"] == "http" and path == "/static/css/app.css":
        # A rewrite rule of the proxy: the stylesheet moved.
        await send({"type": "http.response.start", "status": 302,
                    "headers": [(b"location", b"/assets/app.css")]})
        await send({"type": "http.response.body", "body": b""})
        return

    async def patched(message):
        if message["type"] == "http.response.start" and path == "/sw.js":
            headers = [(k, v) for k, v in message["headers"] if k.lower() != b"content-type"]
            message = {**message, "headers": [*headers, (b"content-type", b"text/plain")]}
        await send(message)

    await inner(scope, receive, patched)
"""


def test_a_broken_deployment_is_reported_url_by_url(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    (root / "broken_app.py").write_text(BROKEN_APP)
    layout = root / "templates" / "layout.html"
    layout.write_text(
        "\n".join(line for line in layout.read_text().splitlines() if "viewport" not in line)
    )
    with serve(root, module="broken_app:app") as server:
        (root / "static" / "img" / "logo.svg").unlink()  # gone after the release was finalized
        done = verify(server.url)
        assert done.returncode == 1, done.stdout + done.stderr
        code, found = report(server.url)
    assert code == 1
    assert found["ok"] is False
    by_url = problems(found)
    assert by_url["/static/img/logo.svg"]["got"] == "404"
    assert by_url["/static/css/app.css"]["got"] == "302 to /assets/app.css"
    assert "refuse a redirected entry" in by_url["/static/css/app.css"]["cause"]
    assert by_url[server.url + "/sw.js"]["got"] == "text/plain"
    assert by_url[server.url + "/"]["expected"] == '<meta name="viewport" ...>'
    # The table says the same, one line per problem, then the summary.
    for url in by_url:
        assert url in done.stdout
    assert done.stdout.splitlines()[-1].startswith(f"FAILED: {server.url}/")
    assert f"{len(by_url)} problem(s)" in done.stdout.splitlines()[-1]


def test_usage_errors_name_the_url(tmp_path: Path) -> None:
    port = free_port()
    done = verify(f"http://127.0.0.1:{port}/")
    assert done.returncode == 2
    assert f"cannot reach http://127.0.0.1:{port}/" in done.stderr
    done = verify("ftp://example.invalid/")
    assert done.returncode == 2
    assert "'ftp://example.invalid/' is not an http(s) URL" in done.stderr


def test_a_stale_proxy_cache_is_found_with_its_cause(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "example")
    upstream = free_port()
    with serve(root, port=upstream), nginx(tmp_path / "nginx", upstream) as proxy:
        code, found = report(proxy)  # version 1, and the proxy keeps every file
        assert (code, found["problems"]) == (0, [])
    script = root / "static" / "js" / "app.js"
    script.write_text(script.read_text().replace("script version 1", "script version 2"))
    with serve(root, port=upstream), nginx(tmp_path / "nginx", upstream) as proxy:
        code, found = report(proxy)
    assert code == 1
    stale = problems(found)["/static/js/app.js"]
    assert stale["cause"].startswith("served by a cache with another release's bytes")
    assert "x-cache-status: HIT" in stale["cause"]
    assert list(problems(found)) == ["/static/js/app.js"]  # nothing else changed


@pytest.mark.parametrize(
    ("artifacts", "settings", "url", "expected"),
    [
        (
            "            proxy_hide_header Cache-Control;\n"
            '            add_header Cache-Control "max-age=31536000, immutable";',
            "",
            "/sw.js",
            "Cache-Control: no-cache (or max-age at most 600)",
        ),
        (
            "            proxy_hide_header Service-Worker-Allowed;",
            'APPCACHE_SW_URL="/js/sw.js"',
            "/js/sw.js",
            "Service-Worker-Allowed covering /",
        ),
    ],
)
def test_a_proxy_that_breaks_the_worker_is_named(
    tmp_path: Path, artifacts: str, settings: str, url: str, expected: str
) -> None:
    root = copy_example(tmp_path / "example")
    (root / "set_app.py").write_text(f"from app import create_app\napp = create_app({settings})\n")
    upstream = free_port()
    with (
        serve(root, module="set_app:app", port=upstream),
        nginx(tmp_path / "nginx", upstream, artifacts, worker=url) as proxy,
    ):
        code, found = report(proxy)
    assert code == 1, found
    assert problems(found)[proxy + url]["expected"] == expected
