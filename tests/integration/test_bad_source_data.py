"""A catalogue of bad source data: each kind is caught with a clear message and nothing is published."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.conftest import mesh_cli

pytestmark = pytest.mark.slow

TICKETS = "sources/helpdesk/tickets/tickets.jsonl"
ORDERS = "sources/shop/orders/orders.parquet"
LINES = "sources/shop/order_lines/order_lines.parquet"
CUSTOMERS = "sources/crm/customers/customers.csv"


def rewrite(home: Path, relpath: str, select: str) -> None:
    """Replace a landing file by ``select`` over its current rows (``src``), in the same format."""
    file = home / relpath
    scan = {
        ".jsonl": f"read_json('{file}', format = 'newline_delimited')",
        ".parquet": f"read_parquet('{file}')",
        ".csv": f"read_csv('{file}', header = true, all_varchar = true)",
    }[file.suffix]
    fmt = {".jsonl": "FORMAT json", ".parquet": "FORMAT parquet", ".csv": "FORMAT csv, HEADER true"}[file.suffix]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE src AS SELECT * FROM {scan}")
    tmp = file.with_name("rewritten" + file.suffix)
    con.execute(f"COPY ({select}) TO '{tmp}' ({fmt})")
    os.replace(tmp, file)


def set_value(home: Path, relpath: str, where: str, column: str, value: str, other: str | None = None) -> None:
    """Set ``column`` to the SQL ``value`` on the rows matching ``where`` (others keep ``other``)."""
    keep = other or column
    rewrite(home, relpath, f"SELECT * REPLACE (CASE WHEN {where} THEN {value} ELSE {keep} END AS {column}) FROM src")


def raw(home: Path, relpath: str, change: Callable[[bytes], bytes]) -> None:
    file = home / relpath
    file.write_bytes(change(file.read_bytes()))


# kind -> (domain to build, how to break its source, what the failure must say)
CASES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "null where forbidden": (
        "support",
        lambda h: set_value(h, TICKETS, "ticket_id = 'T-00000003'", "ticket_id", "NULL"),
        "'ticket_id' is never empty",
    ),
    "duplicate key": (
        "support",
        lambda h: rewrite(h, TICKETS, "SELECT * FROM src UNION ALL SELECT * FROM src WHERE ticket_id = 'T-00000007'"),
        "'ticket_id' is unique",
    ),
    "wrong type": (
        "sales",
        lambda h: set_value(h, ORDERS, "order_id = 5", "order_ts", "'last tuesday'", "CAST(order_ts AS VARCHAR)"),
        "last tuesday",
    ),
    "missing column": (
        "support",
        lambda h: rewrite(h, TICKETS, "SELECT * EXCLUDE (channel) FROM src"),
        "lacks column(s) ['channel']",
    ),
    "extra column": (
        "support",
        lambda h: rewrite(h, TICKETS, "SELECT *, 'agent' || ticket_id AS agent FROM src"),
        "unexpected column(s) ['agent']",
    ),
    "renamed column": (
        "sales",
        lambda h: rewrite(h, ORDERS, "SELECT * RENAME (customer_id AS client_id) FROM src"),
        "lacks column(s) ['customer_id']",
    ),
    "empty input": (
        "sales",
        lambda h: rewrite(h, LINES, "SELECT * FROM src LIMIT 0"),
        "the row count must be greater than 0 (it is 0)",
    ),
    "out-of-range value": (
        "support",
        lambda h: set_value(h, TICKETS, "ticket_id = 'T-00000002'", "satisfaction", "9"),
        "'satisfaction' lies in [1, 5]",
    ),
    "unknown enum value": (
        "support",
        lambda h: set_value(h, TICKETS, "ticket_id = 'T-00000004'", "channel", "'fax'"),
        "'channel' is one of",
    ),
    "broken foreign key": (
        "support",
        lambda h: set_value(h, TICKETS, "ticket_id = 'T-00000005'", "customer_id", "987654321"),
        "every 'customer_id' exists in customers/customer_profiles.customer_id",
    ),
    "PII in a public column": (
        "support",
        lambda h: set_value(h, TICKETS, "ticket_id = 'T-00000006'", "category", "'ring me on +44 20 7946 0958'"),
        "'category' (public) holds no e-mail address or phone number",
    ),
    "malformed file": (
        "support",
        lambda h: raw(h, TICKETS, lambda b: b[: len(b) // 2] + b'{"ticket_id": "T-1", "customer_id": \n'),
        "tickets.jsonl cannot be read as jsonl",
    ),
    "non-UTF-8 text": (
        "customers",
        lambda h: raw(h, CUSTOMERS, lambda b: b.replace(b"Market Street", b"Market Stra\xdfe", 1)),
        "customers.csv",
    ),
}


# kind -> the landing file it breaks (whose product must not publish)
FILES = {
    **{k: TICKETS for k in CASES if CASES[k][0] == "support"},
    "wrong type": ORDERS,
    "renamed column": ORDERS,
    "empty input": LINES,
    "non-UTF-8 text": CUSTOMERS,
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """customers, sales and support built once; each case breaks a copy of it."""
    home = tmp_path_factory.mktemp("bad-data-base") / "mesh_home"
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    result = mesh_cli(
        "build", "--orders", "300", "--domain", "customers", "--domain", "sales", "--domain", "support", env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return home


OWNER = {
    TICKETS: "support/tickets",
    ORDERS: "sales/orders",
    LINES: "sales/order_lines",
    CUSTOMERS: "customers/customer_profiles",
}


def published(home: Path, product: str) -> dict[str, str]:
    """The product's latest pointers and the manifests of all its snapshots."""
    return {
        str(p.relative_to(home)): p.read_text()
        for p in sorted((home / "ports" / product).rglob("*"))
        if p.is_file() and (p.name in ("latest", "_manifest.json"))
    }


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_source_data_is_caught_and_nothing_is_published(kind: str, base: Path, tmp_path: Path):
    domain, breaks, says = CASES[kind]
    product = OWNER[FILES[kind]]
    home = tmp_path / "broken_home"
    shutil.copytree(base, home)
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    before = published(home, product)
    assert before
    breaks(home)
    result = mesh_cli("build", "--domain", domain, env=env)
    logs = "\n".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*.log"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert says in logs + result.stdout + result.stderr, f"{kind}: expected '{says}' in the failure:\n{logs[-4000:]}"
    assert published(home, product) == before, f"{kind}: {product} was published"
