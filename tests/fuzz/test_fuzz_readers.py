"""Fuzzing the file readers with hostile bytes, in bounded memory: read_idx and the sine CSVs.

The inputs are what an attacker or an accident puts on disk: valid IDX files,
gzipped or not, mutated; headers declaring enormous dimensions; gzip bombs
(many gzip members of zeros: a few KB that inflate to megabytes); CSV files
with mutated bytes, endless lines and oversized bodies. Each call must end as
the harness requires (fuzz/harness.py): a documented exception naming the
file, or a result equal to an independent reading -- and its peak memory,
measured with tracemalloc (numpy's and zlib's buffers included), must stay
within the bound the reader promises.

The 1 GiB bomb is refused in a separate process under an address-space limit
(RLIMIT_AS), so a reader that inflates it fails with MemoryError instead of
taking the machine's memory; its peak memory and time are measured there.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import zeronet as zn
from fuzz.harness import FUZZ, Raised, Returned, assert_documented, assert_returned, run
from fuzz.test_fuzz_data import IDX_DTYPES, idx_files, parse_idx
from zeronet.data import idx, sine
from zeronet.data.sine import CSV_NAMES, generate_sine_csvs, load_sine_csvs

MiB = 1 << 20
#: read_idx's limit in these properties: declared payloads above it must be refused unread.
MAX_BYTES = 256 * 1024
#: Peak memory allowed per call: the largest array allowed, plus a few read chunks (the
#: inflated chunk, the copy it is made into, zlib's output buffer) and the small change.
IDX_PEAK = MAX_BYTES + 4 * idx.CHUNK_BYTES + 512 * 1024
#: The CSV reader reads at most MAX_CSV_BYTES + 1 bytes; the decoded text, its lines and
#: the Python floats of a one-number-per-line file cost a few dozen times that at worst.
CSV_PEAK = 64 * MiB


def gzip_member(data: bytes, level: int = 9) -> bytes:
    """One gzip member holding ``data`` (members concatenate: gzip reads them as one file)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def bomb(head: bytes, mebibytes: int) -> bytes:
    """``head`` then ``mebibytes`` MiB of zeros, gzipped: about 1 KB per MiB on disk."""
    zeros = gzip_member(bytes(MiB))
    return gzip_member(head) + zeros * mebibytes


def idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def measured(fn: Callable[..., Any], *args: Any) -> tuple[Any, int]:
    """``run(fn, *args)`` and the peak memory it allocated, in bytes."""
    tracemalloc.start()
    try:
        outcome = run(fn, *args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


# ---------------------------------------------------------------------------- read_idx

@st.composite
def hostile_idx_files(draw: st.DrawFn) -> bytes:
    """The mutated files of test_fuzz_data.py, or a header declaring huge dimensions (with a
    short body, gzipped or not), or a gzip bomb behind a valid or a huge header."""
    kind = draw(st.sampled_from(["mutated", "mutated", "huge-header", "bomb"]))
    if kind == "mutated":
        return draw(idx_files())
    code = draw(st.sampled_from(sorted(IDX_DTYPES)))
    dims = st.one_of(st.integers(0, 300), st.integers(2**16, 2**32 - 1),
                     st.sampled_from([2**32 - 1, 2**31, 60000, 28]))
    shape = tuple(draw(st.lists(dims, min_size=1, max_size=4)))
    head = idx_header(code, shape)
    if kind == "huge-header":
        body = draw(st.binary(max_size=64))
        return gzip_member(head + body) if draw(st.booleans()) else head + body
    return bomb(head if draw(st.booleans()) else b"", draw(st.integers(1, 8)))


def expected_read(data: bytes) -> np.ndarray | None:
    """parse_idx's array, unless its header declares more than MAX_BYTES (then refused)."""
    array = parse_idx(data)
    if array is None or array.nbytes > MAX_BYTES:
        return None
    return array


@FUZZ
@given(data=hostile_idx_files())
@example(data=idx_header(0x08, (2**32 - 1, 2**32 - 1, 2**32 - 1)))  # declares 2^96 bytes
@example(data=bomb(idx_header(0x08, (60000, 28, 28)), 8))  # bigger than MAX_BYTES: unread
@example(data=bomb(idx_header(0x08, (16, 16)), 8))  # a valid array, then 8 MiB of zeros
@example(data=bomb(b"", 8))  # zeros: not an IDX file
def test_read_idx_refuses_hostile_files_in_bounded_memory(scratch: Path, data: bytes) -> None:
    path = scratch / "hostile.idx"
    path.write_bytes(data)
    outcome, peak = measured(lambda p: zn.data.read_idx(p, max_bytes=MAX_BYTES), path)
    assert peak <= IDX_PEAK, f"read_idx used {peak} bytes at its peak (bound {IDX_PEAK})"
    expected = expected_read(data)
    if expected is None:
        assert_documented(outcome, zn.data.read_idx, str(path))
        return
    array = assert_returned(outcome, "read_idx")
    assert (array.shape, array.dtype) == (expected.shape, expected.dtype.newbyteorder("="))
    assert array.tobytes() == expected.astype(array.dtype).tobytes()


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_of_big_endian_items_costs_one_array(scratch: Path, compress: bool) -> None:
    """4 MiB of float64: read into one array and byte-swapped in place, not copied."""
    array = np.arange(MiB // 2, dtype=">f8")
    data = idx_header(0x0E, array.shape) + array.tobytes()
    path = scratch / "floats.idx"
    path.write_bytes(gzip_member(data, level=1) if compress else data)
    outcome, peak = measured(zn.data.read_idx, path)
    assert isinstance(outcome, Returned), outcome
    np.testing.assert_array_equal(outcome.value, array)
    assert peak <= array.nbytes + 4 * idx.CHUNK_BYTES + 512 * 1024, peak


def test_plain_file_of_the_wrong_length_is_refused_before_allocating(scratch: Path) -> None:
    """A plain file's length is known: a header declaring 47 MB over 10 bytes costs nothing."""
    path = scratch / "short.idx"
    path.write_bytes(idx_header(0x08, (60000, 28, 28)) + bytes(10))
    outcome, peak = measured(zn.data.read_idx, path)
    assert isinstance(outcome, Raised)
    assert "IDX payload truncated: expected 47040000 bytes" in str(outcome.error)
    assert peak < MiB, peak


# ---------------------------------------------------------------------------- sine CSVs

@pytest.fixture(scope="module")
def seed_csvs(scratch: Path) -> dict[str, bytes]:
    paths = generate_sine_csvs(scratch / "seed")
    return {name: paths[name].read_bytes() for name in CSV_NAMES}


@st.composite
def csv_damage(draw: st.DrawFn) -> tuple[str, Callable[[bytes], bytes]]:
    """Which file to damage and how: bytes flipped, inserted or cut, a line of many
    characters, the file grown past MAX_CSV_BYTES, or its rows replaced by random text."""
    name = draw(st.sampled_from(CSV_NAMES))
    kind = draw(st.sampled_from(["flip", "insert", "cut", "long-line", "oversize", "text"]))
    position = draw(st.integers(0, 30_000))
    if kind == "flip":
        value = draw(st.integers(0, 255))
        return name, lambda b: b[:position] + bytes([value]) + b[position + 1:]
    if kind == "insert":
        extra = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
            [b",", b"#", b"\r", b"\n\n", b" ", b"_", b"nan", b"-inf", b"1e999", b"\x00"]))
        return name, lambda b: b[:position] + extra + b[position:]
    if kind == "cut":
        return name, lambda b: b[:position]
    if kind == "long-line":
        length = draw(st.sampled_from([sine.MAX_LINE_CHARS, sine.MAX_LINE_CHARS + 1, 100_000]))
        return name, lambda b: b[:position] + b"1" * length + b"\n" + b[position:]
    if kind == "oversize":
        extra = draw(st.sampled_from([0, 1, 10 * MiB]))
        line = b"1.000000000000000000e+00\n"
        return name, lambda b: line * ((sine.MAX_CSV_BYTES + extra) // len(line) + 1)
    rows = draw(st.lists(st.text(max_size=12), max_size=6))
    return name, lambda b: "\n".join(rows).encode("utf-8", "surrogatepass")


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 60))
@given(damage=csv_damage())
def test_sine_csvs_refuse_hostile_files_in_bounded_memory(
        scratch: Path, seed_csvs: dict[str, bytes], damage: tuple[str, Callable[[bytes], bytes]],
) -> None:
    """Damaged files are read as np.loadtxt reads them, or refused with ValueError naming
    the file; the reader's memory stays bounded whatever the file's size."""
    directory = scratch / "damaged"
    directory.mkdir(exist_ok=True)
    name, change = damage
    for each, content in seed_csvs.items():
        (directory / each).write_bytes(change(content) if each == name else content)
    outcome, peak = measured(load_sine_csvs, directory)
    assert peak <= CSV_PEAK, f"load_sine_csvs used {peak} bytes at its peak (bound {CSV_PEAK})"
    if isinstance(outcome, Raised):
        assert_documented(outcome, load_sine_csvs, str(directory / name), str(directory))
        return
    data = assert_returned(outcome, "load_sine_csvs")
    column = getattr(data, name.removesuffix(".csv"))
    expected = np.loadtxt(directory / name, delimiter=",", dtype=np.float64).reshape(-1, 1)
    assert column.tobytes() == expected.tobytes()


# ---------------------------------------------------------------------------- the 1 GiB bomb

BOMB_SCRIPT = r'''
import json, os, resource, sys, time, tracemalloc, warnings
from pathlib import Path
sys.path[:0] = [sys.argv[1]]
import zeronet as zn
from zeronet.data import mnist

folder, cache_base = Path(sys.argv[2]), Path(sys.argv[3])
with open("/proc/self/status") as status:
    vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
limit = vm + int(sys.argv[4])  # the address space the reader may add to what is mapped now
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
os.environ["XDG_CACHE_HOME"] = str(cache_base)
mnist.MNIST_MIRRORS = ("http://127.0.0.1:9/",)
cases = {
    "read_idx": lambda: zn.data.read_idx(folder / "train-images-idx3-ubyte.gz"),
    "data_dir": lambda: zn.data.load_mnist(folder, download=False),
    "env": lambda: (os.environ.__setitem__("ZERONET_DATA_DIR", str(folder)),
                    zn.data.load_mnist())[1],
    "cache": lambda: (os.environ.pop("ZERONET_DATA_DIR"), zn.data.load_mnist(download=False))[1],
}
results = {}
for case, call in cases.items():
    tracemalloc.start()
    start = time.perf_counter()
    try:
        call()
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    results[case] = {"error": error, "peak": peak, "seconds": seconds}
print(json.dumps(results))
'''


def refuse_bomb(tmp_path: Path, head: bytes, address_space: int) -> dict[str, dict[str, Any]]:
    """Put a 1 GiB bomb under the canonical name in a folder and in the cache; each reader's
    outcome, peak memory and time, from a process allowed ``address_space`` more bytes."""
    data = bomb(head, 1024)
    assert len(data) < 1.5 * MiB
    folder = tmp_path / "data"
    cache = tmp_path / "xdg" / "zeronet" / "mnist"
    for where in (folder, cache):
        where.mkdir(parents=True)
        (where / "train-images-idx3-ubyte.gz").write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(Path(zn.__file__).parents[1]), str(folder),
         str(tmp_path / "xdg"), str(address_space)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert (folder / "train-images-idx3-ubyte.gz").read_bytes() == data  # the user's: kept
    assert not (cache / "train-images-idx3-ubyte.gz").exists()  # zeronet's: deleted
    return results


#: A valid header of the canonical shape (the reader must inflate 47 MB to find the
#: trailing data), zeros (not IDX at all), or a header declaring far more than MNIST.
BOMB_HEADS = {"canonical-header": idx_header(0x08, (60000, 28, 28)),
              "zeros": b"",
              "huge-header": idx_header(0x08, (2**32 - 1, 2**32 - 1))}


@pytest.mark.parametrize("head", BOMB_HEADS.values(), ids=BOMB_HEADS)
def test_a_1_gib_gzip_bomb_is_refused_in_bounded_memory(tmp_path: Path, head: bytes) -> None:
    """1 MB on disk, 1 GiB inflated: refused by read_idx and load_mnist, wherever it lies,
    with peak memory under twice the canonical arrays (~100 MB) -- under an address-space
    limit of 512 MiB more than the process had, so inflating it whole cannot succeed."""
    results = refuse_bomb(tmp_path, head, 512 * MiB)
    bound = 2 * (60000 + 10000) * (28 * 28 + 1)  # twice the four canonical arrays: 110 MB
    for case, result in results.items():
        assert result["error"] is not None, case
        assert result["error"].startswith(("ValueError", "MnistNotFoundError")), result
        assert "train-images-idx3-ubyte.gz" in result["error"], result
        assert result["peak"] < bound, (case, result["peak"])
    for case in ("data_dir", "env", "cache"):  # the checksum and the diagnosis stream it
        assert results[case]["peak"] < 16 * MiB, (case, results[case]["peak"])
    assert "are yours" in results["data_dir"]["error"]
    assert "are yours" in results["env"]["error"]
    assert "Deleted it from the zeronet cache" in results["cache"]["error"]

