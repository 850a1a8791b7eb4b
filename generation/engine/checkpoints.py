"""Checkpoint files the engine loads besides the model: identifying them by content.

A generation records which weights produced it (e.g. the ID-LoRA behind a cameo's voice) by file
name *and* SHA-256, so a file replaced under the same name is still told apart. Pure standard
library: the web process may call this too.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

_CHUNK = 1 << 20
_hashes: dict[tuple[str, int, int], str] = {}
_hashes_lock = threading.Lock()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file at ``path``, read in 1 MB chunks (constant memory).

    Cached per process by resolved path, modification time and size, so a multi-GB checkpoint is
    hashed once, and again only after it changes. Raises ``FileNotFoundError`` for a missing file.
    """
    resolved = os.path.realpath(path)
    stat = os.stat(resolved)
    key = (resolved, stat.st_mtime_ns, stat.st_size)
    with _hashes_lock:
        cached = _hashes.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with open(resolved, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hashes_lock:
        _hashes[key] = value
    return value
