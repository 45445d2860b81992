"""What a person sees in the UI that `mesh dev` (`make ui`) starts, looked at in headless Chromium: every
domain's assets, a product's owner and checks, Materialize clicked on a product page and its run
succeeding, the metrics' owner and lineage, and the links between an asset and its catalog page, both
ways. Without Chromium these tests skip, and fail under CI=true."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from meshwork.model.loader import load_mesh
from tests.conftest import BIN, REPO
from tests.integration import chromium
from tests.integration.test_webserver import free_port, graphql, graphql_vars

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

DOMAINS = ["customers", "finance", "marketing", "sales", "support"]
LOADED = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name } } } }
  }
}
"""
RUN = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status jobName assetSelection { path } } } }"
MATERIALIZE = "b.innerText.trim() === 'Materialize'"  # the button on an asset's page
CATALOG_LINKS = "{ assetNodes { assetKey { path } metadataEntries { label ... on UrlMetadataEntry { url } } } }"


@dataclass(frozen=True)
class Dev:
    ui: str
    catalog: str
    port: int
    shots: Path


def _alive(group: int) -> list[psutil.Process]:
    """The live (not zombie) processes of a process group."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(proc.pid) == group and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


@pytest.fixture(scope="module")
def dev(built_mesh: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    chromium.require()
    root = tmp_path_factory.mktemp("mesh_dev")
    home = root / "home"
    shutil.copytree(built_mesh, home, ignore=shutil.ignore_patterns("lineage", "catalog"))
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "MESH_PROJECT_DIR": str(REPO)}
    for name in ("MESH_CATALOG_URL", "MESH_DAGSTER_URL", "MESH_CATALOG_PORT"):
        env.pop(name, None)  # the defaults: what `make ui` gives a person
    port, catalog_port = free_port(), free_port()
    log = root / "mesh-dev.log"
    proc = subprocess.Popen(
        [str(BIN / "mesh"), "dev", "--port", str(port), "--catalog-port", str(catalog_port)],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the teardown can tell what it left behind
    )
    try:
        deadline = time.monotonic() + 300
        while True:  # the UI answers before its code locations have loaded
            try:
                node = graphql_vars(port, LOADED, {"path": ["mesh", "consumers"]})["data"]["assetNodeOrError"]
                orders = graphql_vars(port, LOADED, {"path": ["sales", "orders"]})["data"]["assetNodeOrError"]
                if node and orders and orders.get("assetChecksOrError", {}).get("checks"):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text()[-3000:])
            time.sleep(2)
        yield Dev(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{catalog_port}", port, root / "screenshots")
    finally:
        proc.send_signal(signal.SIGTERM)  # as a service manager stops it: mesh dev stops dagster dev
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=180)
        deadline = time.monotonic() + 90  # code servers notice their server is gone by its heartbeat
        while (left := _alive(proc.pid)) and time.monotonic() < deadline:
            time.sleep(1)
        for p in left:
            p.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert left == [], f"mesh dev left processes behind: {[p.cmdline()[:4] for p in left]}"


def dismiss_dialogs(page: chromium.Page) -> None:
    """Dagster greets a new browser profile with a newsletter dialog: "Skip" it, as a person would."""
    page.evaluate(
        "(() => { const b = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Skip');"
        " if (b) b.click(); })()"
    )


def text_between(text: str, start: str, end: str) -> str:
    after = text[text.index(start) + len(start) :]
    return after[: after.index(end)]


def open_asset(page: chromium.Page, dev: Dev, key: str, view: str = "") -> str:
    page.open(f"{dev.ui}/assets/{key}{'?view=' + view if view else ''}")
    page.wait_for(f"[...document.querySelectorAll('button')].some(b => {MATERIALIZE})", 120)
    dismiss_dialogs(page)
    return page.wait_for("document.body.innerText.includes('Owners') && document.body.innerText", 60)


def test_the_asset_graph_shows_every_domain_and_the_platform_metrics(dev: Dev, tmp_path: Path):
    with chromium.browser(tmp_path / "profile") as page:
        page.open(f"{dev.ui}/asset-groups")
        page.wait_for(f"{json.dumps(DOMAINS)}.every(d => document.body.innerText.includes(d))", timeout=180)
        page.wait_for("document.body.innerText.includes('mesh_metrics')", timeout=60)
        dismiss_dialogs(page)
        chromium.assert_png(page.screenshot(dev.shots / "dagster-asset-graph.png", full_page=False))


def test_a_product_page_shows_its_owning_team_and_its_four_checks(dev: Dev, tmp_path: Path):
    with chromium.browser(tmp_path / "profile") as page:
        text = open_asset(page, dev, "customers/customer_profiles")
        owners = text_between(text, "Owners", "Kinds")
        assert "crm-data" in owners and "crm-data@example.com" in owners, owners
        assert text_between(text, "Code location", "Owners").split()[0] == "customers"
        page.open(f"{dev.ui}/assets/customers/customer_profiles?view=checks")
        # The list renders its rows after its header (seen in CI: only the first row at first): wait for all four.
        names = json.dumps(["contract", "governance", "grants", "sla"])
        page.wait_for(
            "(() => { const t = document.body.innerText; const i = t.indexOf('Checks (4)');"
            " if (i < 0) return false; const words = t.slice(i, t.indexOf('About', i)).split(/\\s+/);"
            f" return {names}.every(n => words.includes(n)); }})()",
            timeout=120,
        )
        dismiss_dialogs(page)
        listed = text_between(page.evaluate("document.body.innerText"), "Checks (4)", "About").split()
        # Each check once by name, with its latest result, as the list shows them.
        for check in ("contract", "governance", "grants", "sla"):
            assert check in listed, listed
        assert listed[listed.index("contract") + 2] == "Succeeded", listed  # name, name, status
        chromium.assert_png(page.screenshot(dev.shots / "dagster-checks.png", full_page=False))


def test_clicking_materialize_on_a_product_page_runs_it_and_the_run_succeeds(dev: Dev, tmp_path: Path):
    with chromium.browser(tmp_path / "profile") as page:
        open_asset(page, dev, "sales/orders")
        page.evaluate(f"[...document.querySelectorAll('button')].find(b => {MATERIALIZE}).click()")
        page.wait_for("document.body.innerText.includes('Launched run')", timeout=120)
        page.evaluate("[...document.querySelectorAll('a')].find(a => a.innerText.trim() === 'View').click()")
        page.wait_for("location.pathname.startsWith('/runs/')", timeout=60)
        run_id = page.evaluate("location.pathname.split('/')[2]")
        # What the run page's header says once the run has finished.
        status = page.wait_for(
            "(() => { const t = document.body.innerText.slice(0, 400);"
            " return ['Success', 'Failure', 'Canceled'].find(s => t.includes(s)) || false; })()",
            timeout=900,
        )
        chromium.assert_png(page.screenshot(dev.shots / "dagster-run.png", full_page=False))
        header = page.evaluate("document.body.innerText.slice(0, 400)")
    assert status == "Success", header
    assert "sales / orders" in header and "checks" in header  # the asset and the checks shown with it
    run = graphql_vars(dev.port, RUN, {"id": run_id})["data"]["runOrError"]
    assert run["status"] == "SUCCESS" and run["assetSelection"] == [{"path": ["sales", "orders"]}]


def test_the_metrics_are_owned_by_the_platform_team_and_drawn_downstream_of_the_products(dev: Dev, tmp_path: Path):
    with chromium.browser(tmp_path / "profile") as page:
        open_asset(page, dev, "mesh/consumers")
        # The lineage section fills in after the page: wait until it lists an upstream asset.
        text = page.wait_for(
            "(() => { const t = document.body.innerText; const i = t.indexOf('Upstream assets');"
            " return i >= 0 && t.slice(i, t.indexOf('Downstream assets')).includes(' / ') && t; })()",
            timeout=120,
        )
        assert text_between(text, "Owners", "Kinds").split() == ["platform"]
        upstream = text_between(text, "Upstream assets", "Downstream assets")
        for key in load_mesh(REPO).products:
            assert key.replace("/", " / ") in upstream, key
        assert "Latest materialization" in text and "Never materialized" not in text  # mesh build did it


def test_an_asset_links_to_its_catalog_page_and_the_page_links_back_to_the_asset(dev: Dev, tmp_path: Path):
    nodes = graphql(dev.port, CATALOG_LINKS)["data"]["assetNodes"]
    links = {
        "/".join(n["assetKey"]["path"]): e["url"]
        for n in nodes
        for e in n["metadataEntries"]
        if e["label"] == "meshwork/catalog"
    }
    for key in load_mesh(REPO).products:
        assert links[key] == f"{dev.catalog}/{key}.html"
    with chromium.browser(tmp_path / "profile") as page:
        open_asset(page, dev, "customers/customer_profiles")
        href = page.evaluate(
            f"[...document.querySelectorAll('a')].map(a => a.href).find(h => h.startsWith({json.dumps(dev.catalog)}))"
        )
        assert href == f"{dev.catalog}/customers/customer_profiles.html"
        page.open(href)  # the link opens: the catalog is served, not a file:// path
        assert page.wait_for("document.querySelector('h1') && document.querySelector('h1').textContent") == (
            "customer_profiles"
        )
        assert page.evaluate("document.querySelector('#owner').textContent").startswith("crm-data")
        back = page.evaluate("document.querySelector('#dagster-asset a').href")
        assert back == f"{dev.ui}/assets/customers/customer_profiles"
        page.evaluate("document.querySelector('#dagster-asset a').click()")
        page.wait_for(f"location.href === {json.dumps(back)}", timeout=60)
        page.wait_for(f"[...document.querySelectorAll('button')].some(b => {MATERIALIZE})", 120)
    with urllib.request.urlopen(f"{dev.catalog}/index.html", timeout=60) as response:
        index = response.read().decode()
    assert f'href="{dev.ui}/assets/mesh/consumers"' in index
