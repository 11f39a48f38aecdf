"""APPCACHE_MAX_ENTRY_BYTES: a tracked file or view over it fails, on both adapters."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from quart_appcache import ConfigError, EntryTooLargeError

from .test_contract import Adapter

LIMIT = 1000


@pytest.fixture(params=["quart", "starlette"])
def adapter_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def big_app(name: str, root: Path, **settings: Any) -> Adapter:
    adapter = Adapter(name, root, **settings)
    (root / "static" / "big.bin").write_bytes(b"x" * (LIMIT + 1))
    adapter.declare()
    return adapter


async def test_a_file_over_the_limit_fails_finalize_and_build(
    adapter_name: str, tmp_path: Path
) -> None:
    adapter = big_app(adapter_name, tmp_path / "app", max_entry_bytes=LIMIT)
    key = "APPCACHE_MAX_ENTRY_BYTES" if adapter_name == "quart" else "Appcache(max_entry_bytes=...)"
    with pytest.raises(EntryTooLargeError) as caught:
        await adapter.appcache.finalize()
    assert caught.value.url == "/static/big.bin"
    assert caught.value.size == LIMIT + 1
    message = str(caught.value)
    assert f"'/static/big.bin': it is 1,001 bytes, over {key} (1,000 bytes)" in message
    assert "add_excluded_urls('/static/big.bin')" in message
    assert f"or raise {key}" in message
    result = await asyncio.to_thread(adapter.build, tmp_path / "build")
    assert result.exit_code == 1
    assert "Cannot cache '/static/big.bin': it is 1,001 bytes" in result.output
    # Excluding it, or no limit, lets the rest through.
    adapter.appcache.add_excluded_urls("/static/big.bin")
    await adapter.appcache.finalize()
    free = big_app(adapter_name, tmp_path / "free", max_entry_bytes=None)
    await free.appcache.finalize()
    assert "/static/big.bin" in free.appcache.urls


async def test_a_view_over_the_limit_fails_and_the_debug_manifest_answers_500(
    adapter_name: str, tmp_path: Path
) -> None:
    adapter = Adapter(adapter_name, tmp_path / "app", max_entry_bytes=LIMIT)
    adapter.pages["/"] = "<p>" + "x" * LIMIT + "</p>"
    adapter.declare()
    (tmp_path / "app" / "static" / "app.js").write_text("small")
    response = await adapter.get("/manifest.appcache")
    assert response.status_code == 500
    with pytest.raises(EntryTooLargeError, match=r"Cannot cache '/': it is 1,007 bytes"):
        await adapter.appcache.finalize()


def test_the_limit_is_checked_where_it_is_set(tmp_path: Path) -> None:
    for bad in (0, -1, 1.5, "16M", True):
        with pytest.raises(ConfigError, match=r"max_entry_bytes|MAX_ENTRY_BYTES"):
            Adapter("starlette", tmp_path / "s", max_entry_bytes=bad)
        with pytest.raises(ConfigError, match=r"APPCACHE_MAX_ENTRY_BYTES is"):
            Adapter("quart", tmp_path / "q", max_entry_bytes=bad)
