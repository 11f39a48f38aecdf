"""The README's quick starts, pasted as a new user would, served and used offline."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser

from .browser import open_controlled, wait_prompt
from .servers import REPO, serve

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.asyncio(loop_scope="session")]

README = (REPO / "README.md").read_text()


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def files(text: str) -> dict[str, str]:
    """The files a section shows: a bold `path` line, then its code block."""
    return dict(re.findall(r"\*\*`([^`]+)`\*\*[^\n]*\n\n```\w+\n(.*?)```", text, flags=re.S))


def paste(root: Path, shown: dict[str, str]) -> Path:
    for name, body in shown.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return root


QUART = files(section("Quick start: Quart"))
FASTAPI = {**QUART, **files(section("Quick start: FastAPI (or Starlette)"))}
FASTAPI.pop("app.py")


async def test_the_readme_shows_every_file_a_quick_start_needs() -> None:
    assert set(QUART) == {"app.py", "templates/index.html", "static/app.js"}
    assert set(FASTAPI) == {"main.py", "templates/index.html", "static/app.js"}
    assert '<meta name="viewport"' in QUART["templates/index.html"]
    assert "{{ appcache_head() }}" in QUART["templates/index.html"]
    assert "<appcache-prompt></appcache-prompt>" in QUART["templates/index.html"]
    assert 'APPCACHE_SW_PROMPT"] = True' in QUART["app.py"]
    assert "sw_prompt=True" in FASTAPI["main.py"]
    for app in (QUART["app.py"], FASTAPI["main.py"]):
        assert "appcache.add_routes()" in app
        assert "appcache.add_static()" in app


@pytest.mark.parametrize(
    ("kind", "module", "shown"), [("hypercorn", "app:app", QUART), ("uvicorn", "main:app", FASTAPI)]
)
async def test_a_quick_start_serves_the_page_and_the_worker_and_works_offline(
    browser: Browser, tmp_path: Path, kind: str, module: str, shown: dict[str, str]
) -> None:
    root = paste(tmp_path / "quickstart", shown)
    with serve(root, kind=kind, module=module, logs=tmp_path / "logs") as server:
        page_html = httpx.get(server.url + "/").text
        assert '<script src="/appcache.js" data-sw="/sw.js"' in page_html
        worker = httpx.get(server.url + "/sw.js")
        assert worker.status_code == 200
        assert worker.headers["content-type"].startswith("text/javascript")
        (tmp_path / "sw.js").write_text(worker.text)
        subprocess.run(["node", "--check", str(tmp_path / "sw.js")], check=True, timeout=30)
        precached = {e["url"] for e in httpx.get(server.url + "/precache-manifest.json").json()}
        # add_routes() found the two pages (FastAPI's /docs and /openapi.json
        # are not app pages), add_static() the script.
        assert {e for e in precached if not e.startswith("/appcache")} == {
            "/",
            "/offline",
            "/static/app.js",
        }

        context = await browser.new_context()
        page = await open_controlled(context, server.url + "/")
        assert await page.text_content("h1") == "Notes"
        await context.set_offline(True)
        await page.reload()
        assert await page.text_content("h1") == "Notes"
        await page.goto(server.url + "/never-seen")
        assert await page.text_content("h1") == "You are offline."
        # The prompt is wired up: a new version shows it, with Reload.
        await page.goto(server.url + "/")
        await page.evaluate(
            "window.dispatchEvent(new CustomEvent('appcache:update-ready', "
            "{detail: {version: 'next'}}))"
        )
        await wait_prompt(page, "A new version is available.")
        assert await page.is_visible("appcache-prompt .reload")
        await context.close()


NOTES = files(section("Offline writes"))


async def test_the_offline_notes_form_saves_a_note_once(browser: Browser, tmp_path: Path) -> None:
    import sqlite3

    assert set(NOTES) == {"notes.py", "templates/notes.html", "static/notes.js"}
    root = paste(tmp_path / "notes", NOTES)
    with serve(root, module="notes:app", workers=2, logs=tmp_path / "logs") as server:
        context = await browser.new_context()
        page = await open_controlled(context, server.url + "/")
        await context.set_offline(True)
        await page.fill("input[name=text]", "written on a train")
        await page.click("button")
        await page.wait_for_selector("li:has-text('written on a train (waiting to be sent)')")
        await context.set_offline(False)  # the page goes online: the worker replays
        await page.wait_for_selector("li:has-text('written on a train (saved as #1)')")
        await context.close()
        with sqlite3.connect(root / "notes.sqlite3") as db:
            rows = db.execute("SELECT id, text FROM notes").fetchall()
        assert rows == [(1, "written on a train")]
        assert server.requests().count("POST /api/notes") == 1
