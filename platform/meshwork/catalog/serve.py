"""The catalog over HTTP: what ``mesh dev`` runs beside the Dagster UI, so that the ``meshwork/catalog``
link on every asset opens (a ``file://`` link does nothing from a web page).

A small static server (the standard library's) over the catalog folder. A request for a page
rebuilds the catalog first when the last build is older than :data:`REFRESH_SECONDS`, so a page
opened after a run shows that run; one rebuild at a time, and pages are replaced atomically
(:func:`meshwork.catalog.site.build`), so a reader never gets half a page.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meshwork.catalog import site
from meshwork.model.loader import load_mesh

REFRESH_SECONDS = 5.0  # clicks within a few seconds reuse one build; a page opened after a run shows it


class Catalog:
    """The catalog folder and when it was last built; ``build`` rebuilds it (at most one at a time)."""

    def __init__(self, out: Path, build: Callable[[Path], Any] | None = None):
        self.out = out
        self._build = build or (lambda out: site.build(load_mesh(check_grants=False, strict=False), out))
        self._lock = threading.Lock()
        self._built_at: float | None = None
        self.error: str | None = None

    def refresh(self) -> None:
        with self._lock:  # a request that waited here finds the catalog fresh and serves it
            if self._built_at is not None and time.monotonic() - self._built_at < REFRESH_SECONDS:
                return
            try:
                self._build(self.out)
                self.error = None
            except Exception as exc:  # a broken mesh: keep serving the last catalog, say why on the index
                self.error = f"{type(exc).__name__}: {exc}"
            self._built_at = time.monotonic()


class _Handler(http.server.SimpleHTTPRequestHandler):
    catalog: Catalog

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path.endswith((".html", ".json", "/")):
            self.catalog.refresh()
        if self.catalog.error and path in ("/", "/index.html") and not (self.catalog.out / "index.html").is_file():
            self.send_error(503, f"the catalog could not be built: {self.catalog.error}")
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")  # rebuilt pages must not come from the browser's cache
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
        """Quiet: the terminal belongs to Dagster's own log."""


def server(catalog: Catalog, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """A threaded HTTP server for ``catalog`` on ``host:port`` (port 0: a free one); not yet serving.
    Raises OSError when the address is taken."""
    catalog.out.mkdir(parents=True, exist_ok=True)
    handler = type("CatalogHandler", (_Handler,), {"catalog": catalog})
    return http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(catalog.out)))
