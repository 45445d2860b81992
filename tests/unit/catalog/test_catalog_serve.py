"""The catalog served over HTTP (what `mesh dev` runs beside the UI): pages built on request, rebuilt
when stale, the last good catalog kept when a rebuild fails, a taken port refused."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshwork.catalog import serve


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[serve.Catalog, str]]:
    catalog = serve.Catalog(tmp_path / "catalog")  # the real site.build over this checkout's mesh
    httpd = serve.server(catalog, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever)
    thread.start()
    try:
        yield catalog, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def get(url: str) -> tuple[int, str, str | None]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, response.read().decode(), response.headers.get("Cache-Control")


def test_the_first_request_builds_the_catalog_and_every_product_page_is_served(served):
    catalog, base = served
    assert not (catalog.out / "index.html").exists()
    status, html, cache = get(f"{base}/")
    assert status == 200 and "Meshwork catalog" in html and cache == "no-cache"
    status, page, _ = get(f"{base}/sales/orders.html")
    assert status == 200 and "<h1>orders</h1>" in page
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{base}/sales/no_such_product.html")
    assert missing.value.code == 404


def test_a_stale_catalog_is_rebuilt_before_a_page_is_served(served, monkeypatch: pytest.MonkeyPatch):
    catalog, base = served
    get(f"{base}/index.html")
    stamp = (catalog.out / "index.html").stat().st_mtime_ns
    get(f"{base}/index.html")  # within REFRESH_SECONDS: the same build
    assert (catalog.out / "index.html").stat().st_mtime_ns == stamp
    monkeypatch.setattr(serve, "REFRESH_SECONDS", 0.0)
    get(f"{base}/index.html")
    assert (catalog.out / "index.html").stat().st_mtime_ns != stamp


def disk_full(out: Path) -> None:
    raise OSError(28, "No space left on device")


def test_a_failed_rebuild_keeps_serving_the_last_catalog(served, monkeypatch: pytest.MonkeyPatch):
    catalog, base = served
    _, before, _ = get(f"{base}/sales/orders.html")
    monkeypatch.setattr(serve, "REFRESH_SECONDS", 0.0)
    monkeypatch.setattr(catalog, "_build", disk_full)
    _, after, _ = get(f"{base}/sales/orders.html")
    assert after == before and catalog.error == "OSError: [Errno 28] No space left on device"


def test_without_any_catalog_a_failed_build_is_a_503_with_the_reason(tmp_path: Path):
    catalog = serve.Catalog(tmp_path / "catalog", build=disk_full)
    httpd = serve.server(catalog, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever)
    thread.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            get(f"http://127.0.0.1:{httpd.server_address[1]}/")
        assert failed.value.code == 503 and "the catalog could not be built" in failed.value.reason
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_a_taken_port_is_refused(served, tmp_path: Path):
    _, base = served
    with pytest.raises(OSError):
        serve.server(serve.Catalog(tmp_path / "other"), "127.0.0.1", int(base.rsplit(":", 1)[1]))
