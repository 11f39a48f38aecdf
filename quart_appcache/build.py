"""Deploy-time builds: the rendered artifacts and a record, written once, served as-is.

``quart appcache build`` (``python -m quart_appcache.starlette build`` for
Starlette and FastAPI apps) writes, into one folder:

* ``manifest.appcache``, ``precache-manifest.json``, ``sw.js``,
  ``appcache.js``: the bytes every worker will serve;
* ``appcache.json``: the record (format, version, ``updated``, entries, the
  fingerprint of the settings and templates), and which artifact file is
  which. It is written last, so a folder with a record is a complete build.

At startup a production app loads the build instead of computing, so every
worker on every host serves the same bytes, ``updated`` included. A build
whose URL list (or file sizes) no longer matches the app's declarations, or
whose fingerprint differs from the app's settings and templates now, is
stale and refused. This module has no framework imports.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiofiles

from .bundle import Snapshot
from .collect import Entry, FileEntry, OwnEntry
from .digest import Revision
from .errors import BuildError
from .filehash import Digest, Hashed
from .fingerprint import differing
from .serving import Artifact

__all__ = [
    "FILES",
    "RECORD",
    "Build",
    "check_contents",
    "check_fingerprint",
    "check_fresh",
    "read_build",
    "write_build",
]

RECORD = "appcache.json"
FORMAT = 2
FILES = {
    "manifest": "manifest.appcache",
    "precache": "precache-manifest.json",
    "sw": "sw.js",
}
OWN_FOLDER = "own"


@dataclass(frozen=True)
class Build:
    """A build loaded from disk: its snapshot, artifact bytes and fingerprint."""

    snapshot: Snapshot
    artifacts: dict[str, bytes]
    fingerprint: dict[str, str]
    # gzip forms written at build time: by artifact name, and by URL path for
    # the extension's own files.
    gzip: dict[str, bytes]


def _atomic_write(folder: str, name: str, data: bytes) -> None:
    # `name` may have a folder of its own (own/appcache.js), created before this.
    target = os.path.join(folder, name)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(name)}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def write_build(
    folder: str,
    snapshot: Snapshot,
    artifacts: Mapping[str, Artifact],
    own_artifacts: Mapping[str, Artifact],
    fingerprint: Mapping[str, str],
) -> list[str]:
    """Write the artifacts (and their gzip forms, ``*.gz``), then the record, atomically.

    Args:
        folder: where to write.
        snapshot: what was computed.
        artifacts: the rendered artifacts, by name.
        own_artifacts: the extension's own files, by URL path.
        fingerprint: the settings and templates the build was made under.

    Returns:
        The paths written, record last.

    Raises:
        BuildError: the folder cannot be created or written.
    """
    try:
        os.makedirs(folder, exist_ok=True)
        written = []
        compressed = []

        def put(file: str, artifact: Artifact) -> None:
            _atomic_write(folder, file, artifact.body)
            written.append(os.path.join(folder, file))
            if artifact.gzip is not None:
                _atomic_write(folder, file + ".gz", artifact.gzip)
                written.append(os.path.join(folder, file + ".gz"))
                compressed.append(file)

        for name, artifact in artifacts.items():
            put(FILES[name], artifact)
        own = []
        if snapshot.own:
            os.makedirs(os.path.join(folder, OWN_FOLDER), exist_ok=True)
        for entry in snapshot.own:
            path = entry.url.partition("?")[0]
            file = f"{OWN_FOLDER}/{path.rsplit('/', 1)[-1]}"
            put(file, own_artifacts[path])
            own.append({"url": entry.url, "file": file, "mimetype": entry.mimetype})
        record = {
            "format": FORMAT,
            "version": snapshot.version,
            "updated": snapshot.updated,
            "artifacts": {name: FILES[name] for name in artifacts},
            "fingerprint": dict(fingerprint),
            "own": own,
            "gzip": compressed,
            "entries": [
                {"url": item.url, "revision": item.revision, "size": item.size, "kind": item.kind}
                for item in snapshot.revisions
            ],
        }
        _atomic_write(folder, RECORD, json.dumps(record, indent=1).encode() + b"\n")
        written.append(os.path.join(folder, RECORD))
        return written
    except OSError as error:
        raise BuildError(
            f"Cannot write the build to {folder!r}: {error.strerror or error}. "
            "Choose a writable folder with --output or APPCACHE_BUILD_DIR."
        ) from error


def has_build(folder: str) -> bool:
    """Whether ``folder`` holds a build record."""
    return os.path.isfile(os.path.join(folder, RECORD))


async def read_build(folder: str, wanted: Sequence[str], command: str) -> Build:
    """Load a build with the artifacts in ``wanted``.

    Args:
        folder: the build folder.
        wanted: the artifacts the app serves.
        command: the command that rebuilds, named in errors.

    Raises:
        BuildError: the record is unreadable or of another format, or an
            artifact the app serves is missing.
    """
    record = _parse_record(folder, await _read(folder, RECORD, command), command)
    artifacts: dict[str, bytes] = {}
    for name in wanted:
        filename = record["artifacts"].get(name)
        if filename is None:
            raise BuildError(
                f"The build in {folder!r} has no {name} artifact, but the app serves one. "
                f"Run `{command}` again."
            )
        artifacts[name] = await _read(folder, filename, command)
    compressed = set(record["gzip"])
    gzip = {
        name: await _read(folder, file + ".gz", command)
        for name, file in record["artifacts"].items()
        if name in wanted and file in compressed
    }
    for item in record["own"]:
        if item["file"] in compressed:
            path = item["url"].partition("?")[0]
            gzip[path] = await _read(folder, item["file"] + ".gz", command)
    revisions = tuple(
        Revision(item["url"], item["revision"], item["size"], item["kind"])
        for item in record["entries"]
    )
    own = tuple(
        [
            OwnEntry(item["url"], await _read(folder, item["file"], command), item["mimetype"])
            for item in record["own"]
        ]
    )
    snapshot = Snapshot(record["version"], record["updated"], revisions, own)
    return Build(snapshot, artifacts, record["fingerprint"], gzip)


def check_fresh(
    folder: str, build: Build, entries: Sequence[Entry], command: str, *, sizes: bool = True
) -> None:
    """Refuse a build whose URLs (or file sizes) differ from the app's entries now.

    Stats every file entry (with ``sizes``), so run it off the event loop.

    Raises:
        BuildError: naming what was added, removed or resized.
    """
    built = {item.url: item.size for item in build.snapshot.tracked}
    declared = [entry.url for entry in entries]
    problems = []
    added = [url for url in declared if url not in built]
    declared_set = set(declared)
    removed = [url for url in built if url not in declared_set]
    if added:
        problems.append(f"new since the build: {_some(added)}")
    if removed:
        problems.append(f"gone since the build: {_some(removed)}")
    if not problems and list(built) != declared:
        problems.append("the URLs are in another order")
    resized = [
        entry.url
        for entry in entries
        if sizes
        and isinstance(entry, FileEntry)
        and entry.url in built
        and built[entry.url] != _size(entry.path)
    ]
    if resized:
        problems.append(f"changed size since the build: {_some(resized)}")
    if problems:
        raise _stale(folder, "; ".join(problems), command)


def check_contents(
    folder: str,
    build: Build,
    files: Sequence[FileEntry],
    results: Sequence[Digest | Hashed | OSError],
    command: str,
) -> None:
    """Refuse a build whose files' contents changed since it was made.

    Args:
        files: the app's file entries now.
        results: their digests (from :func:`~quart_appcache.filehash.hash_files`).

    Raises:
        BuildError: naming the first file whose content differs, or that
            could not be read.
    """
    built = {item.url: item.revision for item in build.snapshot.revisions}
    for entry, result in zip(files, results, strict=True):
        if isinstance(result, OSError):
            raise _stale(folder, f"{entry.url!r} cannot be read ({result})", command)
        revision = result[0] if isinstance(result, tuple) else result.revision
        if built.get(entry.url) != revision:
            raise _stale(folder, f"the content of {entry.url!r} changed since the build", command)


def _stale(folder: str, problem: str, command: str) -> BuildError:
    return BuildError(
        f"The build in {folder!r} is stale: {problem}. "
        f"Run `{command}` again before starting the servers "
        "(or remove the folder to compute at startup)."
    )


def check_fingerprint(
    folder: str,
    build: Build,
    current: Mapping[str, str],
    name: Callable[[str], str],
    command: str,
) -> None:
    """Refuse a build made under other settings or templates.

    Raises:
        BuildError: naming the first setting that differs, and both values.
    """
    key = differing(build.fingerprint, dict(current))
    if key is None:
        return
    setting = name(key) if key.startswith("APPCACHE_") else "the quart_appcache version"
    raise BuildError(
        f"The build in {folder!r} is stale: it was made with {setting} = "
        f"{build.fingerprint.get(key)}, but the app now has {current.get(key)}. "
        f"Run `{command}` again before starting the servers."
    )


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _some(urls: list[str]) -> str:
    shown = ", ".join(repr(url) for url in urls[:5])
    return shown + (f" and {len(urls) - 5} more" if len(urls) > 5 else "")


async def _read(folder: str, name: str, command: str) -> bytes:
    path = os.path.join(folder, name)
    try:
        async with aiofiles.open(path, "rb") as handle:
            data: bytes = await handle.read()
            return data
    except OSError as error:
        raise BuildError(
            f"Cannot read {path!r} from the build: {error.strerror or error}. "
            f"Run `{command}` again."
        ) from error


def _parse_record(folder: str, data: bytes, command: str) -> dict[str, Any]:
    try:
        record = json.loads(data)
        if record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format')!r}, expected {FORMAT}")
        for key in ("version", "updated", "artifacts", "entries", "fingerprint", "own", "gzip"):
            if key not in record:
                raise ValueError(f"no {key!r}")
        for item in record["entries"]:
            if not {"url", "revision", "size", "kind"} <= set(item):
                raise ValueError(f"a malformed entry {item!r}")
    except (ValueError, AttributeError, TypeError) as error:
        raise BuildError(
            f"The build record {os.path.join(folder, RECORD)!r} is unusable ({error}). "
            f"Run `{command}` again."
        ) from error
    result: dict[str, Any] = record
    return result
