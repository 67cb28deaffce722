"""Checkpoint files taken apart and put together again, as tests need them.

Read and written with the safetensors library itself (not zeronet's reader),
so that a test sees the file as any other program does; version 1 files are
written as zeronet < 0.2 wrote them (np.savez, the document in ``meta``).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

DOCUMENTS = ("progress", "optimizer", "loader")


def read_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The file's arrays, and its ``__metadata__`` with the JSON documents parsed."""
    arrays = safetensors.numpy.load_file(path)
    with safetensors.safe_open(path, framework="numpy") as file:
        metadata = file.metadata()
    meta = {k: json.loads(v) if k in DOCUMENTS else v for k, v in metadata.items()}
    return arrays, meta


def write_checkpoint(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """The inverse of :func:`read_checkpoint` (any values: a test's corruptions included)."""
    metadata = {k: json.dumps(v) if k in DOCUMENTS else str(v) for k, v in meta.items()}
    safetensors.numpy.save_file(arrays, path, metadata=metadata)


def write_v1(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """A version 1 (.npz) checkpoint of these arrays and this document, as zeronet 0.1 wrote."""
    document = {"format": "zeronet-checkpoint", **meta, "version": 1}
    with open(path, "wb") as file:
        np.savez(file, **arrays, meta=np.array(json.dumps(document)))


def split(path: Path) -> tuple[dict[str, Any], bytes]:
    """A safetensors file's header (parsed) and its data bytes."""
    content = path.read_bytes()
    (length,) = struct.unpack("<Q", content[:8])
    return json.loads(content[8:8 + length]), content[8 + length:]


def join(header: dict[str, Any] | str | bytes, data: bytes, length: int | None = None) -> bytes:
    """A safetensors file of this header and data; ``length`` overrides the declared one."""
    text = header if isinstance(header, bytes) else (
        header if isinstance(header, str) else json.dumps(header)).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data
