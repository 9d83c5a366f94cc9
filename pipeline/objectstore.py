"""The few S3 calls the Python side makes on an S3 lakehouse: make the bucket, list and read Delta logs,
delete a prefix. Spark (S3A) and Trino (native S3) do the rest."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from pipeline.settings import Settings


@cache
def _client(endpoint: str, access_key: str, secret_key: str, region: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        region_name=region, config=Config(s3={"addressing_style": "path"},
                                                          retries={"max_attempts": 3, "mode": "standard"}))


def client(settings: Settings):
    return _client(settings.s3_endpoint, *settings.s3_keys, settings.s3_region)


def split(uri: str) -> tuple[str, str]:
    """s3a://bucket/some/key -> ("bucket", "some/key")."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def ensure_bucket(settings: Settings) -> bool:
    """Create the lakehouse's bucket unless it exists; whether it was created."""
    s3, bucket = client(settings), settings.s3_bucket
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return False
    s3.create_bucket(Bucket=bucket)
    return True


def list_names(s3, uri: str) -> list[str] | None:
    """The names directly under the folder at `uri`; None when nothing is there."""
    bucket, key = split(uri)
    prefix = key.rstrip("/") + "/"
    names = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                                            Delimiter="/"):
        names += [item["Key"][len(prefix):] for item in page.get("Contents", [])]
        names += [item["Prefix"][len(prefix):].rstrip("/") for item in page.get("CommonPrefixes", [])]
    return sorted(names) or None


def read_text(s3, uri: str) -> str:
    """The object's text; FileNotFoundError when there is none."""
    bucket, key = split(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except s3.exceptions.NoSuchKey:
        raise FileNotFoundError(uri) from None


def exists(s3, uri: str) -> bool:
    from botocore.exceptions import ClientError

    bucket, key = split(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def delete_prefix(settings: Settings, uri: str) -> int:
    """Delete every object under the folder at `uri`; how many."""
    bucket, key = split(uri)
    s3, deleted = client(settings), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key.rstrip("/") + "/"):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


# -- reading the lakehouse's small files (Delta logs, streaming checkpoints) without Spark -------------

class Unreadable(RuntimeError):
    """The lakehouse is somewhere these readers cannot reach."""


class Files(Protocol):
    def names(self, uri: str) -> list[str] | None:
        """The names in the folder at `uri`; None when there is no such folder."""

    def text(self, uri: str) -> str:
        """The file's text; FileNotFoundError when there is none."""

    def exists(self, uri: str) -> bool:
        """Whether there is a file at `uri`."""


class LocalFiles:
    def names(self, uri: str) -> list[str] | None:
        path = self._path(uri)
        return sorted(entry.name for entry in path.iterdir()) if path.is_dir() else None

    def text(self, uri: str) -> str:
        return self._path(uri).read_text(encoding="utf-8")

    def exists(self, uri: str) -> bool:
        return self._path(uri).exists()

    @staticmethod
    def _path(uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise Unreadable(f"{uri} is not a local file: pass the settings' files (objectstore.files)")
        return Path(parsed.path)


@dataclass(frozen=True)
class S3Files:
    """Bound to one client: the endpoint and keys are resolved once (from the stack's state and key files),
    not on every Delta log file read."""

    s3: Any

    def names(self, uri: str) -> list[str] | None:
        return list_names(self.s3, uri)

    def text(self, uri: str) -> str:
        return read_text(self.s3, uri)

    def exists(self, uri: str) -> bool:
        return exists(self.s3, uri)


LOCAL = LocalFiles()


def files(settings: Settings) -> Files:
    """The reader of the settings' lakehouse: S3 or the local file system."""
    return S3Files(client(settings)) if settings.on_s3 else LOCAL
