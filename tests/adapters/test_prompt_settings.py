"""APPCACHE_SW_PROMPT (sw_prompt=): its texts are checked, and reach the page client's tag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_the_prompt_settings_are_checked(tmp_path: Path) -> None:
    from quart import Quart

    from quart_appcache import Appcache, ConfigError
    from quart_appcache.starlette import Appcache as StarletteAppcache

    app = Quart("texts", root_path=str(tmp_path))
    app.config["APPCACHE_SW_PROMPT"] = {"update": "Neue Version.", "reload": "Neu laden"}
    Appcache(app)
    settings = app.extensions["appcache"].site(app).settings
    assert settings.sw_prompt["update"] == "Neue Version."
    assert settings.sw_prompt["dismiss"] == "Later"  # the rest stays English
    for value, message in [
        ({"updte": "x"}, r"APPCACHE_SW_PROMPT has the unknown text 'updte'; the texts are"),
        ({"reload": ""}, r"APPCACHE_SW_PROMPT\['reload'\] is ''; give the text"),
        ("yes", r"APPCACHE_SW_PROMPT is 'yes'; give True, False, or a mapping"),
    ]:
        bad = Quart("bad", root_path=str(tmp_path))
        bad.config["APPCACHE_SW_PROMPT"] = value
        with pytest.raises(ConfigError, match=message):
            Appcache(bad)
    with pytest.raises(ConfigError, match=r"Appcache\(sw_prompt=...\) has the unknown text"):
        StarletteAppcache(sw_prompt={"nope": "x"})
    # The texts reach the page client's tag as JSON, with the theme's accent.
    from quart_appcache.render import sw_registration

    tag = str(sw_registration(settings))
    attribute = tag.split('data-prompt="', 1)[1].split('"', 1)[0].replace("&#34;", '"')
    assert json.loads(attribute)["reload"] == "Neu laden"


def test_the_documented_texts_are_taken(tmp_path: Path) -> None:
    from quart import Quart

    from quart_appcache import Appcache

    page = (Path(__file__).parents[2] / "docs" / "service-worker.md").read_text()
    snippet = page.split("## A ready-made prompt", 1)[1].split("```python\n", 1)[1]
    snippet = snippet.split("```", 1)[0]
    app = Quart("documented", root_path=str(tmp_path))
    exec(snippet, {"app": app})
    Appcache(app)
    texts = app.extensions["appcache"].site(app).settings.sw_prompt
    assert texts["reload"] == "Neu laden"
    assert texts["offline_ready"] == "Offline bereit."
