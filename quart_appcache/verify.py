"""``verify URL``: check a live deployment from the outside, through whatever sits in front.

It reads only what the deployment serves: the start page (the page client's
tag, the manifest link, the viewport), the worker and the precache JSON
(same version, same entries, short-lived in HTTP caches, ETags that answer
304, ``Service-Worker-Allowed`` when the worker lies outside its scope),
every entry (downloaded as the worker downloads it and checked against its
revision; no redirect, no ``no-store``, no ``Vary: *``, a ``Content-Encoding``
that matches the bytes) and the web app manifest with its icons. Each problem
is a :class:`Problem` naming the URL, what was expected, what came back and
the likely cause. Needs httpx (the ``verify`` extra); no framework imports.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from .hashing import revision_of

__all__ = ["Problem", "Report", "Unreachable", "verify"]

# An artifact an HTTP cache may keep longer than this delays every update.
MAX_ARTIFACT_AGE = 600
JS_TYPES = ("text/javascript", "application/javascript", "application/x-javascript")
JSON_TYPES = ("application/json", "application/manifest+json")
DISPLAYS = ("fullscreen", "standalone", "minimal-ui", "window-controls-overlay")
# Response headers by which CDNs and proxies say they answered from their cache.
CACHE_STATUS = ("x-cache-status", "x-cache", "cf-cache-status", "x-proxy-cache")
STALE = (
    "served by a cache with another release's bytes: purge the CDN or proxy cache, make "
    "it key on the query string, or give the file a hashed name"
)


class Unreachable(Exception):
    """The start page could not be fetched at all (a usage error: the URL is wrong)."""


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong with the deployment."""

    url: str
    expected: str
    got: str
    cause: str
    severity: str = "error"  # or "warning": reported, but verify still passes


@dataclass
class Report:
    """What ``verify`` found."""

    url: str
    version: str | None = None
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error (warnings allowed)."""
        return not any(problem.severity == "error" for problem in self.problems)

    def as_json(self) -> dict[str, Any]:
        """The machine-readable report (``--json``)."""
        return {
            "url": self.url,
            "ok": self.ok,
            "version": self.version,
            "entries": self.entries,
            "problems": [asdict(problem) for problem in self.problems],
        }


class _Page(HTMLParser):
    """What the start page links: the page client's tag, the manifest, the viewport."""

    def __init__(self) -> None:
        super().__init__()
        self.client: dict[str, str] | None = None
        self.manifest: str | None = None
        self.viewport = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "script" and "data-sw" in found and self.client is None:
            self.client = found
        elif tag == "link" and "manifest" in found.get("rel", "").lower().split():
            self.manifest = found.get("href")
        elif tag == "meta" and found.get("name", "").lower() == "viewport":
            self.viewport = True


def _media(response: httpx.Response) -> str:
    media: str = response.headers.get("content-type", "")
    return media.partition(";")[0].strip().lower()


def _cache_hit(response: httpx.Response) -> str | None:
    for name in CACHE_STATUS:
        value = response.headers.get(name, "")
        if "hit" in value.lower():
            return f"{name}: {value}"
    age = response.headers.get("age", "")
    return f"age: {age}" if age.isdigit() and int(age) > 0 else None


def _worker_value(script: str, name: str) -> Any:
    """A constant the generated worker declares on one line (``const NAME = ...;``)."""
    match = re.search(rf"^const {name} = (.*?)(?: && .*)?;$", script, re.MULTILINE)
    if match is None:
        return None
    text = match.group(1)
    if text.startswith("new Set("):
        text = text.removeprefix("new Set(").removesuffix(")")
    try:
        return json.loads(text)
    except ValueError:
        return None


def _png_size(body: bytes) -> tuple[int, int] | None:
    if body[:8] != b"\x89PNG\r\n\x1a\n" or len(body) < 24:
        return None
    width, height = struct.unpack(">II", body[16:24])
    return width, height


class _Verifier:
    def __init__(self, client: httpx.AsyncClient, report: Report, concurrency: int) -> None:
        self.client = client
        self.report = report
        self.limit = asyncio.Semaphore(concurrency)

    def problem(self, url: str, expected: str, got: str, cause: str, **kw: str) -> None:
        self.report.problems.append(Problem(url, expected, got, cause, **kw))

    async def get(self, url: str, **headers: str) -> httpx.Response | None:
        """A GET, or ``None`` (a problem reported) when it cannot be made or decoded."""
        async with self.limit:
            try:
                response = await self.client.get(url, headers=headers)
                await response.aread()
            except httpx.DecodingError as error:
                self.problem(
                    url,
                    "a body its Content-Encoding describes",
                    f"undecodable ({error})",
                    "a proxy changed the bytes or the encoding header: let it pass files as "
                    "they are",
                )
                return None
            except httpx.HTTPError as error:
                self.problem(url, "an answer", f"{type(error).__name__}: {error}", "unreachable")
                return None
            return response

    def check_artifact(self, url: str, response: httpx.Response, types: Sequence[str]) -> None:
        """The worker or the precache JSON: its type, and short-lived in HTTP caches."""
        media = _media(response)
        if media not in types:
            self.problem(
                url,
                f"Content-Type {types[0]}",
                media or "no Content-Type",
                "browsers refuse a worker of another type; serve it from the app, not as "
                "a static file with a guessed type",
            )
        control = response.headers.get("cache-control", "").lower()
        ages = [int(value) for value in re.findall(r"(?:s-)?max-age=(\d+)", control)]
        if "immutable" in control or any(age > MAX_ARTIFACT_AGE for age in ages):
            self.problem(
                url,
                f"Cache-Control: no-cache (or max-age at most {MAX_ARTIFACT_AGE})",
                f"Cache-Control: {response.headers.get('cache-control')}",
                "a proxy or CDN adds a long cache lifetime: clients see no update until it "
                "expires; exempt this URL from its caching rule",
            )

    async def check_etag(self, url: str, response: httpx.Response) -> None:
        etag = response.headers.get("etag")
        if etag is None:
            self.problem(
                url,
                "an ETag",
                "none",
                "a proxy drops it: every update check downloads the whole file",
                severity="warning",
            )
            return
        again = await self.get(url, **{"if-none-match": etag})
        if again is not None and again.status_code != 304:
            self.problem(
                url,
                f"304 for If-None-Match: {etag}",
                str(again.status_code),
                "a proxy answers conditional requests in full: let If-None-Match through",
            )

    async def check_entry(
        self, entry: dict[str, str], base: str, verified: bool, hashed: re.Pattern[str] | None
    ) -> None:
        url = urljoin(base, entry["url"])
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        fetched = url
        if hashed is None or not hashed.search(name):
            separator = "&" if "?" in url else "?"
            fetched = f"{url}{separator}__appcache_revision={entry['revision']}"
        response = await self.get(fetched, **{"cache-control": "no-cache", "pragma": "no-cache"})
        if response is None:
            return
        status = response.status_code
        if 300 <= status < 400:
            self.problem(
                entry["url"],
                "200",
                f"{status} to {response.headers.get('location')}",
                "browsers refuse a redirected entry: serve it at its own URL",
            )
            return
        if status != 200:
            self.problem(
                entry["url"],
                "200",
                str(status),
                "missing from this deployment: every install fails on it",
            )
            return
        control = response.headers.get("cache-control", "").lower()
        if "no-store" in control:
            self.problem(
                entry["url"],
                "a cachable answer",
                f"Cache-Control: {response.headers.get('cache-control')}",
                "browsers refuse to store it: the install fails",
            )
        if "*" in [part.strip() for part in response.headers.get("vary", "").split(",")]:
            self.problem(
                entry["url"],
                "no Vary: *",
                "Vary: *",
                "the Cache API refuses such an answer: the install fails",
            )
        if not verified or revision_of(response.content) == entry["revision"]:
            return
        retried = await self.get(
            f"{url}{'&' if '?' in url else '?'}__appcache_retry={time.time_ns()}",
            **{"cache-control": "no-store", "pragma": "no-cache"},
        )
        if retried is not None and revision_of(retried.content) == entry["revision"]:
            cause = STALE  # the origin's bytes are right; a cache in between is not
        elif _cache_hit(response) is not None:
            cause = f"{STALE} ({_cache_hit(response)})"
        else:
            cause = (
                "the server answers other bytes than it hashed: a proxy rewrites or "
                "recompresses them, or the servers run different releases"
            )
        self.problem(
            entry["url"],
            f"bytes of revision {entry['revision']}",
            f"bytes of revision {revision_of(response.content)}",
            cause,
        )

    async def check_manifest(self, url: str) -> None:
        response = await self.get(url)
        if response is None:
            return
        if response.status_code != 200:
            self.problem(url, "200", str(response.status_code), "the app cannot be installed")
            return
        try:
            members = json.loads(response.content)
        except ValueError:
            self.problem(url, "a JSON web app manifest", "not JSON", "the app cannot be installed")
            return
        missing = []
        if not (members.get("name") or members.get("short_name")):
            missing.append("name or short_name")
        if not members.get("start_url"):
            missing.append("start_url")
        if members.get("display") not in DISPLAYS:
            missing.append(f"display ({' or '.join(DISPLAYS)})")
        icons = [icon for icon in members.get("icons", []) if isinstance(icon, dict)]
        declared = {size for icon in icons for size in str(icon.get("sizes", "")).split()}
        for size in ("192x192", "512x512"):
            if size not in declared:
                missing.append(f"a {size} icon")
        if missing:
            self.problem(
                url,
                "the members Chromium needs to install the app",
                "missing " + ", ".join(missing),
                "the app cannot be installed",
            )
        await asyncio.gather(*(self.check_icon(urljoin(url, icon["src"]), icon) for icon in icons))

    async def check_icon(self, url: str, icon: dict[str, Any]) -> None:
        response = await self.get(url)
        if response is None:
            return
        if response.status_code != 200:
            self.problem(
                url, "200", str(response.status_code), "an icon of the manifest is missing"
            )
            return
        size = _png_size(response.content)
        sizes = [s for s in str(icon.get("sizes", "")).split() if s != "any"]
        if size is not None and sizes and f"{size[0]}x{size[1]}" not in sizes:
            self.problem(
                url,
                f"a {' or '.join(sizes)} image, as the manifest declares",
                f"{size[0]}x{size[1]}",
                "browsers skip an icon of the wrong size",
            )


async def verify(
    url: str,
    *,
    sw: str | None = None,
    precache: str | None = None,
    concurrency: int = 8,
    timeout: float = 10.0,  # noqa: ASYNC109 (httpx's per-request timeout, not a deadline)
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> Report:
    """Check the deployment at ``url`` (the app's public root, a prefix included).

    Args:
        url: the start page.
        sw, precache: the worker's and the precache JSON's URLs, when the start
            page and the worker do not say where they are.
        concurrency: downloads at a time.
        timeout: seconds per request.
        progress: told each entry done; ``total`` the number of entries.

    Raises:
        Unreachable: the start page could not be fetched.
    """
    root = url if url.endswith("/") else url + "/"
    report = Report(root)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        http2=True, timeout=timeout, limits=limits, follow_redirects=False
    ) as client:
        checker = _Verifier(client, report, concurrency)
        try:
            start = await client.get(root, follow_redirects=True)
        except httpx.HTTPError as error:
            raise Unreachable(f"cannot reach {root}: {type(error).__name__}: {error}") from None
        if start.status_code != 200:
            raise Unreachable(f"{root} answered {start.status_code}; give the app's start page")
        page = _Page()
        page.feed(start.text)
        if not page.viewport:
            checker.problem(
                root,
                '<meta name="viewport" ...>',
                "none",
                "phones render the page zoomed out, and it cannot be installed",
            )
        scope = urljoin(root, (page.client or {}).get("data-scope") or "/")
        if page.client is None and sw is None:
            checker.problem(
                root,
                "the page client's script (appcache_head() or appcache_sw_script())",
                "none",
                "no service worker is ever registered: pass --sw when it is elsewhere",
            )
            return report
        sw_url = urljoin(root, sw or (page.client or {})["data-sw"])
        worker = await checker.get(sw_url)
        if worker is None or worker.status_code != 200:
            if worker is not None:
                checker.problem(sw_url, "200", str(worker.status_code), "no worker to install")
            return report
        checker.check_artifact(sw_url, worker, JS_TYPES)
        await checker.check_etag(sw_url, worker)
        _check_scope(checker, sw_url, scope, worker)
        script = worker.text
        report.version = _worker_value(script, "VERSION")
        entries = _worker_value(script, "ENTRIES") or []
        precache_url = precache or _declared_precache(script)
        if precache_url is not None:
            listed = await checker.get(urljoin(root, precache_url))
            if listed is not None:
                await _check_precache(checker, urljoin(root, precache_url), listed, entries)
        report.entries = len(entries)
        if total is not None:
            total(len(entries))
        unverified = set(_worker_value(script, "UNVERIFIED") or [])
        verifying = _worker_value(script, "VERIFY") is not False
        pattern = _worker_value(script, "HASHED_NAMES")
        hashed = (
            re.compile(pattern[0].replace("(?<", "(?P<"), re.I if "i" in pattern[1] else 0)
            if isinstance(pattern, list)
            else None
        )

        async def one(entry: dict[str, str]) -> None:
            verified = verifying and entry["url"] not in unverified
            await checker.check_entry(entry, root, verified, hashed)
            if progress is not None:
                progress(1)

        work = [one(entry) for entry in entries]
        if page.manifest is not None:
            work.append(checker.check_manifest(urljoin(root, page.manifest)))
        else:
            checker.problem(
                root,
                '<link rel="manifest" ...>',
                "none",
                "the app cannot be installed (set APPCACHE_WEB_MANIFEST)",
                severity="warning",
            )
        await asyncio.gather(*work)
    # Entries by URL, then the rest, so the report reads the same every run.
    report.problems.sort(key=lambda problem: (problem.severity != "error", problem.url))
    return report


def _declared_precache(script: str) -> str | None:
    """The precache JSON's URL, as the generated worker's header names it."""
    match = re.search(r"^ \* precache: (.+)$", script, re.MULTILINE)
    try:
        declared = json.loads(match.group(1)) if match else None
    except ValueError:
        return None
    return declared if isinstance(declared, str) else None


def _check_scope(checker: _Verifier, sw_url: str, scope: str, worker: httpx.Response) -> None:
    """A worker outside its scope needs ``Service-Worker-Allowed`` to take it."""
    folder = urlsplit(sw_url).path.rsplit("/", 1)[0] + "/"
    wanted = urlsplit(scope).path
    if wanted.startswith(folder):
        return
    allowed = worker.headers.get("service-worker-allowed")
    if allowed is None or not wanted.startswith(urlsplit(urljoin(sw_url, allowed)).path):
        checker.problem(
            sw_url,
            f"Service-Worker-Allowed covering {wanted}",
            f"Service-Worker-Allowed: {allowed}" if allowed else "no Service-Worker-Allowed",
            "a proxy drops the header: the worker cannot take its scope and never installs",
        )


async def _check_precache(
    checker: _Verifier, url: str, response: httpx.Response, entries: list[dict[str, str]]
) -> None:
    if response.status_code != 200:
        checker.problem(url, "200", str(response.status_code), "the precache JSON is missing")
        return
    checker.check_artifact(url, response, JSON_TYPES)
    await checker.check_etag(url, response)
    try:
        listed = json.loads(response.content)
    except ValueError:
        checker.problem(url, "JSON", "not JSON", "something else answers at this URL")
        return
    if listed != entries:
        checker.problem(
            url,
            "the worker's entries",
            f"{len(listed)} entries that differ",
            "the worker and the precache JSON come from different releases: a cache serves "
            "one of them stale",
        )
