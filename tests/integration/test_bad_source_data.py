"""A catalogue of bad source data and hostile definitions: each is caught with a clear message, nothing is published."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.conftest import copy_project, mesh_cli

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


def rewrite_as_csv(home: Path, relpath: str, target: str | None = None) -> None:
    """Replace a Parquet landing file by its rows as CSV, under ``target`` (default: the same name)."""
    file, out = home / relpath, home / (target or relpath)
    tmp = file.with_name("as-csv.tmp")
    duckdb.connect().execute(f"COPY (SELECT * FROM read_parquet('{file}')) TO '{tmp}' (FORMAT csv, HEADER true)")
    file.unlink()
    os.replace(tmp, out)


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
        "customers.csv line 2: not UTF-8 text",
    ),
    "header-only CSV": (
        "customers",
        lambda h: raw(h, CUSTOMERS, lambda b: b.split(b"\n")[0] + b"\n"),
        "customers.csv has a header and no rows",
    ),
    "truncated CSV": (
        "customers",
        lambda h: raw(h, CUSTOMERS, lambda b: b[: b.rindex(b"\n", 0, len(b) - 1) + 12]),
        "fields, the header has 11 (the file is truncated?)",
    ),
    "CSV where Parquet is expected": (
        "sales",
        lambda h: rewrite_as_csv(h, ORDERS),
        "orders.parquet is not a Parquet file (it looks like CSV)",
    ),
    "CSV landed instead of Parquet": (
        "sales",
        lambda h: rewrite_as_csv(h, ORDERS, ORDERS.replace(".parquet", ".csv")),
        "orders.csv is a CSV file where shop.orders is read as Parquet (*.parquet)",
    ),
    "text in a numeric Parquet column": (
        "sales",
        lambda h: set_value(h, LINES, "order_id = 5 AND line_no = 1", "quantity", "'abc'", "CAST(quantity AS VARCHAR)"),
        "column 'quantity' holds text ('abc' in row 5) where the contract says INTEGER",
    ),
}


# kind -> the landing file it breaks (whose product must not publish)
FILES = {
    **{k: TICKETS for k in CASES if CASES[k][0] == "support"},
    **{k: CUSTOMERS for k in CASES if CASES[k][0] == "customers"},
    "wrong type": ORDERS,
    "renamed column": ORDERS,
    "CSV where Parquet is expected": ORDERS,
    "CSV landed instead of Parquet": ORDERS,
    "empty input": LINES,
    "text in a numeric Parquet column": LINES,
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


def alias_bomb() -> str:
    """A "billion laughs" of 2 KB: each level repeats the previous one nine times (9**9 values)."""
    text = "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    return (
        "x-laughs:\n" + text + "".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    )


# kind -> (file of the project to break, text to replace, replacement, what `mesh check` must say)
DEFINITION_CASES: dict[str, tuple[str, str, str, str]] = {
    "YAML alias bomb": (
        "domains/sales/contracts/orders.odcs.yaml",
        "apiVersion: v3.1.0\n",
        "apiVersion: v3.1.0\n" + alias_bomb(),
        "orders.odcs.yaml: field 'outputPorts.0.contractId': product 'sales/orders': more than 1,000,000 values "
        "once its aliases are expanded (a limit against alias bombs)",
    ),
    "newline in a column name": (
        "domains/sales/contracts/orders.odcs.yaml",
        " name: order_id,",
        ' name: "order_id\\n",',
        "'order_id\\n' is not a valid column name",
    ),
    "newline in a domain name": (
        "domains/sales/domain.yaml",
        "name: sales\n",
        'name: "sales\\n"\n',
        "domain.yaml: field 'name': String should match pattern",
    ),
}


@pytest.mark.timeout(300)  # a generous bound: the alias bomb once ran for 86 s into a MemoryError
@pytest.mark.parametrize("kind", list(DEFINITION_CASES))
def test_a_hostile_definition_is_a_problem_mesh_check_names(kind: str, tmp_path: Path):
    relative, old, new, says = DEFINITION_CASES[kind]
    project = copy_project(tmp_path / "project")
    path = project / relative
    text = path.read_text()
    assert old in text, f"the example changed: {old!r} is no longer in {relative}"
    path.write_text(text.replace(old, new, 1))
    env = {**os.environ, "MESH_HOME": str(tmp_path / "home"), "MESH_PROJECT_DIR": str(project)}
    result = mesh_cli("check", cwd=project, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stdout + result.stderr, f"{kind}: expected {says!r} in:\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
