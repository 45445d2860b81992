"""A bad landing file is told clearly before ingest: the file, the line or column, and the reason.

Before: a truncated CSV said "unexpected column(s) ['id,sku,…']" (DuckDB's sniffer read it as one
column), a CSV saved as .parquet or landed where Parquet is read reached dbt as an "IO Error", text
in a numeric column was a stack trace, and a header-only CSV ingested nothing without a word.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from meshwork.core import settings
from meshwork.model.descriptors import SourceRef
from meshwork.model.loader import load_mesh
from meshwork.storage import landing

SOURCE = SourceRef(system="shop", table="lines", columns=["id", "sku", "quantity", "note"])
TYPES = {"id": "BIGINT", "sku": "VARCHAR", "quantity": "INTEGER", "note": "VARCHAR"}
CSV = 'id,sku,quantity,note\n1,A-1,2,plain\n2,B-2,5,"a note, with a comma\nand a newline"\n3,C-3,1,\n'


def folder() -> Path:
    path = settings.sources_dir() / "shop" / "lines"
    path.mkdir(parents=True, exist_ok=True)
    return path


def land(name: str, content: bytes | str) -> Path:
    file = folder() / name
    file.write_bytes(content.encode() if isinstance(content, str) else content)
    return file


def land_query(name: str, select: str, fmt: str) -> Path:
    file = folder() / name
    duckdb.connect().execute(f"COPY ({select}) TO '{file}' ({fmt})")
    return file


def problems(reads: str | None = None) -> list[str]:
    return landing.schema_problems(duckdb.connect(), SOURCE, TYPES, reads)


def test_good_files_of_every_format_pass():
    land("lines.csv", CSV)
    land("more.csv", CSV.replace(",", ";").replace('"a note; with a comma', '"a note, with a comma'))
    land_query("lines.parquet", "SELECT 1::BIGINT AS id, 'A' AS sku, 2 AS quantity, 'n' AS note", "FORMAT parquet")
    land("lines.jsonl", '{"id": 1, "sku": "A", "quantity": 2, "note": null}\n')
    assert problems() == []


def test_a_truncated_csv_names_the_line_and_the_field_counts():
    file = land("lines.csv", CSV + "4,D-4")
    assert problems() == [f"{file} line 6: 2 fields, the header has 4 (the file is truncated?)"]


def test_a_short_line_inside_a_csv_is_not_called_a_truncation():
    file = land("lines.csv", CSV.replace("3,C-3,1,\n", "3,C-3\n") + "5,E,1,x,extra\n")
    assert problems() == [f"{file} line 5: 2 fields, the header has 4 (and 1 more bad line(s))"]


def test_a_header_only_csv_is_a_failure():
    file = land("lines.csv", "id,sku,quantity,note\n")
    assert problems() == [f"{file} has a header and no rows"]


def test_a_csv_that_is_not_utf8_names_the_line():
    file = land("lines.csv", CSV.encode().replace(b"plain", b"Stra\xdfe"))
    assert problems() == [f"{file} line 2: not UTF-8 text (export the file as UTF-8)"]


def test_text_in_a_numeric_csv_column_names_line_column_value_and_type():
    file = land("lines.csv", CSV.replace("3,C-3,1,", "3,C-3,lots,"))
    assert problems() == [f"{file} line 5: column 'quantity' holds text ('lots') where the contract says INTEGER"]


def test_a_csv_saved_as_parquet_is_told_as_such():
    file = land("lines.parquet", CSV)
    assert problems() == [f"{file} is not a Parquet file (it looks like CSV)"]


def test_a_truncated_parquet_file_is_told_as_such():
    file = land_query(
        "lines.parquet", "SELECT 1::BIGINT AS id, 'A' AS sku, 2 AS quantity, 'n' AS note", "FORMAT parquet"
    )
    file.write_bytes(file.read_bytes()[:-10])
    assert problems() == [f"{file} is not a complete Parquet file (its footer is missing: truncated?)"]


def test_parquet_where_csv_is_expected_is_told_as_such():
    parquet = land_query("x.parquet", "SELECT 1 AS id", "FORMAT parquet")
    file = land("lines.csv", parquet.read_bytes())
    parquet.unlink()
    assert problems() == [f"{file} is not a CSV file (it looks like Parquet)"]


def test_text_in_a_numeric_parquet_column_names_column_value_row_and_type():
    select = (
        "SELECT i::BIGINT AS id, 'A' AS sku, CASE WHEN i = 12 THEN 'abc' ELSE i::VARCHAR END AS quantity, "
        "'n' AS note FROM range(1, 20) t(i)"
    )
    file = land_query("lines.parquet", select, "FORMAT parquet")
    assert problems() == [f"{file}: column 'quantity' holds text ('abc' in row 12) where the contract says INTEGER"]


def test_numbers_written_as_text_in_parquet_pass():
    select = "SELECT i::BIGINT AS id, 'A' AS sku, i::VARCHAR AS quantity, 'n' AS note FROM range(1, 5) t(i)"
    land_query("lines.parquet", select, "FORMAT parquet")
    assert problems() == []


def test_text_in_a_numeric_json_lines_field_names_the_line():
    good = '{"id": 1, "sku": "A", "quantity": 2, "note": null}\n'
    file = land("lines.jsonl", good * 3 + good.replace("2,", '"two",') + good)
    assert problems() == [f"{file} line 4: column 'quantity' holds text ('two') where the contract says INTEGER"]


def test_a_file_of_another_format_than_the_product_reads_is_told_as_such():
    file = land("lines.csv", CSV)
    assert problems(reads=".parquet") == [
        f"{file} is a CSV file where shop.lines is read as Parquet (*.parquet): it would not be ingested",
        f"{folder()} has no Parquet file (*.parquet) to ingest",
    ]


@pytest.mark.slow  # parses the dbt project, whose sources say which format they read
def test_a_csv_landed_where_a_dbt_source_reads_parquet_fails_the_landing_check(project: Path):
    product = load_mesh(project).products["sales/orders"]
    orders = settings.sources_dir() / "shop" / "orders"
    orders.mkdir(parents=True)
    (orders / "orders.csv").write_text(
        "order_id,customer_id,order_ts,status,region,currency,channel\n1,2,2025-01-01 00:00:00,completed,EMEA,EUR,web\n"
    )
    found = landing.ingest_problems(duckdb.connect(), [product])
    assert f"sales/orders: {orders / 'orders.csv'} is a CSV file where shop.orders is read as Parquet" in found[0]
