"""`mesh catalog build`: a static, self-contained catalog of the built mesh, its JSON export, HTML
escaping of whatever descriptors say, links to the Dagster UI, and the pages looked at in a real browser
(Dagster's own pages: test_ui_browser.py)."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from meshwork.catalog.export import CatalogExport
from meshwork.model.loader import load_mesh
from tests.conftest import REPO, mesh_cli
from tests.integration import chromium
from tests.integration.test_contract_versions import introduce_v2

pytestmark = pytest.mark.slow
DOMAINS = ["customers", "finance", "marketing", "sales", "support"]
EVIL = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 1\"> & 'quotes'"


def home_env(home: Path, project: Path = REPO) -> dict[str, str]:
    return {
        **os.environ,
        "MESH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MESH_PROJECT_DIR": str(project),
        "MESH_DAGSTER_URL": "",  # no Dagster UI known unless a test says where
    }


def build_catalog(out: Path, env: dict[str, str], cwd: Path = REPO) -> dict:
    result = mesh_cli("catalog", "build", "--out", str(out), "--json", cwd=cwd, env=env)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def site(built_mesh: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("catalog") / "site"
    return out, build_catalog(out, home_env(built_mesh))


class Page(HTMLParser):
    """Text per element id, every element's tag and attributes, and script bodies."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def section(html: str, section_id: str) -> str:
    """The HTML from the heading with ``section_id`` to the next h2."""
    start = html.index(f'id="{section_id}"')
    end = html.find("<h2", start)
    return html[start : end if end > 0 else None]


def test_the_catalog_has_a_page_for_every_product_and_a_valid_json_export(site: tuple[Path, dict]):
    out, summary = site
    mesh = load_mesh(REPO)
    assert summary["ok"] and summary["instance"] is True
    assert summary["products"] == len(mesh.products)
    assert {Path(p).relative_to(out).as_posix() for p in summary["pages"]} == {f"{key}.html" for key in mesh.products}
    for page in summary["pages"]:
        assert Path(page).stat().st_size > 2000
    assert (out / "index.html").is_file()

    export = CatalogExport.model_validate_json((out / "catalog.json").read_text())
    assert [d.name for d in export.domains] == DOMAINS
    assert {p.key for p in export.products} == set(mesh.products)
    for product in export.products:
        assert product.freshness.status == "fresh", product.key
        assert product.ports[0].latest is not None and product.ports[0].latest.rows > 0
        assert product.gate_runs and product.gate_runs[0].passed
        assert product.rules and all(r.result and r.result.passed for r in product.rules), product.key
    assert {m.name for m in export.metrics} >= {"consumers", "sla_attainment", "contract_pass_rate"}
    # The catalog draws what Dagster draws: order_lines' dbt model refs orders inside the sales domain.
    lines = next(p for p in export.products if p.key == "sales/order_lines")
    assert "sales/orders" in lines.lineage.upstream and ("sales/orders", "sales/order_lines") in lines.lineage.edges


def test_a_product_page_shows_owner_classification_ports_rules_results_consumers_and_lineage(
    site: tuple[Path, dict],
):
    out, _ = site
    html = (out / "customers/customer_profiles.html").read_text()

    assert "crm-data" in section(html, "owner") and "crm-data@example.com" in html
    email = re.search(r'<tr id="column-email">(.*?)</tr>', html, re.S)
    assert email and 'class="badge pii classification">pii<' in email.group(1)
    birth = re.search(r'<tr id="column-birth_date">(.*?)</tr>', html, re.S)
    assert birth and ">sensitive-pii<" in birth.group(1)

    ports = section(html, "ports")
    assert "customers/customer_profiles@v1" in ports and "restricted" in ports
    assert re.search(r"<code>\d{8}T\d{12}Z-[0-9a-f]{8}</code>", ports)  # the latest snapshot

    rules = section(html, "rules")
    assert "<code>email.unique</code>" in rules and "<code>customer_id.not_null</code>" in rules
    assert rules.count('class="badge passed">passed<') >= 10
    assert "Latest contract-gate run" in rules

    consumers = section(html, "consumers")
    for consumer in ("marketing/customer_360", "sales/orders", "support/tickets"):
        assert consumer in consumers
    assert 'href="../marketing/customer_360.html"' in consumers

    lineage = section(html, "lineage")
    assert '<svg class="lineage"' in lineage
    for downstream in ("orders", "tickets", "customer_360", "customer_segments", "daily_revenue"):
        assert f">{downstream}</text>" in lineage
    assert 'href="../index.html"' in html  # back to the catalog

    history = section(html, "history")
    assert history.count("<svg") == 2 and 'id="gate-runs"' in history and 'id="snapshots"' in history


def test_every_page_is_self_contained(site: tuple[Path, dict]):
    out, _ = site
    for page in [out / "index.html", *out.glob("*/*.html")]:
        parsed = Page(page.read_text())
        for tag, attrs in parsed.tags:
            for attr in ("src", "href"):
                value = attrs.get(attr) or ""
                assert not re.match(r"^(https?:)?//", value), f"{page}: <{tag} {attr}={value}> leaves the catalog"
            assert tag != "link", f"{page}: external stylesheet or resource"
        text = page.read_text()
        assert "@import" not in text and "url(http" not in text


@pytest.fixture
def evil_site(project: Path, mesh_home: Path, tmp_path: Path) -> Path:
    """A catalog of descriptors and contracts whose text carries markup and script."""
    descriptor = project / "domains/customers/products/customer_profiles.yaml"
    descriptor.write_text(
        descriptor.read_text().replace(
            "  purpose: The golden record", f"  purpose: {json.dumps(EVIL)} # The golden record"
        )
    )
    contract = project / "domains/customers/contracts/customer_profiles.odcs.yaml"
    contract.write_text(contract.read_text().replace('"Given name."', json.dumps("Given </script> name")))
    out = tmp_path / "site"
    summary = build_catalog(out, home_env(mesh_home, project), cwd=project)
    assert summary["instance"] is False  # nothing built in this MESH_HOME: still a catalog
    return out


def test_descriptor_text_is_escaped_in_pages_and_the_search_index(evil_site: Path):
    out = evil_site
    page = (out / "customers/customer_profiles.html").read_text()
    index = (out / "index.html").read_text()
    for html in (page, index):
        assert "<script>window.__pwned" not in html and "<img src=x" not in html
        scripts = [t for t, _ in Page(html).tags if t == "script"]
        assert len(scripts) == (2 if html is index else 1)  # only the catalog's own scripts
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;&lt;img src=x onerror=" in page
    assert "Given &lt;/script&gt; name" in page
    # In the embedded search index '<' is \u003c, so the text cannot close the <script> element.
    index_json = re.search(r'<script type="application/json" id="search-index">(.*?)</script>', index, re.S)
    assert index_json and "</script" not in index_json.group(1)
    docs = json.loads(index_json.group(1))
    assert any("window.__pwned" in d["text"] for d in docs)


def test_descriptor_text_runs_no_script_in_a_real_browser(evil_site: Path, tmp_path: Path):
    chromium.require()  # no silent pass without the browser (fails under CI=true)
    with chromium.browser(tmp_path / "profile") as browser:
        for target in (evil_site / "customers/customer_profiles.html", evil_site / "index.html"):
            browser.open(target.as_uri())
            assert browser.evaluate("typeof window.__pwned") == "undefined"
            assert browser.evaluate("document.querySelectorAll('img').length") == 0
            # The text is there, as text, where a person reads it.
            assert "window.__pwned = 1" in browser.evaluate("document.body.innerText")


def test_with_the_dagster_ui_known_every_page_links_to_its_asset_there_and_nowhere_else(
    built_mesh: Path, tmp_path: Path
):
    out = tmp_path / "site"
    ui = "http://127.0.0.1:3999"
    build_catalog(out, {**home_env(built_mesh), "MESH_DAGSTER_URL": ui + "/"})
    for key in load_mesh(REPO).products:
        links = [a.get("href") or "" for t, a in Page((out / f"{key}.html").read_text()).tags if t == "a"]
        assert f"{ui}/assets/{key}" in links, key
        leaving = {h for h in links if re.match(r"^(https?:)?//", h)}
        assert leaving == {ui, f"{ui}/assets/{key}"}, key
    index = [a.get("href") or "" for t, a in Page((out / "index.html").read_text()).tags if t == "a"]
    assert {f"{ui}/assets/mesh/{m}" for m in ("consumers", "failed_publishes")} <= set(index)
    export = CatalogExport.model_validate_json((out / "catalog.json").read_text())
    assert export.dagster_url == ui


def test_without_the_dagster_ui_known_pages_name_the_asset_without_a_link(site: tuple[Path, dict]):
    out, _ = site
    html = (out / "sales/orders.html").read_text()
    assert "/assets/" not in html and 'id="dagster-ui"' not in html
    assert 'id="facts"' in html and "<code>sales/orders</code>" in section(html, "facts")


def test_port_versions_show_their_visibility_and_deprecation_and_removal_dates(
    project: Path, mesh_home: Path, tmp_path: Path
):
    introduce_v2(project)
    out = tmp_path / "site"
    build_catalog(out, home_env(mesh_home, project), cwd=project)
    export = CatalogExport.model_validate_json((out / "catalog.json").read_text())
    product = next(p for p in export.products if p.key == "customers/customer_profiles")
    # Both majors hold PII, so both are restricted (policy pii-not-public); v1 keeps the grants.
    assert [(p.version, p.state, p.visibility) for p in product.ports] == [
        ("v2", "active", "restricted"),
        ("v1", "deprecated", "restricted"),
    ]
    ports = section((out / "customers/customer_profiles.html").read_text(), "ports")
    assert "deprecated after 2026-01-01" in ports and "removed after 2099-01-01" in ports
    assert "customers/customer_profiles@v2" in ports


def test_a_rebuild_removes_the_pages_of_products_that_no_longer_exist(project: Path, mesh_home: Path, tmp_path: Path):
    out = tmp_path / "site"
    env = home_env(mesh_home, project)
    build_catalog(out, env, cwd=project)
    assert (out / "marketing/customer_segments.html").is_file()
    (project / "domains/marketing/products/customer_segments.yaml").unlink()
    (project / "domains/marketing/products/customer_segments.py").unlink()
    summary = build_catalog(out, env, cwd=project)
    assert not (out / "marketing/customer_segments.html").exists()
    assert summary["removed"] == [str(out / "marketing/customer_segments.html")]


def visible_rows(page: chromium.Page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('#product-rows tr:not([hidden])')].map(r => r.dataset.key)")


def clear_search(page: chromium.Page) -> None:
    page.evaluate("(() => { const q = document.getElementById('q'); q.value = ''; q.focus(); })()")


def search_index(out: Path) -> list[dict]:
    html = (out / "index.html").read_text()
    found = re.search(r'<script type="application/json" id="search-index">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def expected_hits(out: Path, query: str) -> set[str]:
    """What the search must show: products whose indexed text holds every word of the query."""
    words = query.lower().split()
    return {d["key"] for d in search_index(out) if all(w in d["text"] for w in words)}


def test_the_catalog_search_filters_products_in_a_real_browser(site: tuple[Path, dict], tmp_path: Path):
    chromium.require()
    out, _ = site
    export = CatalogExport.model_validate_json((out / "catalog.json").read_text())
    shots = tmp_path / "screenshots"
    total = len(export.products)

    # A query string opens the index already filtered (also what `--dump-dom` sees).
    revenue = expected_hits(out, "revenue")
    assert "finance/daily_revenue" in revenue and len(revenue) < total
    dom = chromium.dump_dom((out / "index.html").as_uri() + "?q=revenue")
    assert f'data-results="{len(revenue)}"' in dom and f"{len(revenue)} of {total} products match" in dom
    shown = set(re.findall(r'<tr data-key="([^"]+)">', dom))
    hidden = set(re.findall(r'<tr data-key="([^"]+)" hidden="">', dom))
    assert shown == revenue and hidden == {p.key for p in export.products} - revenue

    with chromium.browser(tmp_path / "profile") as page:
        page.open((out / "index.html").as_uri())
        assert sorted(visible_rows(page)) == sorted(p.key for p in export.products)
        page.evaluate("document.getElementById('q').focus()")
        page.type("email crm")  # a column name and part of the owner's team
        hits = expected_hits(out, "email crm")
        assert "customers/customer_profiles" in hits and len(hits) < total
        page.wait_for(f"document.body.dataset.results === '{len(hits)}'")
        assert set(visible_rows(page)) == hits
        count = page.evaluate("document.getElementById('result-count').textContent")
        assert count == f"{len(hits)} of {total} products match"
        chromium.assert_png(page.screenshot(shots / "search.png"))

        clear_search(page)
        page.type("customer")  # products whose name matches come first
        hits = visible_rows(page)
        assert set(hits) == expected_hits(out, "customer")
        named = [h for h in hits if "customer" in h.split("/")[1]]
        assert named and hits[: len(named)] == named

        clear_search(page)
        page.type("no such thing")
        page.wait_for("document.body.dataset.results === '0'")
        assert page.evaluate("getComputedStyle(document.getElementById('no-results')).display") == "block"

        page.open((out / "index.html").as_uri())
        chromium.assert_png(page.screenshot(shots / "index.png"))
        page.evaluate("document.querySelector('a[href=\"customers/customer_profiles.html\"]').click()")
        page.wait_for("location.pathname.endsWith('customers/customer_profiles.html')")
        page.wait_for("document.readyState === 'complete'")
        assert page.evaluate("document.querySelector('h1').textContent") == "customer_profiles"
        assert page.evaluate("document.querySelector('#freshness .badge').textContent") == "fresh"
        assert page.evaluate("document.querySelectorAll('svg.lineage g.node').length") >= 6
        chromium.assert_png(page.screenshot(shots / "product.png"))
        page.evaluate("document.querySelector('.crumbs a').click()")
        page.wait_for("location.pathname.endsWith('/index.html')")
