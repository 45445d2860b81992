"""The enforced mode, really started: moto's S3+IAM server with authentication on, the control plane
(`mesh serve`) as its own process, and one identity per domain and person issued through the CLI.

moto checks every request against the caller's IAM policies once ``INITIAL_NO_AUTH_ACTION_COUNT``
unauthenticated calls are used up; this harness spends exactly those on creating the admin user
(the service's own storage identity), so from then on every request is authorised by IAM.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.s3 import CREDENTIALS

BOOTSTRAP_CALLS = 3  # create_user, put_user_policy, create_access_key of the admin
MESH = str(Path(sys.executable).parent / "mesh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{what} did not answer on {url}")


@dataclass
class Plane:
    endpoint: str
    bucket: str
    url: str  # the control plane
    base_env: dict[str, str]  # what every process shares: no credentials
    admin_env: dict[str, str]  # the service's (and the operator's) storage credentials
    credentials_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)  # "domain:sales" / "person:alice" -> token
    storage: dict[str, dict[str, str]] = field(default_factory=dict)

    def issue(self, kind: str, name: str, *extra: str) -> dict[str, Any]:
        args = [MESH, "identities", "issue", f"--{kind}", name, *extra, "--json"]
        if kind == "domain":
            args += ["--write-credentials", str(self.credentials_dir)]
        out = subprocess.run(args, env=self.admin_env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        issued = json.loads(out.stdout)
        self.tokens[f"{kind}:{name}"] = issued["token"]
        if issued.get("storage"):
            self.storage[name] = issued["storage"]
        return issued

    def domain_env(self, domain: str) -> dict[str, str]:
        """What a domain's run holds: its token and its own storage keys, nothing else."""
        keys = self.storage[domain]
        return {
            **self.base_env,
            "MESH_SERVICE_TOKEN": self.tokens[f"domain:{domain}"],
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        }

    def s3(self, keys: dict[str, str]) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **keys)

    def call(self, who: str, method: str, path: str, body: dict | None = None) -> requests.Response:
        token = self.tokens[who]
        return requests.request(
            method, f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )


@contextmanager
def control_plane(tmp_path: Path, vend_ttl: int = 300) -> Iterator[Plane]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto_env = {**os.environ, **CREDENTIALS, "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_CALLS)}
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=moto_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    service = None
    try:
        _wait(f"{endpoint}/moto-api/", moto, "moto")
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="boot",
                           aws_secret_access_key="boot")  # fmt: skip
        iam.create_user(UserName="mesh-service")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="mesh-service", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="mesh-service")["AccessKey"]
        admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        bucket = f"mesh-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **admin).create_bucket(Bucket=bucket)
        service_port = free_port()
        base = {
            **os.environ,
            **{k: v for k, v in CREDENTIALS.items() if not k.startswith(("AWS_ACCESS", "AWS_SECRET"))},
            "MESH_PORTS_URL": f"s3://{bucket}/ports",
            "MESH_S3_ENDPOINT_URL": endpoint,
            "MESH_SERVICE_URL": f"http://127.0.0.1:{service_port}",
        }
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MESH_SERVICE_TOKEN"):
            base.pop(name, None)
        admin_env = {
            **base,
            "AWS_ACCESS_KEY_ID": admin["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": admin["aws_secret_access_key"],
            "MESH_SERVICE_HOME": str(tmp_path / "service"),
            "MESH_VEND_TTL": str(vend_ttl),
        }
        credentials_dir = tmp_path / "credentials"
        plane = Plane(endpoint, bucket, base["MESH_SERVICE_URL"], base, admin_env, credentials_dir)
        service = subprocess.Popen(
            [MESH, "serve", "--port", str(service_port), "--log-level", "warning"],
            env=admin_env,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "service.log", "w"),  # noqa: SIM115 (closed with the process)
        )
        _wait(f"{plane.url}/healthz", service, "mesh serve")
        yield plane
    finally:
        for proc in (service, moto):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
