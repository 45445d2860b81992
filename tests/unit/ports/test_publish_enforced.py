"""Publish in the enforced mode, against a real control plane started in this process (the service's
Starlette app under uvicorn, its SQLite state in tmp_path, the local port store): the run writes its
snapshot, the control plane commits it (moves ``latest``, records the publication, writes the masked
variant with its own key) and the domain run never masks nor holds a masking key.

The full enforced mode (moto's S3 and IAM, ``mesh serve`` as its own process, vended credentials) is
``tests/integration/test_enforced_build.py``; this one is fast enough for the mutation pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import uvicorn

from meshwork.model.loader import load_mesh
from meshwork.ports import publish, service_client
from meshwork.service import app, audit_table, identities, meshmodel, reads, state
from meshwork.storage import snapshots, warehouse
from tests.enforced import free_port
from tests.unit.ports.test_publish_gate import PROFILES


@pytest.fixture
def plane(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A control plane on a free local port; this process holds the customers domain's token."""
    monkeypatch.setenv("MESH_SERVICE_HOME", str(tmp_path / "service"))
    monkeypatch.setattr(meshmodel, "_cached", None)  # the service loads this test's project copy
    with state.session() as s:
        issued = identities.issue(s, "domain", "customers")
        s.commit()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app.create_app(), host="127.0.0.1", port=port, log_level="warning", loop="asyncio")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise TimeoutError("the in-process control plane did not start")
        time.sleep(0.05)
    monkeypatch.setenv("MESH_SERVICE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MESH_SERVICE_TOKEN", issued.token)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def publish_profiles(project: Path, run_id: str | None, n: int = 4) -> publish.PublishOutcome:
    product = load_mesh(project).product("customers/customer_profiles")
    with warehouse.connect("customers") as con:
        con.execute(PROFILES.format(n=n).replace("email_address", "email"))
        return publish.publish(con, product, "customer_profiles", run_id)


def publications() -> list[state.Publication]:
    with state.session() as s:
        return list(s.query(state.Publication).order_by(state.Publication.id).all())


def test_the_control_plane_commits_the_snapshot_the_run_wrote(plane: str, project: Path, mesh_home: Path):
    (manifest,) = publish_profiles(project, "run-enf").manifests
    # latest moved by the service's commit, and the service recorded what it committed and for whom.
    assert snapshots.latest_snapshot("customers", "customer_profiles", 1) == manifest.snapshot_id
    (committed,) = publications()
    assert (committed.port, committed.snapshot_id, committed.committed_by) == (
        "customers/customer_profiles@v1",
        manifest.snapshot_id,
        "customers",
    )
    with state.session() as s:
        (entry,) = audit_table.query(s, "port.publish")
    assert (entry["action"], entry["port"], entry["snapshot"], entry["run_id"], entry["actor"]) == (
        "port.publish",
        "customers/customer_profiles@v1",
        manifest.snapshot_id,
        "run-enf",
        "customers",
    )
    # A second publish is committed as a second publication, each naming its own run.
    (second,) = publish_profiles(project, "run-two", n=5).manifests
    assert [p.snapshot_id for p in publications()] == [manifest.snapshot_id, second.snapshot_id]
    with state.session() as s:
        assert [e["run_id"] for e in audit_table.query(s, "port.publish")] == ["run-enf", "run-two"]
    assert snapshots.latest_snapshot("customers", "customer_profiles", 1) == second.snapshot_id


def test_only_the_control_plane_masks_with_its_own_key(plane: str, project: Path, mesh_home: Path):
    (manifest,) = publish_profiles(project, "run-enf").manifests
    # The run wrote no masked variant and never made (or read) a masking key of its own.
    assert manifest.masked is None
    assert not (mesh_home / "governance" / "masking.key").exists()
    # The service attached the variant to the stored manifest, masked with the service's key.
    stored = snapshots.read_manifest("customers", "customer_profiles", 1, manifest.snapshot_id)
    assert stored.masked and stored.files == manifest.files
    assert publications()[0].masked_files == [f.model_dump() for f in stored.masked]
    masked_files = snapshots.readable_files(stored, masked=True)[0]
    con = duckdb.connect()  # not duckdb.sql's default connection: a mutation run forks this process
    emails = con.execute(
        f"SELECT email FROM read_parquet({snapshots.sql_file_list(masked_files)}) ORDER BY customer_id"
    ).fetchall()
    key = reads.masking_key()[:32]
    expected = con.execute(
        f"SELECT left(sha256('{key}' || ('ada' || range || '@example.com')), 32) FROM range(4) ORDER BY range"
    ).fetchall()
    assert emails == expected


def test_a_commit_the_control_plane_refuses_fails_the_publish(
    plane: str, project: Path, monkeypatch: pytest.MonkeyPatch
):
    # Another domain's credential: the service refuses to commit customers' snapshot, latest stays unset.
    with state.session() as s:
        other = identities.issue(s, "domain", "sales")
        s.commit()
    monkeypatch.setenv("MESH_SERVICE_TOKEN", other.token)
    with pytest.raises(Exception, match=r"sales' cannot publish customers/customer_profiles@v1") as raised:
        publish_profiles(project, "run-enf")
    assert isinstance(raised.value, (service_client.PortAccessError, service_client.ServiceError))
    assert snapshots.latest_snapshot("customers", "customer_profiles", 1) is None
    assert publications() == []
