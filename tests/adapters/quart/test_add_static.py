"""Quart's add_static(): the app's and the blueprints' static folders, under their URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from quart import Blueprint, Quart

from quart_appcache import Appcache, ConfigError

from ...conftest import write


async def test_the_app_and_each_blueprint_static_folder_under_its_url(tmp_path: Path) -> None:
    write(tmp_path / "static" / "app.js", "app")
    write(tmp_path / "admin" / "assets" / "admin.css", "admin")
    write(tmp_path / "admin" / "assets" / ".hidden", "no")
    app = Quart("static_app", root_path=str(tmp_path), static_url_path="/s")
    admin = Blueprint(
        "admin",
        __name__,
        root_path=str(tmp_path / "admin"),
        static_folder="assets",
        static_url_path="/assets",
    )
    app.register_blueprint(admin, url_prefix="/admin")
    plain = Blueprint("plain", __name__)  # no static folder: nothing to add
    app.register_blueprint(plain, url_prefix="/plain")
    appcache = Appcache(app)
    appcache.add_static()
    assert appcache.urls == ("/s/app.js", "/admin/assets/admin.css")
    client = app.test_client()
    for url in appcache.urls:  # the URLs the app really serves them under
        assert (await client.get(url)).status_code == 200, url
    await appcache.finalize()


def test_an_app_without_a_static_folder_is_refused(tmp_path: Path) -> None:
    app = Quart("bare", root_path=str(tmp_path))  # no static/ folder on disk
    appcache = Appcache(app)
    with pytest.raises(ConfigError, match=r"add_static\(\): the app 'bare' has no static folder"):
        appcache.add_static()
