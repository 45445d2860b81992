"""An independent ODCS tool accepts Meshwork's contracts and checks its published ports.

datacontract-cli (its own virtualenv, `.tools/datacontract`, made by `make install` from
`tools/datacontract/requirements.lock`) lints every contract of the example mesh and tests the data of
every published port through the ``servers`` entry the platform writes into the contract each
snapshot travels with. A broken contract and a port that breaks its contract fail them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow

DATACONTRACT = REPO / ".tools" / "datacontract" / "bin" / "datacontract"


@pytest.fixture(scope="module")
def datacontract() -> Path:
    if not DATACONTRACT.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{DATACONTRACT} is missing: `make install` creates it")
        pytest.skip("datacontract-cli is not installed (make install)")
    return DATACONTRACT


def run(tool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    # Its own environment: nothing of ours (MESH_*, the platform's venv) may make it pass.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run([str(tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def latest_contracts(home: Path) -> dict[str, Path]:
    found = {}
    for latest in sorted((home / "ports").glob("*/*/v*/latest")):
        port = latest.parent.relative_to(home / "ports").as_posix()
        found[port] = latest.parent / latest.read_text().strip() / "_contract.odcs.yaml"
    return found


def test_every_contract_passes_datacontract_lint_and_a_broken_one_fails(datacontract: Path, tmp_path: Path):
    contracts = sorted((REPO / "domains").glob("*/contracts/*.odcs.yaml"))
    assert len(contracts) == 7
    for path in contracts:
        linted = run(datacontract, "lint", str(path), cwd=tmp_path)
        assert linted.returncode == 0, (path.name, linted.stdout[-2000:])
    broken = tmp_path / "orders.odcs.yaml"
    # A v3.1 feature under a v3.0.2 declaration: the independent tool refuses it, as Meshwork does.
    text = (REPO / "domains/sales/contracts/orders.odcs.yaml").read_text()
    broken.write_text(text.replace("apiVersion: v3.1.0", "apiVersion: v3.0.2"))
    refused = run(datacontract, "lint", str(broken), cwd=tmp_path)
    assert refused.returncode != 0 and "timestamp" in refused.stdout, refused.stdout[-2000:]


def test_every_published_port_passes_datacontract_test(datacontract: Path, built_mesh: Path, tmp_path: Path):
    contracts = latest_contracts(built_mesh)
    assert len(contracts) == 7, contracts
    for port, contract in contracts.items():
        server = yaml.safe_load(contract.read_text())["servers"]
        assert server == [
            {"server": "meshwork", "type": "local", "path": f"{contract.parent}/data_*.parquet", "format": "parquet"}
        ]
        tested = run(datacontract, "test", str(contract), cwd=tmp_path)
        assert tested.returncode == 0, (port, tested.stdout[-3000:])
        assert "passed" in tested.stdout


def test_a_port_that_breaks_its_contract_fails_datacontract_test(datacontract: Path, built_mesh: Path, tmp_path: Path):
    contract = latest_contracts(built_mesh)["sales/order_lines/v1"]
    copy = tmp_path / "snapshot"
    shutil.copytree(contract.parent, copy)
    # The same rows with one duplicated line: (order_id, line_no) is the primary key.
    data = copy / "data_0.parquet"
    duckdb.sql(
        f"COPY (SELECT * FROM read_parquet('{contract.parent}/data_*.parquet') "
        f"UNION ALL (SELECT * FROM read_parquet('{contract.parent}/data_*.parquet') LIMIT 1)) "
        f"TO '{data}.new' (FORMAT parquet)"
    )
    for old in copy.glob("data_*.parquet"):
        old.unlink()
    Path(f"{data}.new").rename(data)
    document = yaml.safe_load((copy / "_contract.odcs.yaml").read_text())
    document["servers"][0]["path"] = f"{copy}/data_*.parquet"
    (copy / "_contract.odcs.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    tested = run(datacontract, "test", str(copy / "_contract.odcs.yaml"), cwd=tmp_path)
    assert tested.returncode != 0, tested.stdout[-3000:]
    assert "failed" in tested.stdout and "primary key" in tested.stdout.lower(), tested.stdout[-3000:]
