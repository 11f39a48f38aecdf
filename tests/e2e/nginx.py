"""Debian's nginx as a caching reverse proxy, started by the tests on a free port."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .servers import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONFIG = """
daemon off;
# One process, as the user running the tests (worker processes of a root
# master would run as nobody, who cannot read pytest's folders).
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    proxy_cache_path {root}/cache keys_zone=appcache:1m;
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
{locations}
    }}
}}
"""
# A CDN keyed on the path alone that keeps files for an hour whatever the
# app says, but passes the app's own artifacts through.
CACHING = """
        location ~ ^({worker}|/precache-manifest\\.json|/manifest\\.appcache)$ {{
            proxy_pass http://127.0.0.1:{upstream};
{artifacts}
        }}
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_cache appcache;
            proxy_cache_key $scheme$host$uri;
            proxy_ignore_headers Cache-Control Expires;
            proxy_cache_valid 200 1h;
            add_header X-Cache-Status $upstream_cache_status;
        }}
"""


@contextmanager
def nginx(root: Path, upstream: int, artifacts: str = "", worker: str = "/sw.js") -> Iterator[str]:
    """nginx in front of 127.0.0.1:``upstream``, with ``artifacts`` lines added to the
    location of the worker (at ``worker``) and the manifests. Yields its base URL."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pattern = re.escape(worker)
    locations = CACHING.format(upstream=upstream, artifacts=artifacts, worker=pattern)
    config = root / "nginx.conf"
    config.write_text(CONFIG.format(root=root, port=port, locations=locations))
    process = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
                raise RuntimeError(f"nginx exited with {process.returncode}: {log}")
            try:
                httpx.get(url + "/sw.js", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not answer") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)
