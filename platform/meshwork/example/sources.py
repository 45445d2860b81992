"""Deterministic, seeded generator of the example company's operational source data.

Everything is produced by DuckDB from ``range()`` with hash-based pseudo-randomness and streamed
straight to files, so 10M orders need no more memory than 10k: nothing is materialised in Python.
Files land per source system, the way operational exports would:

    sources/shop/orders/orders.parquet          (sales: the web shop database export)
    sources/shop/order_lines/order_lines.parquet
    sources/crm/customers/customers.csv         (customers: the CRM export, PII)
    sources/helpdesk/tickets/tickets.jsonl      (support: the helpdesk API dump)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from meshwork.core import settings
from meshwork.storage import warehouse

DEFAULT_ORDERS = 2_000


@dataclass(frozen=True)
class Scale:
    orders: int = DEFAULT_ORDERS
    seed: int = 42

    @property
    def customers(self) -> int:
        return max(10, self.orders // 8)

    @property
    def tickets(self) -> int:
        return max(5, self.orders // 20)


def _u(expr: str, salt: int, seed: int) -> str:
    """A uniform pseudo-random double in [0, 1) derived from ``expr`` (deterministic per seed)."""
    return f"((hash({expr}, {seed * 1000 + salt}) % 1000000007) / 1000000007.0)"


def _pick(expr: str, salt: int, seed: int, values: list[str]) -> str:
    items = ", ".join(f"'{v}'" for v in values)
    return f"([{items}])[1 + floor({_u(expr, salt, seed)} * {len(values)})::INT]"


FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jules", "Kemal", "Lena"]
LAST = ["Almeida", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ito", "Jansen"]
CITIES = ["Lisbon", "Berlin", "Paris", "Madrid", "Oslo", "Vienna", "Dublin", "Warsaw", "Austin", "Toronto"]
COUNTRIES = ["PT", "DE", "FR", "ES", "NO", "AT", "IE", "PL", "US", "CA"]
REGIONS = ["EMEA", "EMEA", "EMEA", "EMEA", "EMEA", "EMEA", "EMEA", "EMEA", "AMER", "AMER"]
CURRENCIES = ["EUR", "EUR", "EUR", "EUR", "NOK", "EUR", "EUR", "PLN", "USD", "CAD"]


def _customers_sql(s: Scale) -> str:
    c = "i"
    country_idx = f"(1 + floor({_u(c, 9, s.seed)} * {len(COUNTRIES)})::INT)"
    countries = ", ".join(f"'{v}'" for v in COUNTRIES)
    cities = ", ".join(f"'{v}'" for v in CITIES)
    return f"""
        SELECT
            i AS customer_id,
            {_pick(c, 1, s.seed, FIRST)} AS first_name,
            {_pick(c, 2, s.seed, LAST)} AS last_name,
            'customer' || i || '@example.com' AS email,
            '+351 9' || lpad(CAST(hash(i, {s.seed}) % 100000000 AS VARCHAR), 8, '0') AS phone,
            DATE '1950-01-01' + CAST(floor({_u(c, 3, s.seed)} * 20000) AS INTEGER) AS birth_date,
            CAST(1 + floor({_u(c, 4, s.seed)} * 250) AS INTEGER) || ' Market Street' AS street,
            ([{cities}])[{country_idx}] AS city,
            lpad(CAST(floor({_u(c, 5, s.seed)} * 99999) AS INTEGER)::VARCHAR, 5, '0') AS postcode,
            ([{countries}])[{country_idx}] AS country,
            TIMESTAMP '2020-01-01' + to_seconds(CAST(floor({_u(c, 6, s.seed)} * 126000000) AS BIGINT))
                AS created_at
        FROM range(1, {s.customers + 1}) t(i)
    """


def _orders_sql(s: Scale) -> str:
    o = "i"
    customer = f"(1 + floor({_u(o, 11, s.seed)} * {s.customers})::BIGINT)"
    country_idx = f"(1 + floor({_u(customer, 9, s.seed)} * {len(COUNTRIES)})::INT)"
    regions = ", ".join(f"'{v}'" for v in REGIONS)
    currencies = ", ".join(f"'{v}'" for v in CURRENCIES)
    status = _pick(o, 12, s.seed, ["completed"] * 8 + ["cancelled", "refunded"])
    return f"""
        SELECT
            i AS order_id,
            {customer} AS customer_id,
            TIMESTAMP '2024-01-01' + to_seconds(CAST(floor({_u(o, 13, s.seed)} * 63072000) AS BIGINT))
                AS order_ts,
            {status} AS status,
            ([{regions}])[{country_idx}] AS region,
            ([{currencies}])[{country_idx}] AS currency,
            {_pick(o, 14, s.seed, ["web", "web", "app", "marketplace"])} AS channel
        FROM range(1, {s.orders + 1}) t(i)
    """


def _order_lines_sql(s: Scale) -> str:
    # 1 to 4 lines per order; the line count is derived from the order id, so it is stable.
    n_lines = f"(1 + floor({_u('o.i', 21, s.seed)} * 4)::INT)"
    line = "(o.i * 10 + l.n)"
    return f"""
        SELECT
            o.i AS order_id,
            l.n AS line_no,
            'SKU-' || lpad(CAST(floor({_u(line, 22, s.seed)} * 5000) AS INTEGER)::VARCHAR, 5, '0') AS sku,
            CAST(1 + floor({_u(line, 23, s.seed)} * 5) AS INTEGER) AS quantity,
            CAST(round(2 + {_u(line, 24, s.seed)} * 198, 2) AS DECIMAL(12, 2)) AS unit_price
        FROM range(1, {s.orders + 1}) o(i)
        JOIN range(1, 5) l(n) ON l.n <= {n_lines}
    """


def _tickets_sql(s: Scale) -> str:
    t = "i"
    opened = f"TIMESTAMP '2024-01-01' + to_seconds(CAST(floor({_u(t, 31, s.seed)} * 63072000) AS BIGINT))"
    return f"""
        SELECT
            'T-' || lpad(i::VARCHAR, 8, '0') AS ticket_id,
            (1 + floor({_u(t, 32, s.seed)} * {s.customers})::BIGINT) AS customer_id,
            strftime({opened}, '%Y-%m-%dT%H:%M:%S') AS opened_at,
            CASE WHEN {_u(t, 33, s.seed)} < 0.85
                 THEN strftime({opened} + to_seconds(CAST(floor({_u(t, 34, s.seed)} * 604800) AS BIGINT)),
                               '%Y-%m-%dT%H:%M:%S')
            END AS closed_at,
            {_pick(t, 35, s.seed, ["email", "chat", "phone"])} AS channel,
            {_pick(t, 36, s.seed, ["low", "low", "normal", "normal", "high", "urgent"])} AS priority,
            {_pick(t, 37, s.seed, ["delivery", "payment", "returns", "product", "account"])} AS category,
            CASE WHEN {_u(t, 38, s.seed)} < 0.7 THEN CAST(1 + floor({_u(t, 39, s.seed)} * 5) AS INTEGER) END
                AS satisfaction
        FROM range(1, {s.tickets + 1}) t(i)
    """


@dataclass(frozen=True)
class SourceTable:
    system: str
    table: str
    fmt: str
    sql: Callable[[Scale], str]

    @property
    def options(self) -> str:
        return {
            "parquet": "FORMAT parquet, COMPRESSION zstd",
            "csv": "FORMAT csv, HEADER true",
            "jsonl": "FORMAT json",
        }[self.fmt]


TABLES = [
    SourceTable("shop", "orders", "parquet", _orders_sql),
    SourceTable("shop", "order_lines", "parquet", _order_lines_sql),
    SourceTable("crm", "customers", "csv", _customers_sql),
    SourceTable("helpdesk", "tickets", "jsonl", _tickets_sql),
]


def generate(
    scale: Scale, root: Path | None = None, progress: Callable[[str], None] = lambda _: None
) -> dict[str, int]:
    """Write every source table under ``root`` (default: the mesh's source landing zone).

    Each file is written next to its final name and renamed into place, so an interrupted run
    never leaves a half-written export behind. Returns the row count per ``system.table``.
    """
    root = root or settings.sources_dir()
    counts: dict[str, int] = {}
    con = warehouse.memory_connection()
    try:
        for t in TABLES:
            folder = root / t.system / t.table
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / f"{t.table}.{t.fmt}"
            tmp = folder / f".{t.table}.{t.fmt}.tmp"
            progress(f"generating {t.system}.{t.table} ({t.fmt})")
            # COPY answers with the number of rows it wrote.
            row = con.execute(f"COPY ({t.sql(scale)}) TO '{tmp}' ({t.options})").fetchone()
            tmp.replace(final)
            counts[f"{t.system}.{t.table}"] = int(row[0]) if row else 0
    finally:
        con.close()
    return counts


def reset(root: Path | None = None) -> None:
    shutil.rmtree(root or settings.sources_dir(), ignore_errors=True)
