"""The idempotency middleware on both adapters: a queued write runs once per key.

The notes app (tests/notes_app.py) counts every call of its handler in its own
SQLite database, so each test states how often the write really ran.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quart_appcache import ConfigError

from ..e2e.servers import free_port
from ..notes_app import Notes, make_fastapi, make_quart

FRAMEWORKS = ("quart", "fastapi")


def notes_app(framework: str, root: Path, **settings: Any) -> tuple[Any, Notes]:
    settings.setdefault("queue_store", "memory")
    make = make_quart if framework == "quart" else make_fastapi
    app = make(root, root / "notes.sqlite3", **settings)
    notes = app.notes if framework == "quart" else app.state.notes
    return app, notes


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def http(framework: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Notes]]:
    app, notes = notes_app(framework, tmp_path)
    async for client in client_for(app):
        yield client, notes


def post(
    http: httpx.AsyncClient, body: dict[str, Any], key: str | None, path: str = "/api/notes"
) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return http.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json", **headers}
    )


async def test_a_replayed_key_gets_the_stored_answer_and_the_handler_runs_once(
    http: tuple[httpx.AsyncClient, Notes],
) -> None:
    client, notes = http
    key = str(uuid.uuid4())
    first = await post(client, {"text": "train"}, key)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = await post(client, {"text": "train"}, key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert (notes.calls("train"), notes.rows("train")) == (1, 1)
    # Another key is another write.
    other = await post(client, {"text": "train"}, str(uuid.uuid4()))
    assert other.json()["id"] != first.json()["id"]
    assert notes.rows("train") == 2


async def test_requests_without_the_key_or_outside_the_rules_pass_through(
    http: tuple[httpx.AsyncClient, Notes],
) -> None:
    client, notes = http
    for _ in range(2):
        assert (await post(client, {"text": "plain"}, None)).status_code == 201
    assert notes.calls("plain") == 2
    # A GET with a key is not a write under the rule: untouched.
    for _ in range(2):
        answer = await client.get("/api/notes", headers={"Idempotency-Key": "k"})
        assert answer.status_code == 200
        assert "idempotent-replayed" not in answer.headers


async def test_the_same_key_with_another_body_is_422(
    http: tuple[httpx.AsyncClient, Notes],
) -> None:
    client, notes = http
    key = str(uuid.uuid4())
    assert (await post(client, {"text": "one"}, key)).status_code == 201
    mismatch = await post(client, {"text": "two"}, key)
    assert mismatch.status_code == 422
    assert key in mismatch.json()["error"]
    assert "another request" in mismatch.json()["error"]
    assert notes.calls("two") == 0


async def test_two_requests_at_once_with_one_key_run_the_write_once(
    http: tuple[httpx.AsyncClient, Notes],
) -> None:
    client, notes = http
    key = str(uuid.uuid4())
    body = {"text": "race", "delay": 0.3}
    first, second = await asyncio.gather(post(client, body, key), post(client, body, key))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert (notes.calls("race"), notes.rows("race")) == (1, 1)


async def test_a_5xx_answer_is_not_kept_and_the_retry_runs_the_write(
    http: tuple[httpx.AsyncClient, Notes],
) -> None:
    client, notes = http
    key = str(uuid.uuid4())
    body = {"text": "flaky", "fail_first": True}
    assert (await post(client, body, key)).status_code == 500
    retried = await post(client, body, key)
    assert retried.status_code == 201
    assert (await post(client, body, key)).headers["idempotent-replayed"] == "true"
    assert (notes.calls("flaky"), notes.rows("flaky")) == (2, 1)


async def test_a_4xx_answer_is_kept(http: tuple[httpx.AsyncClient, Notes]) -> None:
    client, notes = http
    key = str(uuid.uuid4())
    body = {"text": "refused", "status": 409}
    assert (await post(client, body, key)).status_code == 409
    again = await post(client, body, key)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (409, "true")
    assert notes.calls("refused") == 1


async def test_a_bad_key_is_400(http: tuple[httpx.AsyncClient, Notes]) -> None:
    client, notes = http
    answer = await post(client, {"text": "long"}, "k" * 256)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.text
    assert notes.calls("long") == 0


async def test_an_answer_over_the_limit_is_replayed_without_its_body(
    framework: str, tmp_path: Path
) -> None:
    app, notes = notes_app(framework, tmp_path, queue_max_answer=10)
    async for client in client_for(app):
        key = str(uuid.uuid4())
        first = await post(client, {"text": "a long enough answer"}, key)
        assert first.status_code == 201
        assert len(first.content) > 10  # the client got all of it the first time
        again = await post(client, {"text": "a long enough answer"}, key)
        assert (again.status_code, again.content) == (201, b"")
        assert again.headers["idempotent-replayed"] == "true"
        assert notes.calls("a long enough answer") == 1


async def test_a_store_that_fails_answers_503_and_never_runs_the_write(
    framework: str, tmp_path: Path
) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    app, notes = notes_app(framework, tmp_path, queue_store=unreachable)
    async for client in client_for(app):
        answer = await post(client, {"text": "lost"}, str(uuid.uuid4()))
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert notes.calls("lost") == 0
        # Without a key nothing is recorded, so nothing is asked of the store.
        assert (await post(client, {"text": "lost"}, None)).status_code == 201


async def test_startup_fails_naming_an_unreachable_store(framework: str, tmp_path: Path) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    app, _ = notes_app(framework, tmp_path, queue_store=unreachable)
    if framework == "quart":
        from quart.testing.app import LifespanError

        with pytest.raises(
            LifespanError,
            match=r"APPCACHE_QUEUE_STORE is 'redis://127\.0\.0\.1:\d+/0', and it cannot be reached \(ConnectionError: .*\)\. Start it",
        ):
            async with app.test_app():
                pass
    else:
        from quart_appcache.starlette.host import LifespanError as StarletteLifespanError

        from ..starlette_apps import started

        with pytest.raises(
            StarletteLifespanError,
            match=r"Appcache\(queue_store=...\) is 'redis://127\.0\.0\.1:\d+/0', and it cannot be reached",
        ):
            async with started(app):
                pass


async def test_the_default_store_is_sqlite_in_the_app_folder(
    framework: str, tmp_path: Path
) -> None:
    app, notes = notes_app(framework, tmp_path, queue_store=None)
    async for client in client_for(app):
        key = str(uuid.uuid4())
        for _ in range(2):
            assert (await post(client, {"text": "kept"}, key)).status_code == 201
        assert notes.calls("kept") == 1
    expected = (
        tmp_path / "instance" / "appcache-queue.sqlite3"
        if framework == "quart"
        else tmp_path / "appcache-queue.sqlite3"
    )
    assert expected.exists()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("/api", r"APPCACHE_QUEUE is '/api'; give a list of rules"),
        ([{"match": "api"}], r"APPCACHE_QUEUE\[0\]\['match'\]"),
        ([{"match": "/a", "methods": ["GET"]}], r"APPCACHE_QUEUE\[0\]\['methods'\] holds 'GET'"),
        ([{"match": "/a", "methods": "POST"}], r"APPCACHE_QUEUE\[0\]\['methods'\] is 'POST'"),
        ([{"match": "/a", "max_age": 0}], r"APPCACHE_QUEUE\[0\]\['max_age'\] is 0"),
        ([{"match": "/a", "name": "two words"}], r"APPCACHE_QUEUE\[0\]\['name'\]"),
        (
            [{"match": "/a"}, {"match": "/b", "name": "queue-0"}],
            r"APPCACHE_QUEUE\[1\] has the name",
        ),
        (
            [{"match": "/a", "strategy": "x"}],
            r"APPCACHE_QUEUE\[0\] has the unknown member 'strategy'",
        ),
    ],
)
def test_a_bad_rule_is_refused_at_init(tmp_path: Path, rule: object, message: str) -> None:
    from quart import Quart

    from quart_appcache import Appcache
    from quart_appcache.starlette import Appcache as StarletteAppcache

    app = Quart("bad", root_path=str(tmp_path))
    app.config["APPCACHE_QUEUE"] = rule
    with pytest.raises(ConfigError, match=message):
        Appcache(app)
    keyword = message.replace("APPCACHE_QUEUE", r"Appcache\(queue=...\)", 1)
    with pytest.raises(ConfigError, match=keyword):
        StarletteAppcache(queue=rule)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("postgres://x", r"APPCACHE_QUEUE_STORE is 'postgres://x'; give 'sqlite:///"),
        ("sqlite:///", r"APPCACHE_QUEUE_STORE is 'sqlite:///'"),
        (3, r"APPCACHE_QUEUE_STORE is 3"),
    ],
)
def test_a_bad_store_is_refused_at_init(tmp_path: Path, store: object, message: str) -> None:
    from quart import Quart

    from quart_appcache import Appcache

    app = Quart("bad", root_path=str(tmp_path))
    app.config["APPCACHE_QUEUE"] = [{"match": "/api/"}]
    app.config["APPCACHE_QUEUE_STORE"] = store
    with pytest.raises(ConfigError, match=message):
        Appcache(app)


def test_the_documented_fastapi_settings_are_taken() -> None:
    from fastapi import FastAPI
    from fastapi.templating import Jinja2Templates

    from quart_appcache.starlette import Appcache as StarletteAppcache
    from quart_appcache.starlette import get_appcache

    page = (Path(__file__).parents[2] / "docs" / "offline-writes.md").read_text()
    snippet = page.split("With FastAPI or Starlette:", 1)[1].split("```python\n", 1)[1]
    snippet = snippet.split("```", 1)[0]
    app = FastAPI()
    templates = Jinja2Templates(directory=".")
    exec(snippet, {"app": app, "templates": templates, "Appcache": StarletteAppcache})
    settings = get_appcache(app).settings
    assert [(rule.match, rule.methods, rule.max_age) for rule in settings.queue] == [
        ("/api/notes", ("POST", "PUT"), 3600.0)
    ]
    assert settings.queue_store == "redis://127.0.0.1:6379/0"


async def test_a_key_still_running_past_the_wait_is_409_with_retry_after(
    http: tuple[httpx.AsyncClient, Notes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from quart_appcache import idempotency

    monkeypatch.setattr(idempotency, "WAIT", 0.2)
    client, notes = http
    key = str(uuid.uuid4())
    body = {"text": "slow", "delay": 1.0}
    first = asyncio.ensure_future(post(client, body, key))
    for _ in range(100):  # until the first one runs
        if notes.calls("slow"):
            break
        await asyncio.sleep(0.01)
    second = await post(client, body, key)
    assert second.status_code == 409
    assert second.headers["retry-after"] == "1"
    assert "still running" in second.json()["error"]
    assert (await first).status_code == 201
    third = await post(client, body, key)
    assert (third.status_code, third.headers["idempotent-replayed"]) == (201, "true")
    assert notes.calls("slow") == 1


async def test_show_lists_the_queued_writes_and_their_store(framework: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from quart_appcache.cli import run_show

    from .test_contract import _command

    app, _ = notes_app(framework, tmp_path)
    extension = app.extensions["appcache"] if framework == "quart" else app.state.appcache
    site = extension.site(app)
    result = await asyncio.to_thread(CliRunner().invoke, _command(lambda: run_show(site, False)))
    assert result.exit_code == 0, result.output
    tail = result.output.split("writes queued offline, applied once (answers in memory):\n", 1)[1]
    assert tail.splitlines() == [
        "  POST, PUT under /api/notes (queue 'notes', kept 86400 s)",
        "  POST, PUT, PATCH, DELETE under /api/drafts (queue 'drafts', kept 2 s)",
    ]
