"""Deploy-time builds: the rendered artifacts and a record, written once, served as-is.

``quart appcache build`` (``python -m quart_appcache.starlette build`` for
Starlette and FastAPI apps) writes, into one folder:

* ``manifest.appcache``, ``precache-manifest.json``, ``sw.js`` and the
  extension's own files under ``own/``, with their gzip forms (``*.gz``):
  the bytes every worker will serve;
* ``appcache.json``: the record (format, version, ``updated``, entries, the
  fingerprint of the settings and templates), which artifact file is which,
  and the SHA-256 of every file it owns.

A build is whole or absent. It is written into a fresh folder beside the
target and switched in with one rename of a symbolic link, so a reader sees
the previous build or the new one, never a mix; a failed build leaves the
previous one untouched and removes what it wrote. Builds into one target
take turns (a lock file). A reader resolves the link once and checks every
file against the record, so a tampered, truncated or foreign file refuses
the build with the file named.

At startup a production app loads the build instead of computing, so every
worker on every host serves the same bytes, ``updated`` included;
:mod:`quart_appcache.build_check` refuses a stale one. No framework imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gzip as gzip_module
import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiofiles

from .artifacts import BY_NAME, OWN_FOLDER, REGISTRY, RENDERED, build_files
from .bundle import Revision, Snapshot
from .declarations import ExtensionEntry
from .errors import BuildError
from .route_map import Discovery, NonPages
from .serving import Artifact

__all__ = ["FILES", "RECORD", "Build", "has_build", "read_build", "write_build"]

RECORD = "appcache.json"
FORMAT = 4
# The file of each rendered artifact, and of the extension's own files by
# content type (icons keep their names under own/): all from the registry.
FILES: dict[str, str] = {name: BY_NAME[name].build_file for name in RENDERED}
OWN_FILES = {
    spec.mimetype.partition(";")[0]: spec.build_file
    for spec in REGISTRY
    if not spec.rendered and not spec.folder
}
# Every name a build may hold: a record naming anything else is refused.
ALLOWED = build_files()


@dataclass(frozen=True)
class Build:
    """A build loaded from disk: its snapshot, artifact bytes and fingerprint."""

    snapshot: Snapshot
    artifacts: dict[str, bytes]
    fingerprint: dict[str, str]
    # gzip forms written at build time: by artifact name, and by URL path for
    # the extension's own files.
    gzip: dict[str, bytes]


def _own_file(entry: ExtensionEntry) -> str:
    mimetype = entry.mimetype.partition(";")[0]
    if mimetype in OWN_FILES:
        return OWN_FILES[mimetype]
    return f"{OWN_FOLDER}/{entry.url.partition('?')[0].rsplit('/', 1)[-1]}"


def write_build(
    folder: str,
    snapshot: Snapshot,
    artifacts: Mapping[str, Artifact],
    own_artifacts: Mapping[str, Artifact],
    fingerprint: Mapping[str, str],
) -> list[str]:
    """Write a whole build and switch ``folder`` to it in one step.

    ``folder`` becomes a symbolic link to a sibling folder holding the build;
    the build before it is kept beside it (a server that started reading it
    a moment ago can finish), older ones are removed.

    Args:
        folder: the build folder the servers read.
        snapshot: what was computed.
        artifacts: the rendered artifacts, by name.
        own_artifacts: the extension's own files, by URL path.
        fingerprint: the settings and templates the build was made under.

    Returns:
        The paths written (under ``folder``), record last.

    Raises:
        BuildError: the folder cannot be written, holds something that is not
            a build, or another build is writing into it right now.
    """
    target = os.path.abspath(folder)
    parent, name = os.path.split(target)
    try:
        os.makedirs(parent, exist_ok=True)
        with _lock(parent, name, folder):
            _remove_partial(parent, name)
            files = _files(snapshot, artifacts, own_artifacts, fingerprint)
            partial = tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".partial")
            try:
                for file, data in files.items():
                    _write(partial, file, data)
                os.chmod(partial, 0o755)  # (mkdtemp's folder is private)
                complete = partial.removesuffix(".partial")
                os.rename(partial, complete)
                partial = complete
                previous = _switch(target, complete, folder)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            _remove_old(parent, name, keep={complete, previous})
    except OSError as error:
        raise BuildError(
            f"Cannot write the build to {folder!r}: {error.strerror or error}. "
            "Choose a writable folder with --output or the build folder setting."
        ) from error
    return [os.path.join(folder, file) for file in files]


def _files(
    snapshot: Snapshot,
    artifacts: Mapping[str, Artifact],
    own_artifacts: Mapping[str, Artifact],
    fingerprint: Mapping[str, str],
) -> dict[str, bytes]:
    """Every file of the build by name, the record last."""
    files: dict[str, bytes] = {}

    def put(file: str, artifact: Artifact) -> None:
        files[file] = artifact.body
        if artifact.gzip is not None:
            files[file + ".gz"] = artifact.gzip

    for artifact_name, artifact in artifacts.items():
        put(FILES[artifact_name], artifact)
    own = []
    for entry in snapshot.extension_files:
        file = _own_file(entry)
        put(file, own_artifacts[entry.url.partition("?")[0]])
        own.append({"url": entry.url, "file": file, "mimetype": entry.mimetype})
    record = {
        "format": FORMAT,
        "version": snapshot.version,
        "updated": snapshot.updated,
        "artifacts": {artifact_name: FILES[artifact_name] for artifact_name in artifacts},
        "fingerprint": dict(fingerprint),
        "own": own,
        "files": {file: hashlib.sha256(data).hexdigest() for file, data in files.items()},
        "entries": [
            {"url": item.url, "revision": item.revision, "size": item.size, "kind": item.kind}
            for item in snapshot.revisions
        ],
        "pages": list(snapshot.discovery.pages),
        "non_pages": snapshot.discovery.non_pages.as_json(),
    }
    files[RECORD] = json.dumps(record, indent=1).encode() + b"\n"
    return files


def _write(folder: str, file: str, data: bytes) -> None:
    path = os.path.join(folder, file)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


@contextlib.contextmanager
def _lock(parent: str, name: str, folder: str) -> Iterator[None]:
    """One build at a time into one target: a second one fails at once."""
    with open(os.path.join(parent, f".{name}.lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(
                f"Another build is writing into {folder!r} right now. Wait for it to "
                "finish; builds into one folder run one at a time."
            ) from None
        yield


def _switch(target: str, complete: str, folder: str) -> str | None:
    """Point ``target`` at ``complete`` in one rename; the folder it named before."""
    parent, name = os.path.split(target)
    previous: str | None = None
    if os.path.islink(target):
        previous = os.path.join(parent, os.readlink(target))
    elif os.path.isdir(target):
        # A folder of an earlier release (or an empty one): moved aside, then
        # replaced. Between the two renames the target is absent, never mixed.
        if os.listdir(target) and not os.path.isfile(os.path.join(target, RECORD)):
            raise BuildError(
                f"Cannot write the build to {folder!r}: the folder holds files that are not "
                "a build. Choose an empty or new folder for builds."
            )
        previous = tempfile.mkdtemp(dir=parent, prefix=f".{name}.")
        os.rmdir(previous)
        os.rename(target, previous)
    elif os.path.lexists(target):
        raise BuildError(
            f"Cannot write the build to {folder!r}: it is a file, not a folder. "
            "Choose a folder for builds."
        )
    link = os.path.join(parent, f".{name}.link")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(link)
    os.symlink(os.path.basename(complete), link)
    os.replace(link, target)
    return previous


def _siblings(parent: str, name: str) -> Iterator[str]:
    prefix = f".{name}."
    for entry in os.scandir(parent):
        if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
            yield entry.path


def _remove_partial(parent: str, name: str) -> None:
    # Under the lock no other build is writing: a partial folder is what a
    # killed build left.
    for path in _siblings(parent, name):
        if path.endswith(".partial"):
            shutil.rmtree(path, ignore_errors=True)


def _remove_old(parent: str, name: str, keep: set[str | None]) -> None:
    for path in _siblings(parent, name):
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)


def has_build(folder: str) -> bool:
    """Whether ``folder`` holds a build record."""
    return os.path.isfile(os.path.join(folder, RECORD))


async def read_build(folder: str, wanted: Sequence[str], command: str) -> Build:
    """Load a build with the artifacts in ``wanted``, every file checked.

    Args:
        folder: the build folder (a link to the build is resolved once, so
            a build switched in meanwhile is never mixed with this one).
        wanted: the artifacts the app serves.
        command: the command that rebuilds, named in errors.

    Raises:
        BuildError: the record is unreadable or of another format, names a
            file the extension never writes, a file is missing or does not
            match its recorded digest, a ``.gz`` is not its plain file
            compressed, or an artifact the app serves is missing.
    """
    real = await asyncio.to_thread(os.path.realpath, folder)
    record = _parse_record(folder, await _read(real, RECORD, command), command)
    digests: dict[str, str] = record["files"]
    files: dict[str, bytes] = {}
    for file in digests:
        if file not in ALLOWED:
            raise BuildError(
                f"The build record {os.path.join(folder, RECORD)!r} names the file {file!r}, "
                f"which no build holds. Run `{command}` again."
            )
        files[file] = await _read(real, file, command)
    await asyncio.to_thread(_verify, folder, files, digests, command)

    def owned(file: str) -> bytes:
        if file not in files:
            raise BuildError(
                f"The build in {folder!r} has no file {file!r}, but its record uses one. "
                f"Run `{command}` again."
            )
        return files[file]

    artifacts: dict[str, bytes] = {}
    gzip: dict[str, bytes] = {}
    for artifact_name in wanted:
        file = record["artifacts"].get(artifact_name)
        if file is None:
            raise BuildError(
                f"The build in {folder!r} has no {artifact_name} artifact, but the app serves "
                f"one. Run `{command}` again."
            )
        artifacts[artifact_name] = owned(file)
        if file + ".gz" in files:
            gzip[artifact_name] = files[file + ".gz"]
    own = []
    for item in record["own"]:
        own.append(ExtensionEntry(item["url"], owned(item["file"]), item["mimetype"]))
        if item["file"] + ".gz" in files:
            gzip[item["url"].partition("?")[0]] = files[item["file"] + ".gz"]
    revisions = tuple(
        Revision(item["url"], item["revision"], item["size"], item["kind"])
        for item in record["entries"]
    )
    non_pages = record["non_pages"]
    discovery = Discovery(
        tuple(record["pages"]),
        NonPages(tuple(non_pages["prefixes"]), tuple(non_pages["patterns"])),
    )
    snapshot = Snapshot(record["version"], record["updated"], revisions, tuple(own), discovery)
    return Build(snapshot, artifacts, record["fingerprint"], gzip)


def _verify(folder: str, files: dict[str, bytes], digests: dict[str, str], command: str) -> None:
    """Every file matches its digest, every ``.gz`` its plain form (hashes: off the loop)."""
    for file, data in files.items():
        if hashlib.sha256(data).hexdigest() != digests[file]:
            raise BuildError(
                f"The build file {os.path.join(folder, file)!r} does not match the digest its "
                f"record holds: it was changed or only partly written. Run `{command}` again."
            )
    for file, data in files.items():
        if file.endswith(".gz") and _gunzip(data) != files.get(file.removesuffix(".gz")):
            raise BuildError(
                f"The build file {os.path.join(folder, file)!r} is not "
                f"{file.removesuffix('.gz')!r} compressed. Run `{command}` again."
            )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _gunzip(data: bytes) -> bytes | None:
    try:
        return gzip_module.decompress(data)
    except (OSError, EOFError, zlib.error):
        return None


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
        keys = ("version", "updated", "artifacts", "entries", "fingerprint", "own", "files")
        for key in (*keys, "pages", "non_pages"):
            if key not in record:
                raise ValueError(f"no {key!r}")
        non_pages = record["non_pages"]
        if not _strings(record["pages"]) or not all(
            _strings(non_pages.get(name)) for name in ("prefixes", "patterns")
        ):
            raise ValueError("'pages' or 'non_pages' is not lists of strings")
        files = record["files"]
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise ValueError("'files' is not a mapping of file names to digests")
        for item in record["own"]:
            if not {"url", "file", "mimetype"} <= set(item):
                raise ValueError(f"a malformed own file {item!r}")
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
