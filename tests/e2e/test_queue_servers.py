"""Exactly once across processes: two servers sharing one answer store (SQLite or Redis).

Two uvicorn processes of the notes app (tests/notes_app.py), each on its own
port, share the app's database and the answer store, as workers on one host
(SQLite) or app processes on two hosts (Redis) do.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from ..notes_app import Notes
from .servers import REPO, Server, serve

pytestmark = pytest.mark.server

SETUPS = [(framework, store) for framework in ("quart", "fastapi") for store in ("sqlite", "redis")]


@pytest.fixture(scope="module", params=SETUPS, ids=lambda setup: "-".join(setup))
def two_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server, Notes]]:
    framework, kind = request.param
    root = tmp_path_factory.mktemp(f"{framework}-{kind}")
    store = (
        request.getfixturevalue("redis_url")
        if kind == "redis"
        else "sqlite:///" + str(root / "answers.sqlite3")
    )
    env = {
        "NOTES_ROOT": str(root),
        "NOTES_DB": str(root / "notes.sqlite3"),
        "NOTES_STORE": store,
        "PYTHONPATH": str(REPO),
    }
    notes = Notes(root / "notes.sqlite3")
    (root / "notes_server.py").write_text(
        f"from tests.notes_app import from_environment\n\napp = from_environment({framework!r})\n"
    )
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(serve(root, kind="uvicorn", module="notes_server:app", env=env))
            for _ in range(2)
        )
        yield first, second, notes


async def post(
    client: httpx.AsyncClient, url: str, body: dict[str, object], key: str
) -> httpx.Response:
    return await client.post(
        url + "/api/notes",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


async def test_two_processes_racing_with_one_key_run_the_write_once(
    two_servers: tuple[Server, Server, Notes],
) -> None:
    first, second, notes = two_servers
    text, key = f"race {uuid.uuid4()}", str(uuid.uuid4())
    body = {"text": text, "delay": 0.5}
    async with httpx.AsyncClient(timeout=30) as client:
        one, two = await asyncio.gather(
            post(client, first.url, body, key), post(client, second.url, body, key)
        )
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json() == two.json()
    replayed = [r.headers.get("idempotent-replayed") for r in (one, two)]
    assert sorted(replayed, key=str) == [None, "true"]
    assert (notes.calls(text), notes.rows(text)) == (1, 1)


async def test_a_key_answered_by_one_process_is_replayed_by_the_other(
    two_servers: tuple[Server, Server, Notes],
) -> None:
    first, second, notes = two_servers
    text, key = f"replay {uuid.uuid4()}", str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=30) as client:
        answered = await post(client, first.url, {"text": text}, key)
        replayed = await post(client, second.url, {"text": text}, key)
        other = await post(client, second.url, {"text": text + " changed"}, key)
    assert answered.status_code == replayed.status_code == 201
    assert replayed.json() == answered.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422
    assert (notes.calls(text), notes.rows(text)) == (1, 1)
