"""`mesh ports verify` checks every retained snapshot and the `latest` pointer, and never prints a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from meshwork.cli import main
from meshwork.core.errors import PortAccessError
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.ports.reader import PortReader
from meshwork.storage import snapshots, warehouse
from tests.conftest import mesh_cli
from tests.unit.storage.test_integrity import flip_in_place
from tests.unit.storage.test_ports import build_orders, publish_orders

REF = "sales/orders@v1"


@pytest.fixture
def mesh(project: Path):
    return load_mesh(project)


@pytest.fixture
def published(mesh) -> list[snapshots.Manifest]:
    """Three snapshots of sales/orders@v1, oldest first; the last is `latest`."""
    build_orders(100)
    return [publish_orders(mesh, run_id=f"run-{i}").manifests[0] for i in range(3)]


def verify(*args: str) -> Result:
    result = CliRunner().invoke(main, ["ports", "verify", *args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def line(result: Result, ref: str = REF) -> str:
    return next(x for x in result.output.splitlines() if x.startswith(ref))


def latest_file() -> Path:
    return snapshots.version_dir("sales", "orders", 1) / snapshots.LATEST


def test_an_intact_mesh_verifies_with_every_retained_snapshot_counted(published):
    result = verify()
    assert result.exit_code == 0, result.output
    assert line(result).split()[1:] == ["OK", "(3", "snapshots)"]
    report = json.loads(verify("--json").output)
    assert report["ok"] and report["ports"][REF] == []
    assert report["snapshots"][REF] == [m.snapshot_id for m in published]


def test_a_deleted_latest_is_a_failure_while_snapshots_are_stored(published):
    latest_file().unlink()
    result = verify()
    assert result.exit_code == 1
    assert f"{latest_file()} is missing" in line(result)
    assert "3 snapshot(s) are stored" in line(result) and published[-1].snapshot_id in line(result)
    report = json.loads(verify("--json").output)
    assert not report["ok"] and any("is missing" in p for p in report["ports"][REF])


@pytest.mark.parametrize("text", ["", "../../customers/customer_profiles/v1/x\n", "not an id!\n", "\x00\xff"])
def test_a_malformed_latest_is_a_failure_with_a_clear_line_and_no_traceback(published, text):
    latest_file().write_text(text, encoding="utf-8", errors="surrogateescape")
    result = verify()
    assert result.exit_code == 1
    assert f"{latest_file()} holds" in line(result) and "not a snapshot id" in line(result)


def test_a_malformed_latest_through_the_real_cli_exits_1_without_a_traceback(published):
    latest_file().write_text("garbage/../..\n", encoding="utf-8")
    proc = mesh_cli("ports", "verify", "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert any("not a snapshot id" in p for p in json.loads(proc.stdout)["ports"][REF])


def test_latest_naming_a_snapshot_without_a_manifest_is_a_failure(published):
    latest_file().write_text("20200101T000000000000Z-gone0000\n", encoding="utf-8")
    result = verify()
    assert result.exit_code == 1
    assert "names 20200101T000000000000Z-gone0000, which has no manifest" in line(result)


def test_a_damaged_file_of_a_retained_snapshot_is_found(published):
    oldest = published[0]
    file = snapshots.version_dir("sales", "orders", 1) / oldest.snapshot_id / oldest.files[0].path
    flip_in_place(file)
    result = verify()
    assert result.exit_code == 1
    assert f"{file} does not match its checksum" in line(result)


def test_a_malformed_manifest_of_a_retained_snapshot_is_a_failure(published):
    manifest = snapshots.version_dir("sales", "orders", 1) / published[1].snapshot_id / snapshots.MANIFEST
    manifest.write_text('{"domain": "sales"', encoding="utf-8")
    result = verify()
    assert result.exit_code == 1
    assert f"{manifest} is not a valid manifest" in line(result)


def test_a_manifest_copied_from_another_snapshot_is_a_failure(published):
    folder = snapshots.version_dir("sales", "orders", 1)
    (folder / published[0].snapshot_id / snapshots.MANIFEST).write_text(
        (folder / published[1].snapshot_id / snapshots.MANIFEST).read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = verify()
    assert result.exit_code == 1
    assert f"describes sales/orders/v1/{published[1].snapshot_id}, not this snapshot" in line(result)


def test_a_damaged_masked_variant_is_found(mesh):
    with warehouse.connect("customers") as con:
        con.execute("""CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
            'Ada' AS first_name, 'Lovelace' AS last_name, 'ada' || range || '@example.com' AS email,
            '+44 1' AS phone, DATE '1815-12-10' AS birth_date, 'Square' AS street, 'London' AS city,
            'SW1Y4' AS postcode, 'GB' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range(50)""")
        outcome = publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "r")
    (manifest,) = outcome.manifests
    assert manifest.masked
    masked = snapshots.version_dir("customers", "customer_profiles", 1) / manifest.snapshot_id / manifest.masked[0].path
    flip_in_place(masked)
    assert any(str(masked) in p for p in snapshots.verify(manifest))
    result = verify()
    assert result.exit_code == 1
    assert f"{masked} does not match its checksum" in line(result, "customers/customer_profiles@v1")


def test_a_reader_facing_a_malformed_latest_says_the_port_is_damaged(mesh, published):
    latest_file().write_text("../../x\n", encoding="utf-8")
    reader = PortReader(mesh, mesh.product("finance/daily_revenue"), duckdb.connect())
    with pytest.raises(PortAccessError, match=rf"{REF} is damaged: .*latest holds '../../x', not a snapshot id"):
        reader.resolve("sales/orders")


def test_a_store_that_fails_is_a_line_of_the_report_not_a_traceback(published, monkeypatch):
    from meshwork.storage.local_store import LocalPortStore

    def unreadable(self, version: str) -> list[str]:
        raise PermissionError(13, "Permission denied", str(self.path(version)))

    monkeypatch.setattr(LocalPortStore, "snapshot_ids", unreadable)
    result = verify()
    assert result.exit_code == 1
    assert "cannot check sales/orders@v1: PermissionError: [Errno 13] Permission denied" in line(result)
