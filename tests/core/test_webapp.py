"""Installable apps: the web app manifest, icons from one source image, appcache_head()."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from quart import Quart

from quart_appcache import Appcache, ConfigError
from quart_appcache import extension_files as own_module
from quart_appcache.build import RECORD
from quart_appcache.hashing import revision_of

from ..conftest import AppFactory, write

MEMBERS = {"name": "Field Notes", "theme_color": "#22aa66", "background_color": "navy"}
ICON_NAMES = [
    "icon-192.png",
    "icon-512.png",
    "icon-maskable-512.png",
    "apple-touch-icon.png",
    "favicon-32.png",
]


def source_png(path: Path, size: int = 512, *, transparent_corners: bool = True) -> Path:
    """A square test image: a red disc on a transparent background."""
    image = Image.new(
        "RGBA", (size, size), (0, 0, 0, 0) if transparent_corners else (0, 0, 255, 255)
    )
    for x in range(size):
        for y in range(size):
            if (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size * 0.45) ** 2:
                image.putpixel((x, y), (220, 20, 20, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def icon_app(make_app: AppFactory, tmp_path: Path):  # type: ignore[no-untyped-def]
    source_png(tmp_path / "app" / "icon.png")

    def make(**config: Any) -> tuple[Quart, Appcache]:
        config.setdefault("APPCACHE_WEB_MANIFEST", dict(MEMBERS))
        config.setdefault("APPCACHE_ICON", "icon.png")
        app, appcache = make_app(**config)
        appcache.add_urls("/")
        return app, appcache

    return make


async def get(app: Quart, url: str) -> Any:
    response = await app.test_client().get(url)
    assert response.status_code == 200, url
    return response


async def test_the_manifest_fills_in_defaults_and_lists_the_icons(icon_app) -> None:  # type: ignore[no-untyped-def]
    app, _ = icon_app()
    response = await get(app, "/manifest.webmanifest")
    assert response.headers["Content-Type"] == "application/manifest+json"
    manifest = json.loads(await response.get_data())
    precache = json.loads(await (await get(app, "/precache-manifest.json")).get_data())
    token = next(e["url"] for e in precache if "icon-192" in e["url"]).split("?v=")[1]
    assert manifest == {
        **MEMBERS,
        "short_name": "Field Notes",
        "start_url": "./",  # relative: right at the root and under a URL prefix
        "scope": "./",
        "display": "standalone",
        "icons": [
            {
                "src": f"./appcache-icons/icon-192.png?v={token}",
                "sizes": "192x192",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": f"./appcache-icons/icon-512.png?v={token}",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": f"./appcache-icons/icon-maskable-512.png?v={token}",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    # The manifest and every icon are precached, with their revisions.
    listed = {e["url"]: e["revision"] for e in precache}
    body = await response.get_data()
    assert listed["/manifest.webmanifest"] == revision_of(body)
    for name in ICON_NAMES:
        icon = await get(app, f"/appcache-icons/{name}")
        assert icon.headers["Content-Type"] == "image/png"
        assert listed[f"/appcache-icons/{name}?v={token}"] == revision_of(await icon.get_data())
    again = await app.test_client().get(
        "/manifest.webmanifest", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    assert (await app.test_client().get("/appcache-icons/other.png")).status_code == 404


async def test_members_pass_through_and_own_icons_win(icon_app) -> None:  # type: ignore[no-untyped-def]
    members = {
        **MEMBERS,
        "short_name": "Notes",
        "start_url": "/notes/",
        "display": "minimal-ui",
        "lang": "en",
        "id": "/notes/",
        "categories": ["productivity"],
        "shortcuts": [{"name": "New", "url": "/notes/new"}],
        "icons": [{"src": "/static/mine.png", "sizes": "512x512"}],
    }
    app, _ = icon_app(APPCACHE_WEB_MANIFEST=members)
    manifest = json.loads(await (await get(app, "/manifest.webmanifest")).get_data())
    assert manifest == {**members, "scope": "./"}
    # The generated icons are still served and precached for the head tags.
    await get(app, "/appcache-icons/apple-touch-icon.png")


async def test_a_manifest_without_icons_and_icons_without_a_manifest(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app, _ = make_app(APPCACHE_WEB_MANIFEST={"name": "Plain"})
    manifest = json.loads(await (await get(app, "/manifest.webmanifest")).get_data())
    assert "icons" not in manifest
    assert (await app.test_client().get("/appcache-icons/icon-192.png")).status_code == 404
    source_png(tmp_path / "app" / "icon.png")
    only_icons, _ = make_app(APPCACHE_ICON="icon.png")
    assert (await only_icons.test_client().get("/manifest.webmanifest")).status_code == 404
    await get(only_icons, "/appcache-icons/favicon-32.png")


async def test_icons_have_their_sizes_modes_and_opacity(icon_app) -> None:  # type: ignore[no-untyped-def]
    app, _ = icon_app()
    icons = {}
    for name in ICON_NAMES:
        data = await (await get(app, f"/appcache-icons/{name}")).get_data()
        icons[name] = Image.open(io.BytesIO(data))
    assert {name: icon.size for name, icon in icons.items()} == {
        "icon-192.png": (192, 192),
        "icon-512.png": (512, 512),
        "icon-maskable-512.png": (512, 512),
        "apple-touch-icon.png": (180, 180),
        "favicon-32.png": (32, 32),
    }
    # "any" icons keep the source's transparency.
    assert icons["icon-512.png"].mode == "RGBA"
    assert icons["icon-512.png"].getpixel((0, 0))[3] == 0
    # The maskable and apple-touch icons are fully opaque, on background_color (navy).
    navy = (0, 0, 128)
    for name in ("icon-maskable-512.png", "apple-touch-icon.png"):
        icon = icons[name]
        assert icon.mode == "RGB", name
        assert icon.getpixel((0, 0)) == navy, name
    # The maskable icon's image stays inside the safe zone (radius 40% of the size).
    maskable = icons["icon-maskable-512.png"]
    red = [
        (x, y)
        for x in range(0, 512, 4)
        for y in range(0, 512, 4)
        if maskable.getpixel((x, y))[0] > 150 and maskable.getpixel((x, y))[2] < 100
    ]
    assert red
    assert max(((x - 256) ** 2 + (y - 256) ** 2) ** 0.5 for x, y in red) <= 0.4 * 512
    assert maskable.getpixel((256, 256))[0] > 150  # the centre is the image


async def test_the_fill_is_white_without_a_background_color(icon_app) -> None:  # type: ignore[no-untyped-def]
    app, _ = icon_app(APPCACHE_WEB_MANIFEST={"name": "No background"})
    data = await (await get(app, "/appcache-icons/apple-touch-icon.png")).get_data()
    assert Image.open(io.BytesIO(data)).getpixel((0, 0)) == (255, 255, 255)


async def test_the_same_source_gives_the_same_bytes_and_version_everywhere(
    make_app: AppFactory, tmp_path: Path
) -> None:
    versions, bodies = [], []
    for run in ("one", "two"):
        root = tmp_path / run
        source_png(root / "icon.png")
        app = Quart(__name__, root_path=str(root))
        app.config.update(APPCACHE_WEB_MANIFEST=dict(MEMBERS), APPCACHE_ICON="icon.png")
        appcache = Appcache(app)
        versions.append((await appcache.hash())[0])
        bodies.append(
            [await (await get(app, f"/appcache-icons/{n}")).get_data() for n in ICON_NAMES]
        )
    assert versions[0] == versions[1]
    assert bodies[0] == bodies[1]


async def test_debug_regenerates_only_when_the_source_changed(
    icon_app, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    generated: list[int] = []
    real = own_module.generate

    def counting(data: bytes, fill: tuple[int, int, int]) -> dict[str, bytes]:
        generated.append(1)
        return real(data, fill)

    monkeypatch.setattr(own_module, "generate", counting)
    app, appcache = icon_app(debug=True)
    client = app.test_client()
    first = await (await client.get("/manifest.appcache")).get_data()
    await client.get("/appcache-icons/icon-192.png")
    await client.get("/manifest.appcache")
    await appcache.hash()
    assert generated == [1]
    source_png(tmp_path / "app" / "icon.png", transparent_corners=False)  # other pixels
    second_version = (await appcache.hash())[0]
    assert generated == [1, 1]
    assert second_version.encode() not in first
    head = await render_head(app)
    token = json.loads(await (await get(app, "/precache-manifest.json")).get_data())
    assert any(e["url"].split("?v=")[1] in head for e in token if "?v=" in e["url"])


async def render_head(app: Quart) -> str:
    async with app.test_request_context("/"):
        return await app.jinja_env.from_string("{{ appcache_head() }}").render_async()


async def test_appcache_head_emits_every_tag(icon_app) -> None:  # type: ignore[no-untyped-def]
    app, _ = icon_app()
    head = await render_head(app)
    lines = head.splitlines()
    assert lines[0] == '<link rel="manifest" href="/manifest.webmanifest">'
    assert lines[1] == '<meta name="theme-color" content="#22aa66">'
    assert lines[2].startswith(
        '<link rel="apple-touch-icon" href="/appcache-icons/apple-touch-icon.png?v='
    )
    assert lines[3].startswith('<link rel="icon" href="/appcache-icons/favicon-32.png?v=')
    assert lines[3].endswith('sizes="32x32" type="image/png">')
    assert lines[4].startswith('<script src="/appcache.js" data-sw="/sw.js"')
    async with app.test_request_context("/", root_path="/app"):
        prefixed = await app.jinja_env.from_string("{{ appcache_head() }}").render_async()
    assert '<link rel="manifest" href="/app/manifest.webmanifest">' in prefixed
    assert 'href="/app/appcache-icons/apple-touch-icon.png?v=' in prefixed


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"short_name": "x"}, r"APPCACHE_WEB_MANIFEST has no 'name'"),
        ({"name": ""}, r"APPCACHE_WEB_MANIFEST has no 'name'"),
        ("My App", r"APPCACHE_WEB_MANIFEST is 'My App'; give a dict"),
        (
            {"name": "x", "display": "window"},
            r"\['display'\] is 'window'; give one of 'fullscreen'",
        ),
        ({"name": "x", "lang": {1, 2}}, r"\['lang'\] is \{1, 2\}, which is not JSON"),
        ({"name": "x", "x": float("nan")}, r"\['x'\] is nan, which is not JSON"),
        (
            {"name": "x", "theme_color": "greenish"},
            r"\['theme_color'\] is 'greenish', which is not a CSS colour",
        ),
        ({"name": "x", "background_color": "#12345"}, r"\['background_color'\] is '#12345'"),
    ],
)
def test_bad_manifests_are_refused_at_init_app(
    make_app: AppFactory, members: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_app(APPCACHE_WEB_MANIFEST=members)


@pytest.mark.parametrize(
    "color",
    [
        "teal",
        "RebeccaPurple",
        "#2a6",
        "#2a6f",
        "#22aa66",
        "#22aa66cc",
        "rgb(1, 2, 3)",
        "rgba(1, 2, 3, 0.5)",
        "rgb(10% 20% 30% / 50%)",
        "hsl(120, 50%, 50%)",
        "hsla(120deg 50% 50% / 0.3)",
    ],
)
def test_css_colours_are_accepted(make_app: AppFactory, color: str) -> None:
    make_app(APPCACHE_WEB_MANIFEST={"name": "x", "theme_color": color, "background_color": color})


def test_bad_icon_sources_are_refused_at_init_app(make_app: AppFactory, tmp_path: Path) -> None:
    root = tmp_path / "app"
    write(root / "not-an-image.png", "hello")
    source_png(root / "small.png", size=256)
    wide = Image.new("RGBA", (600, 512))
    wide.save(root / "wide.png")
    Image.new("RGB", (512, 512)).save(root / "photo.jpg")
    cases = {
        "missing.png": r"APPCACHE_ICON is '.*missing.png', which cannot be read: No such file",
        "not-an-image.png": r"not-an-image.png', which is not an image",
        "small.png": r"small.png', which is 256x256 pixels; give at least 512x512",
        "wide.png": r"wide.png', which is 600x512 pixels: not square",
        "photo.jpg": r"photo.jpg', a JPEG image; give a square PNG",
    }
    for name, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            make_app(APPCACHE_ICON=name)


def test_without_pillow_the_error_names_the_extra(tmp_path: Path) -> None:
    source_png(tmp_path / "icon.png")
    script = textwrap.dedent(
        f"""
        import sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "PIL":
                    raise ModuleNotFoundError("No module named 'PIL' (blocked)", name=name)

        sys.meta_path.insert(0, Blocker())
        from quart import Quart
        from quart_appcache import Appcache
        app = Quart(__name__, root_path={str(tmp_path)!r})
        app.config["APPCACHE_ICON"] = "icon.png"
        Appcache(app)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "ConfigError: APPCACHE_ICON needs Pillow" in done.stderr
    assert "pip install 'quart-appcache[icons]'" in done.stderr


def test_cli_show_lists_and_build_writes_the_icons(icon_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _ = icon_app()
    shown = app.test_cli_runner().invoke(args=["appcache", "show"])
    assert shown.exit_code == 0, shown.output
    for name in ICON_NAMES:
        assert f"/appcache-icons/{name}?v=" in shown.output
    assert "/manifest.webmanifest" in shown.output
    out = tmp_path / "build"
    built = app.test_cli_runner().invoke(args=["appcache", "build", "-o", str(out)])
    assert built.exit_code == 0, built.output
    files = {p.name for p in (out / "own").iterdir()}
    assert {name.removesuffix(".gz") for name in files} == {
        *ICON_NAMES,
        "manifest.webmanifest",
        "appcache.js",
    }
    assert not [name for name in files if name.endswith(".png.gz")]  # PNGs are compressed
    record = json.loads((out / RECORD).read_text())
    assert "APPCACHE_ICON" in record["fingerprint"]


async def test_a_build_serves_its_icons_without_generating_them(
    icon_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    app, _ = icon_app(APPCACHE_BUILD_DIR=str(tmp_path / "build"))
    # The CLI runs its own event loop, as `quart appcache build` does.
    result = await asyncio.to_thread(app.test_cli_runner().invoke, args=["appcache", "build"])
    assert result.exit_code == 0, result.output
    built = (tmp_path / "build" / "own" / "icon-512.png").read_bytes()

    def refuse(data: bytes, fill: tuple[int, int, int]) -> dict[str, bytes]:
        raise AssertionError("a build's icons are served as built")

    monkeypatch.setattr(own_module, "generate", refuse)
    fresh, _ = icon_app(APPCACHE_BUILD_DIR=str(tmp_path / "build"))
    async with fresh.test_app() as test_app:
        response = await test_app.test_client().get("/appcache-icons/icon-512.png")
        assert await response.get_data() == built
    # Another source image: the build no longer describes the app.
    source_png(tmp_path / "app" / "icon.png", transparent_corners=False)
    monkeypatch.undo()
    stale, _ = icon_app(APPCACHE_BUILD_DIR=str(tmp_path / "build"))
    from quart_appcache import BuildError

    with pytest.raises(BuildError, match="made with APPCACHE_ICON"):
        await stale.startup()
