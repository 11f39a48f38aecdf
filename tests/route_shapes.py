"""The same route shapes on FastAPI and on Quart (with blueprints): pages, a JSON
API, a download, an OAuth-style callback, a form target, a personal page, a
broken page, a page with a parameter and static folders, for ``add_routes()``,
``add_static()`` and the worker's non-pages. Also served by the browser tests
(``python -m`` free: import ``tests.route_shapes`` with the repository on the path).
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

PDF = b"%PDF-1.4\n% a tiny report\n"
# The pages add_routes() finds on each, in route order (static files aside).
FASTAPI_PAGES = ["/", "/about", "/offline"]
QUART_PAGES = ["/", "/about", "/offline", "/shop/"]
# The non-pages both route maps give (as the worker's patterns).
NON_PAGES = ["^/api/items$", "^/download$", "^/auth/callback$", "^/submit$"]


def _files(root: Path) -> None:
    for path, text in {
        "static/app.js": "console.log('app');\n",
        "static/vendor.3f9a1c2b.js": "console.log('vendor');\n",
        "shop_static/shop.css": "body { color: teal; }\n",
        "files/other.txt": "not in the bundle\n",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "report.pdf").write_bytes(PDF)


def _page(title: str) -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title>"
        '<script src="/appcache.js" data-sw="/sw.js" data-scope="/" defer></script></head>'
        f'<body><h1 id="title">{title}</h1></body></html>'
    )


def fastapi_app(root: Path, **settings: Any) -> Any:
    """A FastAPI app of every shape; ``app.state.calls`` counts each view's calls."""
    from fastapi import APIRouter, FastAPI
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from quart_appcache.starlette import Appcache

    _files(root)
    app = FastAPI()
    calls: collections.Counter[str] = collections.Counter()
    app.state.calls = calls

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        calls["/"] += 1
        return _page("Home")

    # No response class, no annotation: only a render can tell.
    @app.get("/about")
    async def about():  # type: ignore[no-untyped-def]
        calls["/about"] += 1
        return HTMLResponse(_page("About"))

    @app.get("/offline", response_class=HTMLResponse)
    async def offline() -> str:
        return _page("You are offline")

    api = APIRouter(prefix="/api")

    @api.get("/items")
    async def items() -> list[dict[str, int]]:
        calls["/api/items"] += 1
        return [{"id": 1}]

    app.include_router(api)

    @app.get("/download")
    async def download() -> FileResponse:
        return FileResponse(root / "report.pdf", media_type="application/pdf")

    @app.get("/auth/callback")
    async def callback(code: str = ""):  # type: ignore[no-untyped-def]
        calls["/auth/callback"] += 1
        return RedirectResponse("/" if code else "/login")

    @app.post("/submit")
    async def submit() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/account", response_class=HTMLResponse)
    async def account() -> HTMLResponse:
        response = HTMLResponse(_page("Your account"))
        response.set_cookie("session", "abc")
        return response

    @app.get("/broken", response_class=HTMLResponse)
    async def broken() -> str:
        raise RuntimeError("a bug")

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    async def item(item_id: int) -> str:
        return _page(f"Item {item_id}")

    app.mount("/static", StaticFiles(directory=root / "static"), name="static")
    app.mount("/files", StaticFiles(directory=root / "files"), name="files")
    sub = FastAPI()

    @sub.get("/")
    async def sub_index() -> dict[str, str]:
        return {"sub": "api"}

    app.mount("/sub", sub)
    appcache = Appcache(app, fallback={"/": "/offline"}, base_dir=root, **settings)
    appcache.add_routes()
    appcache.add_static()
    return app


def quart_app(root: Path, **config: Any) -> Any:
    """The same shapes on Quart, one part in a blueprint with its own static folder."""
    from quart import Blueprint, Quart, jsonify, redirect, request, send_file

    from quart_appcache import Appcache

    _files(root)
    app = Quart("shapes", root_path=str(root))
    app.config.update(APPCACHE_FALLBACK={"/": "/offline"}, **config)
    calls: collections.Counter[str] = collections.Counter()
    app.config["CALLS"] = calls

    @app.route("/")
    async def index() -> str:
        calls["/"] += 1
        return _page("Home")

    @app.route("/about")
    async def about() -> str:
        calls["/about"] += 1
        return _page("About")

    @app.route("/offline")
    async def offline() -> str:
        return _page("You are offline")

    @app.route("/api/items")
    async def items() -> Any:
        calls["/api/items"] += 1
        return jsonify([{"id": 1}])

    @app.route("/download")
    async def download() -> Any:
        return await send_file(root / "report.pdf", mimetype="application/pdf")

    @app.route("/auth/callback")
    async def callback() -> Any:
        calls["/auth/callback"] += 1
        return redirect("/" if request.args.get("code") else "/login")

    @app.route("/submit", methods=["POST"])
    async def submit() -> Any:
        return {"ok": True}

    @app.route("/account")
    async def account() -> Any:
        response = await app.make_response(_page("Your account"))
        response.set_cookie("session", "abc")
        return response

    @app.route("/broken")
    async def broken() -> str:
        raise RuntimeError("a bug")

    @app.route("/items/<int:item_id>")
    async def item(item_id: int) -> str:
        return _page(f"Item {item_id}")

    shop = Blueprint(
        "shop", "shapes_shop", url_prefix="/shop", static_folder=str(root / "shop_static")
    )

    @shop.route("/")
    async def shop_index() -> str:
        return _page("Shop")

    app.register_blueprint(shop)
    appcache = Appcache(app)
    appcache.add_routes()
    appcache.add_static()
    return app
