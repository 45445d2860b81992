"""The contract a snapshot travels with: the producer's contract plus a ``servers`` entry naming the
snapshot's own files, so ODCS tools (``datacontract test``) can check the published data as it is.

The entry is written by the platform at publish, from where the store puts the files: a local path
(``type: local``) or an S3 location (``type: s3``, with the endpoint of an S3-compatible store). The
contract in the repository has no such entry: a port version has many snapshots and only the platform
knows where each one lives. Only the clear files are named (``data_*.parquet``), not the masked variant.
"""

from __future__ import annotations

from typing import Any

import yaml

from meshwork.core import settings

SERVER = "meshwork"


def server_entry(location: str) -> dict[str, Any]:
    """The ODCS server for the data files of the snapshot stored at ``location`` (a folder or s3:// URL)."""
    files = f"{location.rstrip('/')}/data_*.parquet"
    if location.startswith("s3://"):
        entry: dict[str, Any] = {"server": SERVER, "type": "s3", "location": files, "format": "parquet"}
        if endpoint := settings.s3_endpoint_url():
            entry["endpointUrl"] = endpoint
        return entry
    return {"server": SERVER, "type": "local", "path": files, "format": "parquet"}


def located(contract_text: str, location: str) -> str:
    """``contract_text`` with its ``servers`` replaced by the one naming the snapshot at ``location``."""
    data = yaml.safe_load(contract_text)
    data["servers"] = [server_entry(location)]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
