"""The enforced mode's client side: how a domain run talks to the control plane (``mesh serve``).

A run authenticates with its domain's token (``MESH_SERVICE_TOKEN`` or ``MESH_SERVICE_TOKEN_FILE``).
To read an input it asks the service, which checks the declaration and the grant, audits the read
and answers with the snapshot's files and short-lived storage keys that can GET exactly those files;
the files are fetched into the local cache and verified against the sha256 the *service* recorded
when it committed the publish. To publish, the run writes its snapshot under its own prefix and asks
the service to commit it (the service writes the masked variant and ``latest``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from meshwork.core import settings
from meshwork.core.errors import MeshError, PortAccessError
from meshwork.storage import port_cache


class ServiceError(MeshError):
    """The control plane could not be reached or refused a request; its reason is in the message."""


def call(method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    url = settings.service_url()
    if url is None:
        raise ServiceError("MESH_SERVICE_URL is not set: there is no control plane to ask")
    token = token or settings.service_token()
    if not token:
        raise ServiceError("enforced mode needs a credential: set MESH_SERVICE_TOKEN or MESH_SERVICE_TOKEN_FILE")
    try:
        response = requests.request(
            method,
            f"{url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.service_timeout(),
        )
    except requests.RequestException as exc:
        raise ServiceError(f"the control plane at {url} cannot be reached: {exc}") from exc
    try:
        payload = response.json()
    except ValueError:
        payload = {"error": response.text[:500]}
    if response.status_code == 403:
        raise PortAccessError(payload.get("error", "refused by the control plane"))
    if response.status_code >= 400:
        raise ServiceError(f"{method} {path}: {payload.get('error', response.reason)} (HTTP {response.status_code})")
    return payload


@dataclass(frozen=True)
class VendedRead:
    port: str
    snapshot_id: str
    masked: bool
    manifest: dict[str, Any]
    files: list[Path]


def read(consumer: str, product_key: str, run_id: str | None) -> VendedRead:
    answer = call("POST", "/v1/reads", {"consumer": consumer, "input": product_key, "run_id": run_id})
    return VendedRead(
        port=answer["port"],
        snapshot_id=answer["snapshot_id"],
        masked=answer["masked"],
        manifest=answer["manifest"],
        files=fetch(answer),
    )


def fetch(answer: dict[str, Any]) -> list[Path]:
    """Download the vended files with the vended keys into the cache, each verified by its sha256."""
    # Deferred: boto3 costs ~0.15 s of every code location's load, and only enforced-mode reads need it.
    import boto3
    from botocore.config import Config  # deferred with boto3
    from botocore.exceptions import ClientError  # deferred with boto3

    creds = answer["credentials"]
    client = boto3.client(
        "s3",
        endpoint_url=answer.get("endpoint_url"),
        region_name=answer.get("region") or "us-east-1",
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 8, "mode": "standard"},  # a fresh IAM key may take a moment to work
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    files = []
    for f in answer["files"]:
        cached = port_cache.lookup(f["sha256"], f["bytes"])
        if cached is None:
            try:
                body = client.get_object(Bucket=answer["bucket"], Key=f["key"])["Body"]
            except ClientError as exc:
                raise PortAccessError(f"{answer['port']}: the storage server refused the vended read: {exc}") from exc
            cached, problem = port_cache.fill(f["sha256"], f["bytes"], body.iter_chunks(1 << 20))
            if cached is None:
                raise PortAccessError(f"{answer['port']} snapshot {answer['snapshot_id']} is damaged: {problem}")
        files.append(cached)
    return files


def commit(product_key: str, major: int, snapshot_id: str, run_id: str | None) -> dict[str, Any]:
    return call(
        "POST",
        "/v1/publications",
        {"product": product_key, "major": major, "snapshot_id": snapshot_id, "run_id": run_id},
    )
