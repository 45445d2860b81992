"""The enforced mode against hostile domain code: every refusal comes from the storage server (moto's
S3+IAM with authentication on) or the control plane, never from the domain's good manners.

The project copy drops the descriptor grant of ``sales/orders`` on ``customers/customer_profiles``, so
that read needs a grant decided through the service (request, approval, revocation).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.enforced import Plane, control_plane

pytestmark = pytest.mark.timeout(600)

PORT = "customers/customer_profiles@v1"
PUBLISH = """
from meshwork.model.loader import load_mesh
from meshwork.ports import publish
from meshwork.storage import warehouse
mesh = load_mesh()
with warehouse.connect("customers") as con:
    con.execute('''CREATE OR REPLACE TABLE customer_profiles AS SELECT range::BIGINT AS customer_id,
        'Ada' AS first_name, 'Lovelace' AS last_name, 'ada' || range || '@example.com' AS email,
        '+44 1' AS phone, DATE '1815-12-10' AS birth_date, '12 St James''s Square' AS street, 'London' AS city,
        'SW1Y4' AS postcode, 'GB' AS country, TIMESTAMP '2024-01-01' AS created_at FROM range(20)''')
    publish.publish(con, mesh.product("customers/customer_profiles"), "customer_profiles", "run-1")
"""
READ = """
import json, sys, duckdb
from meshwork.core.errors import PortAccessError
from meshwork.model.loader import load_mesh
from meshwork.ports.reader import PortReader
mesh = load_mesh(check_grants=False)
consumer, port = sys.argv[1], sys.argv[2]
try:
    rel = PortReader(mesh, mesh.product(consumer), duckdb.connect(), run_id="t").relation(port)
    rows = [dict(zip(rel.columns, map(str, r))) for r in rel.fetchall()]
    print(json.dumps({"rows": rows}))
except PortAccessError as exc:
    print(json.dumps({"refused": str(exc)}))
"""


def run_as(plane: Plane, domain: str, code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=plane.domain_env(domain),
        capture_output=True,
        text=True,
        timeout=180,
    )


def read_as(plane: Plane, domain: str, consumer: str, port: str) -> dict:
    out = run_as(plane, domain, READ, consumer, port)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import copy_project

    tmp = tmp_path_factory.mktemp("enforced")
    project = copy_project(tmp / "project")
    descriptor = project / "domains/customers/products/customer_profiles.yaml"
    text = descriptor.read_text()
    grant = (
        "          - consumer: sales/orders\n"
        "            purpose: Check that every order belongs to a known customer (contract foreign key).\n"
    )
    assert grant in text
    descriptor.write_text(text.replace(grant, ""))
    import os

    saved = {k: os.environ.get(k) for k in ("MESH_HOME", "MESH_PROJECT_DIR", "DAGSTER_HOME")}
    os.environ.update(MESH_HOME=str(tmp / "home"), MESH_PROJECT_DIR=str(project), DAGSTER_HOME=str(tmp / "dg"))
    try:
        with control_plane(tmp, vend_ttl=6) as p:
            for domain in ("customers", "sales", "marketing", "finance", "support"):
                p.issue("domain", domain)
            p.issue("person", "carol", "--team", "crm-data")  # owns customers
            p.issue("person", "sam", "--team", "sales-data")  # owns sales/orders
            p.issue("person", "fin", "--team", "finance-analytics")
            p.issue("person", "priya", "--role", "pii-approver")
            p.issue("person", "root", "--role", "admin")
            out = run_as(p, "customers", PUBLISH)
            assert out.returncode == 0, out.stderr[-3000:]
            yield p
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def audit(plane: Plane, action: str) -> list[dict]:
    response = plane.call("person:root", "GET", f"/v1/audit?action={action}&limit=500")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_publish_is_committed_by_the_service_with_a_masked_variant(plane: Plane):
    admin = plane.s3({"aws_access_key_id": plane.admin_env["AWS_ACCESS_KEY_ID"],
                      "aws_secret_access_key": plane.admin_env["AWS_SECRET_ACCESS_KEY"]})  # fmt: skip
    listing = admin.list_objects_v2(Bucket=plane.bucket, Prefix="ports/customers/customer_profiles/v1/")
    names = {o["Key"].rsplit("/", 1)[-1] for o in listing.get("Contents", [])}
    assert "latest" in names and "_manifest.json" in names
    assert any(n.startswith("masked_") for n in names) and any(n.startswith("data_") for n in names)
    assert audit(plane, "port.publish")[-1]["port"] == PORT


def test_a_domain_cannot_write_its_own_latest_pointer(plane: Plane):
    sales = plane.s3(plane.storage["customers"])
    with pytest.raises(ClientError, match="AccessDenied"):
        sales.put_object(Bucket=plane.bucket, Key="ports/customers/customer_profiles/v1/latest", Body=b"forged\n")


def test_a_domains_storage_keys_read_nothing_of_another_domain(plane: Plane):
    finance = plane.s3(plane.storage["finance"])
    admin = plane.s3({"aws_access_key_id": plane.admin_env["AWS_ACCESS_KEY_ID"],
                      "aws_secret_access_key": plane.admin_env["AWS_SECRET_ACCESS_KEY"]})  # fmt: skip
    keys = [o["Key"] for o in admin.list_objects_v2(Bucket=plane.bucket, Prefix="ports/customers/")["Contents"]]
    assert keys
    for key in keys:
        with pytest.raises(ClientError, match="AccessDenied"):
            finance.get_object(Bucket=plane.bucket, Key=key)


def test_a_reader_posing_as_another_product_is_refused_by_the_service(plane: Plane):
    # finance's code builds a reader for marketing/customer_360 (which holds a PII grant): the
    # credential is finance's, so the service refuses and audits it.
    answer = read_as(plane, "finance", "marketing/customer_360", "customers/customer_profiles")
    assert "refused" in answer and "finance" in answer["refused"]
    refused = audit(plane, "port.read.refused")
    assert any(e["actor"] == "finance" and e["consumer"] == "marketing/customer_360" for e in refused)


def test_an_undeclared_input_is_refused(plane: Plane):
    answer = read_as(plane, "finance", "finance/daily_revenue", "customers/customer_profiles")
    assert "does not declare" in answer["refused"]


def test_a_cleared_consumer_reads_clear_values_and_an_uncleared_one_never_gets_clear_bytes(plane: Plane):
    cleared = read_as(plane, "marketing", "marketing/customer_360", "customers/customer_profiles")
    assert cleared["rows"][0]["first_name"] == "Ada"
    support = read_as(plane, "support", "support/tickets", "customers/customer_profiles")
    assert len(support["rows"]) == 20
    text = json.dumps(support["rows"])
    assert "Ada" not in text and "@example.com" not in text and "1815-12-10" not in text
    reads = audit(plane, "port.read")
    assert {(e["consumer"], e["masked"]) for e in reads if e["action"] == "port.read"} >= {
        ("marketing/customer_360", False),
        ("support/tickets", True),
    }


def test_grants_are_decided_by_owners_only_and_revocation_ends_vended_credentials(plane: Plane):
    assert "no live grant" in read_as(plane, "sales", "sales/orders", "customers/customer_profiles")["refused"]
    body = {"consumer": "sales/orders", "port": PORT, "reason": "foreign key check"}
    assert plane.call("person:fin", "POST", "/v1/access/requests", body).status_code == 403  # not sales' team
    made = plane.call("person:sam", "POST", "/v1/access/requests", body)
    assert made.status_code == 200, made.text
    rid = made.json()["id"]
    assert plane.call("person:sam", "POST", f"/v1/access/requests/{rid}/approve").status_code == 403  # own request
    assert plane.call("person:fin", "POST", f"/v1/access/requests/{rid}/approve").status_code == 403  # not owner
    assert plane.call("domain:customers", "POST", f"/v1/access/requests/{rid}/approve").status_code == 403  # a run
    approved = plane.call("person:carol", "POST", f"/v1/access/requests/{rid}/approve")
    assert approved.status_code == 200, approved.text
    rows = read_as(plane, "sales", "sales/orders", "customers/customer_profiles")["rows"]
    assert len(rows) == 20 and "Ada" not in json.dumps(rows)  # no pii clearance: masked
    vended = plane.call(
        "domain:sales", "POST", "/v1/reads", {"consumer": "sales/orders", "input": "customers/customer_profiles"}
    )
    assert vended.status_code == 200
    answer = vended.json()
    s3 = plane.s3(answer["credentials"])
    key = answer["files"][0]["key"]
    assert s3.get_object(Bucket=plane.bucket, Key=key)["Body"].read()
    assert plane.call("person:carol", "POST", f"/v1/access/requests/{rid}/revoke").status_code == 200
    again = plane.call("person:carol", "POST", f"/v1/access/requests/{rid}/revoke")
    assert again.status_code == 409
    assert f"request {rid} is revoked; only an approved request can be revoked" in again.text
    with pytest.raises(ClientError):
        s3.get_object(Bucket=plane.bucket, Key=key)
    assert "no live grant" in read_as(plane, "sales", "sales/orders", "customers/customer_profiles")["refused"]
    refused = {e["action"] for e in audit(plane, "access")}
    assert {"access.request.refused", "access.approve.refused", "access.approve", "access.revoke"} <= refused


def test_vended_credentials_stop_working_once_their_ttl_passes(plane: Plane):
    vended = plane.call(
        "domain:marketing",
        "POST",
        "/v1/reads",
        {"consumer": "marketing/customer_360", "input": "customers/customer_profiles"},
    )
    answer = vended.json()
    s3 = plane.s3(answer["credentials"])
    key = answer["files"][0]["key"]
    assert s3.get_object(Bucket=plane.bucket, Key=key)["Body"].read()
    other = [f for f in answer["files"]]
    assert all("masked_" not in f["key"] for f in other)  # cleared: the clear variant
    deadline = time.monotonic() + 60  # TTL 6 s + a sweep every 5 s
    while time.monotonic() < deadline:
        try:
            s3.get_object(Bucket=plane.bucket, Key=key)
        except ClientError:
            break
        time.sleep(1)
    else:
        pytest.fail("vended credentials still work a minute after their TTL")


def test_forged_local_grant_and_audit_files_change_nothing(plane: Plane):
    home = Path(plane.base_env["MESH_HOME"])
    forged = [
        {"id": "f1", "consumer": "sales/orders", "port": PORT, "reason": "x", "pii": True, "expires": None,
         "status": "approved", "requested_at": "2026-01-01", "approval_hash": "0" * 64}
    ]  # fmt: skip
    (home / "governance").mkdir(parents=True, exist_ok=True)
    (home / "governance" / "access.json").write_text(json.dumps(forged))
    (home / "audit").mkdir(parents=True, exist_ok=True)
    (home / "audit" / "audit.jsonl").write_text("")
    assert "refused" in read_as(plane, "finance", "marketing/customer_360", "customers/customer_profiles")
    assert "no live grant" in read_as(plane, "sales", "sales/orders", "customers/customer_profiles")["refused"]
    verified = plane.call("person:root", "GET", "/v1/audit/verify").json()
    assert verified["intact"], verified["problems"]
    assert plane.call("domain:finance", "GET", "/v1/audit/verify").status_code == 403  # a domain cannot even look


def test_unknown_or_revoked_credentials_are_refused(plane: Plane):
    import requests

    assert requests.get(f"{plane.url}/v1/whoami", timeout=10).status_code == 401
    bad = requests.get(f"{plane.url}/v1/whoami", headers={"Authorization": "Bearer mw_x.y"}, timeout=10)
    assert bad.status_code == 401
    assert plane.call("domain:finance", "GET", "/v1/whoami").json()["name"] == "finance"


def test_people_use_the_same_cli_against_the_service(plane: Plane):
    def mesh(who: str, *args: str) -> subprocess.CompletedProcess:
        env = {**plane.base_env, "MESH_SERVICE_TOKEN": plane.tokens[who]}
        return subprocess.run([str(Path(sys.executable).parent / "mesh"), *args], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    asked = mesh("person:sam", "access", "request", "sales/orders", PORT, "--reason", "key check", "--json")
    assert asked.returncode == 0, asked.stderr
    rid = json.loads(asked.stdout)["id"]
    own = mesh("person:sam", "access", "approve", rid)
    assert own.returncode == 2 and "requester cannot decide" in own.stderr
    assert mesh("person:carol", "access", "deny", rid).returncode == 0
    listed = json.loads(mesh("person:carol", "access", "list", "--json").stdout)
    assert {r["id"]: r["status"] for r in listed}[rid] == "denied"
    verified = mesh("person:root", "audit", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True, verified.stdout
    refused = mesh("person:root", "audit", "list", "--action", "access.approve.refused", "--json")
    assert any(e["request"] == rid for e in json.loads(refused.stdout))
    assert mesh("person:sam", "audit", "verify").returncode == 2  # not an admin: refused, exit 2


def test_rotating_a_domain_replaces_its_token_and_storage_keys_and_revoking_ends_both(plane: Plane):
    def mesh(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(Path(sys.executable).parent / "mesh"), "identities", *args], env=plane.admin_env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    old_token, old_keys = plane.tokens["domain:finance"], plane.storage["finance"]
    own_key = "ports/finance/probe"
    assert plane.s3(old_keys).put_object(Bucket=plane.bucket, Key=own_key, Body=b"1")
    rotated = mesh("rotate", "--domain", "finance", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    plane.tokens["domain:finance"], plane.storage["finance"] = new["token"], new["storage"]
    assert plane.call("domain:finance", "GET", "/v1/whoami").status_code == 200
    import requests

    stale = requests.get(f"{plane.url}/v1/whoami", headers={"Authorization": f"Bearer {old_token}"}, timeout=10)
    assert stale.status_code == 401
    with pytest.raises(ClientError):
        plane.s3(old_keys).get_object(Bucket=plane.bucket, Key=own_key)
    assert plane.s3(new["storage"]).get_object(Bucket=plane.bucket, Key=own_key)["Body"].read() == b"1"
    revoked = mesh("revoke", "--domain", "finance", "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert plane.call("domain:finance", "GET", "/v1/whoami").status_code == 401
    with pytest.raises(ClientError):
        plane.s3(new["storage"]).get_object(Bucket=plane.bucket, Key=own_key)
