"""A real S3-compatible server for tests: moto's server on 127.0.0.1, on a free port, in this process.

Subprocesses started by a test (the `mesh` CLI, `dagster asset materialize`) reach it over HTTP
like any S3 endpoint; each test gets a bucket of its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Nothing from the developer's own AWS setup, and no probing of an instance metadata service.
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def moto_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class Bucket:
    endpoint: str
    name: str
    prefix: str
    client: Any

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def keys(self, under: str = "") -> list[str]:
        """Keys below the ports prefix (relative to it), sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=f"{self.prefix}/{under}")
        return sorted(o["Key"][len(self.prefix) + 1 :] for p in pages for o in p.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=f"{self.prefix}/{key}")["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=f"{self.prefix}/{key}", Body=data)

    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "MESH_PORTS_URL": self.url, "MESH_S3_ENDPOINT_URL": self.endpoint}


def new_bucket(endpoint: str) -> Bucket:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"mesh-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(endpoint=endpoint, name=name, prefix="ports", client=client)
