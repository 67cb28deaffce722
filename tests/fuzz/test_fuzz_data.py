"""Fuzzing zeronet.data: DataLoader over arrays of every dtype and shape with arguments of
every type, and read_idx over random and mutated bytes, gzipped or not.

The harness and the property are those of test_fuzz.py (its module docstring). The
DataLoader's reference is torch.utils.data.DataLoader over the sample indices (same
batches without shuffling; same number and sizes with it). read_idx's reference is
:func:`parse_idx` below, the IDX format written out independently: a file it parses must
give the same array, bit for bit; any other file must raise ValueError (or OSError for
what the file system refuses) naming the file.
"""

from __future__ import annotations

import gzip
import math
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import (
    FUZZ,
    any_arrays,
    assert_documented,
    assert_returned,
    mutate_bytes,
    not_arrays,
    run,
    seeds,
)

# ---------------------------------------------------------------------------- DataLoader


bad_seeds = st.sampled_from([-1, 1.5, "seed", [1.5], np.array([-1]), object()])
bad_batch_sizes = st.sampled_from([0, -1, 2.5, "4", True, None])
#: What loader_cases breaks: nothing three times in nine, else one argument.
BREAKS = (None, None, None, "x", "y", "length", "0-d", "batch_size", "seed")


@st.composite
def loader_cases(draw: st.DrawFn) -> tuple[Any, Any, Any, Any, set[str]]:
    """(x, y, batch_size, seed, arguments at fault): arrays of any dtype whose first axis
    has 0 to 12 samples, or one argument broken: no array, a 0-d array, y of another
    length, a batch_size or seed numpy cannot use."""
    n = draw(st.integers(0, 12))
    x, y = (draw(any_arrays().map(lambda a: np.resize(a, (n, *a.shape[1:]))))
            for _ in range(2))
    batch_size, seed = draw(st.integers(1, 9)), draw(st.one_of(seeds, st.none()))
    broken = draw(st.sampled_from(BREAKS))
    if broken == "x":
        x = draw(not_arrays)
    elif broken == "y":
        y = draw(not_arrays)
    elif broken == "length":
        y, broken = np.resize(y, (n + draw(st.integers(1, 3)), *y.shape[1:])), "y"
    elif broken == "0-d":
        x, broken = (np.float64(1.0) if draw(st.booleans()) else np.array(1.0)), "x"
    elif broken == "batch_size":
        batch_size = draw(bad_batch_sizes)
    elif broken == "seed":
        seed = draw(bad_seeds)
    return x, y, batch_size, seed, {broken} - {None}


def torch_batches(n: int, batch_size: int, drop_last: bool) -> list[list[int]]:
    """The sample indices of each batch torch's DataLoader makes, without shuffling."""
    loader = torch.utils.data.DataLoader(range(n), batch_size=batch_size, drop_last=drop_last)
    return [batch.tolist() for batch in loader]


@FUZZ
@given(case=loader_cases(), shuffle=st.booleans(), drop_last=st.booleans())
def test_dataloader_batches_like_torch_or_rejects(case: tuple[Any, Any, Any, Any, set[str]],
                                                  shuffle: bool, drop_last: bool) -> None:
    x, y, batch_size, seed, faults = case
    outcome = run(zn.data.DataLoader, x, y, batch_size, shuffle=shuffle, drop_last=drop_last,
                  seed=seed)
    if faults:
        assert_documented(outcome, zn.data.DataLoader, *faults)
        return
    loader = assert_returned(outcome, "DataLoader")
    expected = torch_batches(len(x), batch_size, drop_last)
    assert len(loader) == len(expected)
    if shuffle:  # the same seed draws the same permutations: take them from an index loader
        indices = zn.data.DataLoader(np.arange(len(x)), np.arange(len(x)), batch_size,
                                     shuffle=True, drop_last=drop_last, seed=seed)
        order = [xb.tolist() for xb, _ in indices]
        seen = [i for batch in order for i in batch]
        assert len(set(seen)) == len(seen)  # each sample at most once per epoch
        assert [len(b) for b in order] == [len(b) for b in expected]
        if seed is None:
            return  # fresh entropy: the permutation of another loader is not this one's
        expected = order
    batches = assert_returned(run(list, loader), "iterating the DataLoader")
    assert len(batches) == len(expected)
    for (xb, yb), index in zip(batches, expected, strict=True):
        np.testing.assert_array_equal(xb, x[index])
        np.testing.assert_array_equal(yb, y[index])
        assert xb.dtype == x.dtype
        assert yb.dtype == y.dtype


# ---------------------------------------------------------------------------- read_idx

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes) -> np.ndarray | None:
    """The IDX format, independently of zeronet: 00 00 <type> <ndim>, ndim big-endian
    uint32 sizes, then exactly prod(sizes) big-endian items. None if ``data`` is not that
    (gzip is unwrapped first when the data starts with its magic 1f 8b)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except Exception:
            return None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_DTYPES or data[3] == 0:
        return None
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        return None
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = np.dtype(IDX_DTYPES[data[2]])
    payload = data[4 + 4 * ndim:]
    if len(payload) != math.prod(shape) * dtype.itemsize:
        return None
    try:
        return np.frombuffer(payload, dtype=dtype).reshape(shape)
    except ValueError:  # more dimensions than numpy allows
        return None


@st.composite
def idx_files(draw: st.DrawFn) -> bytes:
    """IDX files, gzipped or not, then now and then mutated: a byte changed, the file cut
    or extended, bytes inserted; or random bytes (after a gzip magic, now and then)."""
    if draw(st.integers(0, 9)) == 0:
        prefix = draw(st.sampled_from([b"", b"\x1f\x8b", b"\0\0\x08"]))
        return prefix + draw(st.binary(max_size=40))
    code = draw(st.sampled_from(sorted(IDX_DTYPES)))
    shape = draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))
    if draw(st.integers(0, 19)) == 0:
        shape = [1] * draw(st.integers(65, 255))  # more dimensions than numpy has
    size = math.prod(shape) * np.dtype(IDX_DTYPES[code]).itemsize
    data = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    data += draw(st.binary(min_size=size, max_size=size))
    if draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
    return mutate_bytes(draw, data, most=2)


@pytest.fixture(scope="module")
def idx_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@FUZZ
@given(data=idx_files())
@example(data=bytes([0, 0, 8, 70]) + bytes([0, 0, 0, 1]) * 70 + b"\x07")  # 70 dims of 1
def test_read_idx_reads_idx_files_and_refuses_the_rest(idx_dir: Path, data: bytes) -> None:
    """Valid files read bit for bit as parse_idx reads them, in native byte order; anything
    else raises ValueError (or OSError) naming the file, never another error."""
    path = idx_dir / "file.idx"
    path.write_bytes(data)
    outcome = run(zn.data.read_idx, path)
    expected = parse_idx(data)
    if expected is None:
        assert_documented(outcome, zn.data.read_idx, str(path))
        return
    array = assert_returned(outcome, "read_idx")
    assert array.dtype == expected.dtype.newbyteorder("=")
    assert array.dtype.isnative
    assert array.shape == expected.shape
    assert array.tobytes() == expected.astype(array.dtype).tobytes()  # NaN payloads too


@FUZZ
@given(name=st.sampled_from(["missing.idx", "."]))
def test_read_idx_refuses_missing_files_and_folders(idx_dir: Path, name: str) -> None:
    outcome = run(zn.data.read_idx, idx_dir / name)
    assert_documented(outcome, zn.data.read_idx, str(idx_dir / name))
