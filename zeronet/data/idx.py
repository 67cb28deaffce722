"""The IDX array format (LeCun's MNIST files), read in memory bounded by what the header allows.

The IDX header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B
int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions,
and one big-endian uint32 per dimension; the payload follows. Files are often
gzipped. Hand-written (numpy has no IDX reader, and the format is a dozen
lines) so that a hostile file costs no more than the array it declares: the
payload is streamed, gzip included, into one array of the declared size, and
that size is checked against a limit before anything is allocated. A gzip
"bomb" (1 MB inflating to 1 GiB) is refused after at most the declared
payload plus a bounded look past its end, never inflated whole.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: The largest canonical MNIST array: the 60000 x 28 x 28 training images, in bytes.
LARGEST_MNIST_BYTES = 60_000 * 28 * 28
#: read_idx's default limit on the payload a header may declare: twice the largest MNIST array.
MAX_IDX_BYTES = 2 * LARGEST_MNIST_BYTES

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type code -> element type (IDX data is big-endian)
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: Bytes inflated or read per call: a read costs a few of these beyond the array.
CHUNK_BYTES = 1 << 18
#: Trailing bytes counted (and discarded) past a payload's end, for the error message;
#: beyond this the message says "more than".
TRAILING_COUNT_LIMIT = 1 << 24


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX header declares: element type and shape (and so the payload's size)."""

    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def payload_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def read_idx(path: str | os.PathLike[str], *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (gzipped or raw) into an array in native byte order.

    Gzip is detected from the magic bytes ``1f 8b``, not from the file name.
    A header declaring a payload larger than ``max_bytes`` (by default twice
    the 60000 x 28 x 28 MNIST training images) is refused before anything is
    allocated; otherwise memory is the declared array plus a few
    CHUNK_BYTES (about a megabyte), whatever the file holds, and reading
    stops a bounded distance past the declared end.

    Raises:
        OSError: naming ``path``, if it cannot be read (FileNotFoundError if it
            does not exist, IsADirectoryError for a folder).
        ValueError: naming ``path``, for an empty file, corrupt or truncated
            gzip data, a bad magic number (for a ``*.gz`` name: neither gzip
            nor IDX), a truncated header, a header declaring more than
            ``max_bytes`` of payload, or a payload whose length is not the
            product of the dimensions times the item size (the header's counts
            disagree with the body: truncated or trailing data), or more
            dimensions than numpy allows.
    """
    _, array = scan_idx(Path(path), max_bytes=max_bytes, keep=True,
                        limit_reason="read_idx's limit (max_bytes)")
    assert array is not None  # keep=True: the array
    return array


def scan_idx(path: Path, *, max_bytes: int, keep: bool, limit_reason: str,
             count_trailing: int = TRAILING_COUNT_LIMIT) -> tuple[IdxHeader, np.ndarray | None]:
    """Check ``path`` as :func:`read_idx` does: its header, and its array if ``keep``.

    With ``keep=False`` the payload is streamed and discarded (memory: one
    chunk), which is how a file that failed its checksum is diagnosed.
    ``limit_reason`` says in the error what ``max_bytes`` is. Past the
    declared end, at most ``count_trailing`` + 1 bytes are read to count the
    trailing data (0: one byte, enough to refuse it). Raises what
    :func:`read_idx` raises.
    """
    with path.open("rb") as raw:
        magic = raw.read(2)
        if not magic:
            raise ValueError(f"{path}: empty file (0 bytes); expected IDX data, gzipped or raw")
        raw.seek(0)
        compressed = magic == _GZIP_MAGIC
        if not compressed:
            return _scan(path, raw, compressed=False, max_bytes=max_bytes, keep=keep,
                         limit_reason=limit_reason, count_trailing=count_trailing)
        with gzip.GzipFile(fileobj=raw, mode="rb") as inflated:
            try:
                return _scan(path, inflated, compressed=True, max_bytes=max_bytes, keep=keep,
                             limit_reason=limit_reason, count_trailing=count_trailing)
            except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
                raise ValueError(f"{path}: corrupt or truncated gzip data: {exc}") from exc


def _scan(path: Path, stream: BinaryIO, *, compressed: bool, max_bytes: int, keep: bool,
          limit_reason: str, count_trailing: int) -> tuple[IdxHeader, np.ndarray | None]:
    header = _read_header(path, stream, compressed=compressed)
    expected = header.payload_bytes
    if expected > max_bytes:
        raise ValueError(
            f"{path}: the IDX header declares shape {header.shape} of "
            f"{header.dtype.itemsize}-byte items, {expected} bytes, more than {limit_reason} "
            f"of {max_bytes} bytes; not reading it")
    try:
        np.empty((0,) * len(header.shape))
    except ValueError as exc:  # more dimensions than numpy allows (64 in numpy 2)
        raise ValueError(f"{path}: IDX shape {header.shape} not representable: {exc}") from exc
    if not compressed and (size := _regular_file_size(stream)) is not None:
        given = size - 4 - 4 * len(header.shape)  # a plain file's length says it all
        if given != expected:
            raise ValueError(_length_message(path, header, given))
    buffer = np.empty(expected if keep else min(expected, CHUNK_BYTES), dtype=np.uint8)
    given = _fill(stream, memoryview(buffer), expected, keep=keep)
    if given == expected:
        given += _count_rest(stream, count_trailing)
    if given != expected:
        raise ValueError(_length_message(path, header, given, count_trailing=count_trailing))
    if not keep:
        return header, None
    array = buffer.view(header.dtype.newbyteorder("="))
    if not header.dtype.isnative:
        array.byteswap(inplace=True)  # in place: no second copy of the payload
    return header, array.reshape(header.shape)


def _read_header(path: Path, stream: BinaryIO, *, compressed: bool) -> IdxHeader:
    start = _read_up_to(stream, 4)
    if len(start) < 4 or start[:2] != b"\x00\x00" or start[2] not in _IDX_DTYPES or start[3] == 0:
        raise ValueError(_bad_magic_message(path, start, compressed=compressed))
    dtype, ndim = _IDX_DTYPES[start[2]], start[3]
    dims = _read_up_to(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{path}: truncated IDX header: expected {4 + 4 * ndim} bytes "
            f"for {ndim} dimensions, got {4 + len(dims)}"
        )
    return IdxHeader(dtype, struct.unpack(f">{ndim}I", dims))


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes, fewer only at the end of the stream (a raw read may return fewer)."""
    data = b""
    while len(data) < size and (more := stream.read(size - len(data))):
        data += more
    return data


def _fill(stream: BinaryIO, view: memoryview, expected: int, *, keep: bool) -> int:
    """Read up to ``expected`` bytes into ``view`` (or through it, chunk by chunk, if not
    ``keep``); return how many there were."""
    given = 0
    while given < expected:
        size = min(CHUNK_BYTES, expected - given)
        target = view[given:given + size] if keep else view[:size]
        count = stream.readinto(target)
        if not count:
            break
        given += count
    return given


def _count_rest(stream: BinaryIO, limit: int) -> int:
    """How many bytes are left, counted up to ``limit`` (+1: "more than")."""
    count = 0
    while count <= limit and (chunk := stream.read(min(CHUNK_BYTES, limit + 1 - count))):
        count += len(chunk)
    return count


def _regular_file_size(stream: BinaryIO) -> int | None:
    try:
        info = os.fstat(stream.fileno())
    except (OSError, AttributeError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _length_message(path: Path, header: IdxHeader, given: int, *,
                    count_trailing: int | None = None) -> str:
    """What is wrong with the payload's length; ``count_trailing`` None: ``given`` is exact."""
    expected, shape = header.payload_bytes, header.shape
    problem = "truncated" if given < expected else "has trailing data"
    more_than = count_trailing is not None and given - expected > count_trailing
    shown = given - 1 if more_than else given  # counting stopped one byte past the limit
    more = "more than " if more_than else ""
    record_bytes = math.prod(shape[1:]) * header.dtype.itemsize
    records = (
        f": the header counts {shape[0]} records of {record_bytes} bytes, "
        f"the body holds {more}{shown / record_bytes:g}"
        if record_bytes
        else ""
    )
    return (f"{path}: IDX payload {problem}: expected {expected} bytes "
            f"(shape {shape}, {header.dtype.itemsize}-byte items), got {more}{shown}{records}")


def _bad_magic_message(path: Path, data: bytes, *, compressed: bool) -> str:
    codes = "|".join(f"{code:02x}" for code in _IDX_DTYPES)
    idx_magic = f"magic number 00 00 <{codes}> <ndim >= 1>"
    found = data[:4].hex(" ") or "no bytes"
    if compressed:
        return (
            f"{path}: not an IDX file (after gzip decompression): "
            f"expected {idx_magic}, got {found}"
        )
    if path.suffix == ".gz":
        return (
            f"{path}: neither gzip data nor an IDX file: expected the gzip magic number 1f 8b "
            f"or the IDX {idx_magic}, got {found}"
        )
    return f"{path}: not an IDX file: expected {idx_magic}, got {found}"
