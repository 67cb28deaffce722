"""Reading a checkpoint file's structure, in bounded memory, before any array is read.

Two formats are read (:mod:`zeronet.checkpoint` writes the first):

* **version 2, safetensors** (https://github.com/huggingface/safetensors): an
  8-byte little-endian header length N, N bytes of JSON naming each array's
  dtype, shape and byte range, then the arrays, uncompressed, end to end. The
  JSON's ``__metadata__`` (strings only) holds zeronet's own document.
* **version 1, .npz** (zeronet < 0.2): a zip of ``.npy`` members, one of them
  ``meta.npy``, a 0-d unicode array holding the JSON document.

:func:`open_checkpoint` returns what the file *declares* (:class:`Stored`):
the document and each array's dtype and shape, checked against each other and
against the file's size, with every read bounded: at most
:data:`MAX_HEADER_BYTES` of header or zip directory, at most
:data:`MAX_JSON_DEPTH` levels of JSON nesting, no integer of more than
:data:`MAX_INT_DIGITS` digits, no NaN or infinity. The caller compares the
declarations with its model and only then reads arrays, each exactly its
declared size (:meth:`Stored.read`), so that memory is bounded by the arrays
it expects however large a file claims to be.

safetensors writes the files (``zeronet.checkpoint``); the reading is done
here, by hand, rather than with ``safetensors.safe_open``, for three bounds
the library does not give: a header cap checked before the header is read
(the library accepts 100 MB of JSON), the declarations checked against the
model before any data is touched, and reads from one open file descriptor
instead of a memory map (a file truncated while mapped kills the process
with SIGBUS). What the library checks of the header (every byte range in
place, end to end, covering the data exactly) is checked here too, so that
any file read here also loads with ``safetensors.numpy.load_file`` or
``safetensors.torch.load_file`` (the test suite holds both to it).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

FORMAT = "zeronet-checkpoint"
#: The version written; version 1 (.npz) is still read.
VERSION = 2
#: The fields of zeronet's document (``__metadata__`` in version 2, ``meta`` in version 1).
META_FIELDS = ("format", "version", "progress", "optimizer", "loader")
#: The longest safetensors header, or .npz zip directory, read (1 MiB).
MAX_HEADER_BYTES = 1 << 20
#: The deepest nesting of JSON arrays and objects accepted.
MAX_JSON_DEPTH = 20
#: The most digits of an integer in JSON (a PCG64 state's are 39).
MAX_INT_DIGITS = 50
#: The most dimensions of an array.
MAX_NDIM = 32
#: safetensors dtype names -> NumPy (little-endian); anything else is refused.
SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
                      "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2",
                      "U8": "u1", "BOOL": "?"}
SAFETENSORS_NAMES = {np.dtype(v): k for k, v in SAFETENSORS_DTYPES.items()}
_NPY_MAX_HEADER = 10_000  # numpy's own default cap on an .npy header


class FileFormatError(ValueError):
    """A file that is not a well-formed checkpoint (the caller adds the file's name)."""


@dataclass
class Declared:
    """One array as the file declares it, before it is read."""

    dtype: np.dtype
    shape: tuple[int, ...]
    nbytes: int
    _read: Callable[[], bytes | bytearray] = field(repr=False)


@dataclass
class Stored:
    """What a checkpoint file declares: its version, document and arrays (none read yet)."""

    version: int
    #: Where the document is, as messages name it: ``'__metadata__'`` or ``'meta'``.
    meta_key: str
    #: The document's fields other than format and version, parsed.
    meta: dict[str, Any]
    arrays: dict[str, Declared]

    def read(self, name: str) -> np.ndarray:
        """The array ``name``: exactly its declared bytes, read now."""
        declared = self.arrays[name]
        data = declared._read()
        if len(data) != declared.nbytes:
            raise FileFormatError(f"key {name!r}: expected {declared.nbytes} bytes of data, "
                                  f"got {len(data)} (the file changed while it was read?)")
        array = np.frombuffer(data, dtype=declared.dtype).reshape(declared.shape)
        return array.astype(declared.dtype.newbyteorder("="), copy=False)


@contextlib.contextmanager
def open_checkpoint(path: Path) -> Iterator[Stored]:
    """The file's declarations, with the file kept open for :meth:`Stored.read`.

    Raises:
        FileNotFoundError: if there is no file at ``path``.
        FileFormatError: if the file is not a well-formed checkpoint of version 1 or 2.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file does not exist")
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        start = file.read(8)
        if start[:2] == b"PK":
            with _npz_stored(file, size) as stored:
                yield stored
        else:
            yield _safetensors_stored(file, size, start)


# ---------------------------------------------------------------------- version 2: safetensors

def _safetensors_stored(file: BinaryIO, size: int, start: bytes) -> Stored:
    if len(start) < 8:
        raise FileFormatError(f"not a readable checkpoint: {size} bytes, too short for a "
                              "safetensors header")
    length = int.from_bytes(start, "little")
    if length > MAX_HEADER_BYTES:
        raise FileFormatError(f"not a readable checkpoint: its safetensors header length "
                              f"{length} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if length > size - 8:
        raise FileFormatError(f"not a readable checkpoint: its safetensors header length "
                              f"{length} exceeds the file's {size - 8} bytes after it")
    raw = file.read(length)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"not a readable checkpoint: safetensors header is not UTF-8 "
                              f"({exc})") from None
    if not text.startswith("{"):
        raise FileFormatError("not a readable checkpoint: safetensors header is not a JSON "
                              "object")
    header = bounded_json(text, "safetensors header")
    if not isinstance(header, dict):
        raise FileFormatError("not a readable checkpoint: safetensors header is not a JSON "
                              "object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FileFormatError("not a zeronet checkpoint: its safetensors header has no "
                              "__metadata__ of strings")
    data_start, data_size = 8 + length, size - 8 - length
    arrays = {name: _declared_tensor(name, info, file, data_start)
              for name, info in header.items()}
    _check_offsets(header, data_size)
    fields = dict(metadata)
    if set(fields) != set(META_FIELDS):
        raise FileFormatError(f"key '__metadata__': expected fields {sorted(META_FIELDS)}, "
                              f"got {sorted(fields)}")
    if (fields["format"], fields["version"]) != (FORMAT, str(VERSION)):
        raise FileFormatError(f"key '__metadata__': expected format {FORMAT!r} version "
                              f"{VERSION}, got {fields['format']!r:.80} version "
                              f"{fields['version']!r:.80}")
    meta = {key: bounded_json(fields[key], f"key '__metadata__' ({key})")
            for key in META_FIELDS[2:]}
    return Stored(VERSION, "__metadata__", meta, arrays)


def _declared_tensor(name: str, info: Any, file: BinaryIO, data_start: int) -> Declared:
    where = f"key {name!r}"
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise FileFormatError(f"{where}: expected a safetensors entry with dtype, shape and "
                              f"data_offsets, got {info!r:.120}")
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str) or dtype_name not in SAFETENSORS_DTYPES:
        raise FileFormatError(f"{where}: expected a dtype of {sorted(SAFETENSORS_DTYPES)}, "
                              f"got {dtype_name!r:.40}")
    dtype = np.dtype(SAFETENSORS_DTYPES[dtype_name])
    shape = _shape(where, shape)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise FileFormatError(f"{where}: expected data_offsets [begin, end] with "
                              f"0 <= begin <= end, got {offsets!r:.80}")
    nbytes = math.prod(shape) * dtype.itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise FileFormatError(f"{where}: shape {shape} of {dtype_name} is {nbytes} bytes, but "
                              f"its data_offsets {offsets} span {offsets[1] - offsets[0]}")
    begin = data_start + offsets[0]

    def read() -> bytearray:
        buffer = bytearray(nbytes)
        file.seek(begin)
        got = file.readinto(buffer)
        return buffer if got == nbytes else buffer[:got]
    return Declared(dtype, shape, nbytes, read)


def _check_offsets(header: dict[str, Any], data_size: int) -> None:
    """The byte ranges lie end to end from 0 and cover the data exactly (safetensors' rule)."""
    end = 0
    for name, info in sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"])):
        begin, stop = info["data_offsets"]
        if begin != end:
            raise FileFormatError(f"key {name!r}: data_offsets {[begin, stop]} should begin at "
                                  f"{end}, where the previous array ends")
        end = stop
    if end != data_size:
        raise FileFormatError(f"not a readable checkpoint: its arrays are {end} bytes, but the "
                              f"file holds {data_size} bytes of data (truncated, or extended)")


def _shape(where: str, shape: Any) -> tuple[int, ...]:
    if not (isinstance(shape, list) and len(shape) <= MAX_NDIM
            and all(_is_int(n) and n >= 0 for n in shape)):
        raise FileFormatError(f"{where}: expected a shape of at most {MAX_NDIM} integers "
                              f">= 0, got {shape!r:.80}")
    return tuple(shape)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------- version 1: .npz

@contextlib.contextmanager
def _npz_stored(file: BinaryIO, size: int) -> Iterator[Stored]:
    _check_zip_directory(file, size)
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error,
            NotImplementedError) as exc:
        raise FileFormatError(f"not a readable checkpoint (v1, .npz): {exc}") from None
    with archive:
        arrays: dict[str, Declared] = {}
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if name == info.filename or name in arrays:
                raise FileFormatError(f"not a readable checkpoint (v1, .npz): member "
                                      f"{info.filename!r:.80} is not one .npy array")
            arrays[name] = _declared_member(archive, info, name)
        if "meta" not in arrays:
            raise FileFormatError("key 'meta' missing; not a zeronet checkpoint")
        yield Stored(1, "meta", _npz_meta(arrays.pop("meta")), arrays)


def _check_zip_directory(file: BinaryIO, size: int) -> None:
    """The zip's directory (read whole by ``zipfile``) is at most MAX_HEADER_BYTES.

    np.savez writes no archive comment, so the end record is the last 22 bytes;
    a file that ends otherwise (a comment, zip64) is not one it wrote.
    """
    if size < 22:
        raise FileFormatError(f"not a readable checkpoint (v1, .npz): {size} bytes, too short "
                              "for a zip file")
    file.seek(size - 22)
    end = file.read(22)
    signature, *_, directory_size, directory_offset, comment = struct.unpack("<4s4H2LH", end)
    if signature != b"PK\x05\x06" or comment != 0 or directory_offset == 0xFFFFFFFF:
        raise FileFormatError("not a readable checkpoint (v1, .npz): no zip end record where "
                              "np.savez puts it")
    if directory_size > MAX_HEADER_BYTES:
        raise FileFormatError(f"not a readable checkpoint (v1, .npz): its zip directory of "
                              f"{directory_size} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    file.seek(0)


def _declared_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Declared:
    """A member's .npy header, read (a few bytes, bounded), and its declared size checked."""
    where = f"key {name!r}"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) \
            or info.flag_bits & 0x1:
        raise FileFormatError(f"{where}: compressed as zip method {info.compress_type} "
                              "or encrypted; np.savez stores or deflates")
    try:
        with archive.open(info) as member:  # at most this much is inflated for the header
            head = io.BytesIO(member.read(_NPY_MAX_HEADER + 12))
        version = np.lib.format.read_magic(head)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f".npy format version {version} not supported")
        shape, fortran_order, dtype = read_header(head, max_header_size=_NPY_MAX_HEADER)
        offset = head.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
            SyntaxError, TypeError, NotImplementedError, RuntimeError) as exc:
        raise FileFormatError(f"{where}: not a readable .npy header ({exc})") from None
    if dtype.hasobject or len(shape) > MAX_NDIM:
        raise FileFormatError(f"{where}: expected an array of numbers, got dtype {dtype} "
                              f"shape {shape!r:.80}")
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != offset + nbytes:
        raise FileFormatError(f"{where}: shape {shape} of {dtype} is {nbytes} bytes after "
                              f"its {offset}-byte header, but the member declares "
                              f"{info.file_size} bytes")
    order = "F" if fortran_order else "C"

    def read() -> bytes:
        with archive.open(info) as member:
            member.read(offset)
            data = member.read(nbytes)  # inflates at most this much (plus one buffer)
            if member.read(1):
                raise FileFormatError(f"{where}: more data than its header declares")
        if fortran_order and len(data) == nbytes:
            return np.frombuffer(data, dtype).reshape(shape, order=order).tobytes(order="C")
        return data
    return Declared(dtype, tuple(shape), nbytes, _reading(where, read))


def _reading(where: str, read: Callable[[], bytes]) -> Callable[[], bytes]:
    """``read``, with zipfile's and zlib's errors (a bad CRC, a broken stream) worded."""
    def guarded() -> bytes:
        try:
            return read()
        except FileFormatError:
            raise
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as exc:
            raise FileFormatError(f"{where}: its data cannot be read ({exc})") from None
    return guarded


def _npz_meta(declared: Declared) -> dict[str, Any]:
    if declared.shape != () or declared.dtype.kind != "U" \
            or declared.dtype.itemsize > 4 * MAX_HEADER_BYTES:
        raise FileFormatError(f"key 'meta': expected a 0-d unicode array of at most "
                              f"{MAX_HEADER_BYTES} characters, got dtype {declared.dtype} shape "
                              f"{declared.shape}")
    data = declared._read()
    if len(data) != declared.nbytes:
        raise FileFormatError("key 'meta': truncated")
    try:
        text = str(np.frombuffer(data, dtype=declared.dtype)[0])
    except (ValueError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"key 'meta': not text ({exc})") from None
    meta = bounded_json(text, "key 'meta'")
    if not isinstance(meta, dict) or set(meta) != set(META_FIELDS):
        found = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise FileFormatError(f"key 'meta': expected fields {sorted(META_FIELDS)}, got {found}")
    if (meta["format"], meta["version"]) != (FORMAT, 1):
        raise FileFormatError(f"key 'meta': expected format {FORMAT!r} version 1, got "
                              f"{meta['format']!r:.80} version {meta['version']!r:.80}")
    return {key: meta[key] for key in META_FIELDS[2:]}


# ---------------------------------------------------------------------- bounded JSON

# A JSON string, consumed in one pass whether or not it is closed (so the scan stays linear).
_STRING = re.compile(r'"(?:[^"\\]|\\[\s\S])*+"?')
_BRACKETS = np.zeros(256, dtype=np.int8)
_BRACKETS[[ord("["), ord("{")]], _BRACKETS[[ord("]"), ord("}")]] = 1, -1


def bounded_json(text: str, what: str) -> Any:
    """``json.loads(text)``, refusing first what would exhaust memory, recursion or int parsing.

    At most MAX_HEADER_BYTES characters and MAX_JSON_DEPTH levels of nesting
    (counted before parsing, strings left out), integers of at most
    MAX_INT_DIGITS digits, finite numbers only, no key twice in an object.
    """
    if len(text) > MAX_HEADER_BYTES:
        raise FileFormatError(f"{what}: {len(text)} characters of JSON exceed the "
                              f"{MAX_HEADER_BYTES} limit")
    structure = _STRING.sub("", text).encode("utf-8", "replace")
    depth = np.cumsum(_BRACKETS[np.frombuffer(structure, dtype=np.uint8)], dtype=np.int64)
    if depth.size and int(depth.max()) > MAX_JSON_DEPTH:
        raise FileFormatError(f"{what}: JSON nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text, parse_int=_bounded_int, parse_float=_finite_float,
                          parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise FileFormatError(f"{what}: not valid JSON ({exc})") from None


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} out of range")
    return value


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return out

