"""Storage credentials, scoped by IAM: a domain's own keys, and short-lived keys vended for one read.

A domain's keys may read and write only its own prefix of the port bucket and never write a
``latest`` pointer (the service commits publishes). A read is vended as a fresh IAM user whose only
permission is ``s3:GetObject`` on exactly the files of one snapshot's variant; the service deletes it
when the TTL passes or the grant is revoked, after which its keys are refused by the storage server.
(On AWS proper, STS ``AssumeRole`` with a session policy does the same without IAM users; moto,
which the tests run against, does not enforce session policies, so users it is.)
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from meshwork.core import settings
from meshwork.core.errors import MeshError

_VERSION = "2012-10-17"


class VendingError(MeshError):
    """The storage server refused to create or delete credentials."""


class StorageIAM:
    def __init__(self) -> None:
        url = settings.ports_url()
        if not url.startswith("s3://"):
            raise VendingError(
                "enforced mode needs ports on object storage (MESH_PORTS_URL=s3://bucket/prefix): "
                "a local folder cannot keep one domain's code from reading another's files"
            )
        self.bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @cached_property
    def iam(self) -> Any:
        return boto3.client(
            "iam",
            endpoint_url=settings.s3_endpoint_url(),
            region_name=settings.s3_region() or "us-east-1",
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def object_arn(self, key: str) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.prefix}{key}"

    def domain_policy(self, domain: str) -> dict:
        own = self.object_arn(f"{domain}/*")
        return {
            "Version": _VERSION,
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": own},
                # Listing names (for retention); the storage server may or may not narrow it by prefix.
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{self.bucket}"},
                {
                    "Effect": "Deny",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": self.object_arn(f"{domain}/*/latest"),
                },
            ],
        }

    def read_policy(self, keys: list[str]) -> dict:
        arns = [self.object_arn(k) for k in keys]
        return {"Version": _VERSION, "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": arns}]}

    def create_user(self, user: str, policy: dict) -> dict[str, str]:
        """A user with exactly ``policy`` and one access key (returned once)."""
        try:
            self.iam.create_user(UserName=user, Tags=[{"Key": "meshwork", "Value": "vended"}])
            self.iam.put_user_policy(UserName=user, PolicyName="meshwork", PolicyDocument=json.dumps(policy))
            key = self.iam.create_access_key(UserName=user)["AccessKey"]
        except ClientError as exc:
            self.delete_user(user)
            raise VendingError(f"the storage server refused to create credentials for {user}: {exc}") from exc
        return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def replace_key(self, user: str) -> dict[str, str]:
        """A new access key for ``user``; every older key is deleted at once."""
        old = [k["AccessKeyId"] for k in self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]]
        for key_id in old:
            self.iam.delete_access_key(UserName=user, AccessKeyId=key_id)
        key = self.iam.create_access_key(UserName=user)["AccessKey"]
        return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def delete_user(self, user: str) -> None:
        """Delete the user and its keys (what ends a vend or a domain's storage access); idempotent."""
        steps = [
            lambda: [
                self.iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
                for k in self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            ],
            lambda: self.iam.delete_user_policy(UserName=user, PolicyName="meshwork"),
            lambda: self.iam.delete_user(UserName=user),
        ]
        for step in steps:
            try:
                step()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("NoSuchEntity", "404"):
                    raise VendingError(f"cannot delete storage user {user}: {exc}") from exc
