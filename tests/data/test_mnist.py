"""Tests for the MNIST reader (zeronet.data.mnist).

Tests on the real data read the canonical files from $ZERONET_DATA_DIR (CI
points it at the offline copy) and never write there. Download tests serve
files from a local HTTP server on 127.0.0.1; no test touches the internet:
every test runs with the mirror list pointed at a closed local port.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers.localhttp import serving
from helpers.mnist import mnist_dir

import zeronet as zn
from zeronet.data import mnist
from zeronet.data.mnist import MnistNotFoundError, load_mnist, read_idx

NAMES = list(mnist.MNIST_SHA256)
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_PIXEL_MEAN = 0.1306604762738429  # of x_train / 255


def _closed_port_url() -> str:
    """URL of a local port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(">4B", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _link_files(source: Path, target: Path, names: list[str] = NAMES) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        (target / name).symlink_to(source / name)
    return target


def _write_decoys(target: Path) -> Path:
    """Files with the canonical names but the wrong contents."""
    target.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        (target / name).write_bytes(b"decoy " + name.encode())
    return target


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ZERONET_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (_closed_port_url(),))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "xdg-cache" / "zeronet" / "mnist"


@pytest.fixture(scope="module")
def real_dir() -> Path:
    return mnist_dir()


@pytest.fixture(scope="module")
def real_mnist(real_dir: Path) -> tuple[np.ndarray, ...]:
    return load_mnist(real_dir, download=False)


@dataclass
class LocalServer:
    root: Path
    url: str
    requested: list[str] = field(default_factory=list)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    local = LocalServer(tmp_path / "www", "")
    local.root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(local.root), **kwargs)

        def do_GET(self) -> None:
            local.requested.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as local.url:
        yield local


# --- read_idx -------------------------------------------------------------

IDX_TYPES = [
    (np.uint8, 0x08),
    (np.int8, 0x09),
    (np.int16, 0x0B),
    (np.int32, 0x0C),
    (np.float32, 0x0D),
    (np.float64, 0x0E),
]


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize(("dtype", "code"), IDX_TYPES, ids=lambda v: getattr(v, "__name__", None))
def test_read_idx_round_trips_every_dtype(
    tmp_path: Path, dtype: type, code: int, compress: bool
) -> None:
    array = (np.arange(24) - 7).reshape(2, 3, 4).astype(dtype)
    data = _idx_bytes(array, code)
    path = tmp_path / "array.idx"  # no .gz suffix: gzip is recognised by its magic bytes
    path.write_bytes(gzip.compress(data) if compress else data)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    assert result.flags.writeable


def test_read_idx_one_dimensional_labels(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(_idx_bytes(np.array([7, 2, 1], np.uint8), 0x08))
    np.testing.assert_array_equal(read_idx(path), [7, 2, 1])


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00"])
def test_read_idx_rejects_bad_magic(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(magic + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(
        ValueError, match=r"bad\.idx: not an IDX file: expected magic number 00 00"
    ) as info:
        read_idx(path)
    assert f"got {magic.hex(' ')}" in str(info.value)


@pytest.mark.parametrize(
    ("change", "problem", "given"), [(-1, "truncated", 47), (+3, "has trailing data", 51)]
)
def test_read_idx_rejects_wrong_payload_length(
    tmp_path: Path, change: int, problem: str, given: int
) -> None:
    data = _idx_bytes(np.zeros((2, 3, 4), np.int16), 0x0B)  # 48 payload bytes
    data = data[:change] if change < 0 else data + b"\x00" * change
    path = tmp_path / "short.idx.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(
        ValueError,
        match=rf"short\.idx\.gz: IDX payload {problem}: expected 48 bytes .* got {given}",
    ):
        read_idx(path)


def test_read_idx_rejects_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "header.idx"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 2))
    with pytest.raises(
        ValueError, match=r"header\.idx: truncated IDX header: expected 16 bytes .* got 8"
    ):
        read_idx(path)


# --- load_mnist on the real files -----------------------------------------


def test_real_mnist_shapes_and_dtypes(real_mnist: tuple[np.ndarray, ...]) -> None:
    shapes = [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    assert [a.shape for a in real_mnist] == shapes
    assert all(a.dtype == np.uint8 for a in real_mnist)


def test_real_mnist_label_counts(real_mnist: tuple[np.ndarray, ...]) -> None:
    _, y_train, _, y_test = real_mnist
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_LABEL_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_LABEL_COUNTS


def test_real_mnist_pixel_mean(real_mnist: tuple[np.ndarray, ...]) -> None:
    x_train = real_mnist[0]
    mean = x_train.sum(dtype=np.int64) / x_train.size / 255
    np.testing.assert_allclose(mean, TRAIN_PIXEL_MEAN, rtol=1e-12)


def test_real_mnist_prepared_as_the_seed_does(real_mnist: tuple[np.ndarray, ...]) -> None:
    """flatten_pixels: 784 values per image, row by row, divided by 255 (seed section 2.2.2)."""
    x = zn.data.flatten_pixels(real_mnist[2], np.float32)
    assert (x.shape, x.dtype) == ((10_000, 784), np.dtype(np.float32))
    assert (x.min(), x.max()) == (0.0, 1.0)
    np.testing.assert_array_equal(x[7, 28:56], (real_mnist[2][7, 1] / 255.0).astype(np.float32))


def test_flatten_pixels_reads_row_by_row_and_divides_by_255() -> None:
    images = (np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28)
    x = zn.data.flatten_pixels(images)
    assert (x.shape, x.dtype) == ((2, 784), np.dtype(np.float64))
    np.testing.assert_array_equal(x[1], (np.arange(784, 1568) % 256) / 255.0)


# --- where load_mnist looks -------------------------------------------------


# Which folder holds what: "real" (the canonical files), "partial" (three of
# them) or "decoy" (wrong contents, which fail the checksum if read). Loading
# succeeds only if the folder holding "real" is the one chosen.
LOOKUP_CASES = {
    "explicit-beats-env-and-cache": {"explicit": "real", "env": "decoy", "cache": "decoy"},
    "env-beats-cache": {"env": "real", "cache": "decoy"},
    "cache-when-env-unset": {"cache": "real"},
}


@pytest.mark.parametrize("layout", LOOKUP_CASES.values(), ids=LOOKUP_CASES)
def test_lookup_order(
    real_dir: Path,
    tmp_path: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    layout: dict[str, str],
) -> None:
    folders = {"explicit": tmp_path / "explicit", "env": tmp_path / "env", "cache": cache_dir}
    for where, content in layout.items():
        if content == "decoy":
            _write_decoys(folders[where])
        else:
            _link_files(real_dir, folders[where], NAMES if content == "real" else NAMES[:3])
    if "env" in layout:
        monkeypatch.setenv("ZERONET_DATA_DIR", str(folders["env"]))
    data_dir = folders["explicit"] if "explicit" in layout else None
    x_train, *_ = load_mnist(data_dir, download=False)
    assert x_train.shape == (60000, 28, 28)


def test_explicit_dir_is_the_only_place_searched(
    real_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZERONET_DATA_DIR", str(real_dir))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path / "empty", download=False)
    assert str(info.value).startswith(f"MNIST files not found in data_dir, {tmp_path}/empty (")
    assert str(real_dir) not in str(info.value)  # not searched, so not named


def test_checksum_mismatch_of_local_file_is_an_error(tmp_path: Path) -> None:
    data_dir = _write_decoys(tmp_path / "data")
    name = NAMES[0]
    actual = hashlib.sha256((data_dir / name).read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="SHA-256 mismatch") as info:
        load_mnist(data_dir)  # download allowed, but never over the user's file
    message = str(info.value)
    for expected in (name, mnist.MNIST_SHA256[name], actual):
        assert expected in message
    assert (data_dir / name).read_bytes() == b"decoy " + name.encode()


def test_incomplete_env_folder_is_an_error_though_the_cache_is_complete(
    real_dir: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _link_files(real_dir, cache_dir)
    _link_files(real_dir, tmp_path / "env", NAMES[:3])
    monkeypatch.setenv("ZERONET_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(MnistNotFoundError, match=rf"\$ZERONET_DATA_DIR, {tmp_path}/env "
                                                 rf"\(missing {NAMES[3]}\)"):
        load_mnist()


def test_download_false_names_the_cache_and_the_alternatives(cache_dir: Path) -> None:
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist(download=False)
    message = str(info.value)
    for expected in (
        f"the zeronet cache, {cache_dir} (no such folder)",
        "download=False",
        "ZERONET_DATA_DIR",
        "data_dir",
        NAMES[0],
    ):
        assert expected in message
    assert isinstance(info.value, FileNotFoundError)
    assert not cache_dir.exists()


def test_canonical_sizes_are_those_of_the_offline_copy(real_dir: Path) -> None:
    assert {name: (real_dir / name).stat().st_size for name in NAMES} == mnist.MNIST_BYTES


def test_uncompressed_checksums_are_those_of_the_inflated_files(real_dir: Path) -> None:
    inflated = {name.removesuffix(".gz"): hashlib.sha256(gzip.decompress(
        (real_dir / name).read_bytes())).hexdigest() for name in NAMES}
    assert inflated == mnist.MNIST_RAW_SHA256


def test_real_uncompressed_files_load_as_the_gzipped_ones(
    real_dir: Path, real_mnist: tuple[np.ndarray, ...], tmp_path: Path
) -> None:
    for name in NAMES:
        (tmp_path / name.removesuffix(".gz")).write_bytes(gzip.decompress(
            (real_dir / name).read_bytes()))
    for mine, reference in zip(load_mnist(tmp_path, download=False), real_mnist, strict=True):
        np.testing.assert_array_equal(mine, reference)


# --- downloading --------------------------------------------------------------


def test_download_into_cache_tries_next_mirror(
    real_dir: Path,
    server: LocalServer,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _link_files(real_dir, server.root / "mnist")
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (f"{server.url}/absent/", f"{server.url}/mnist/"))
    x_train, *_ = load_mnist()
    assert x_train.shape == (60000, 28, 28)
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(NAMES)  # no temp files left
    assert not any((cache_dir / name).is_symlink() for name in NAMES)
    assert f"/absent/{NAMES[0]}" in server.requested  # first mirror tried, then the next
    assert f"/mnist/{NAMES[0]}" in server.requested
    progress = capsys.readouterr().err  # tqdm's bar (tests/data/test_progress.py)
    assert "train-images-idx3-ubyte.gz: 100%|" in progress
    assert "9.91M/9.91M" in progress


def test_download_discards_corrupt_file_and_tries_next_mirror(
    real_dir: Path, server: LocalServer, tmp_path: Path
) -> None:
    name = "t10k-labels-idx1-ubyte.gz"
    (server.root / "corrupt").mkdir()
    (server.root / "corrupt" / name).write_bytes(b"corrupt")
    _link_files(real_dir, server.root / "good", [name])
    target = tmp_path / "target"
    path = mnist._download(name, target, mirrors=[f"{server.url}/corrupt/", f"{server.url}/good/"])
    assert path == target / name
    assert list(target.iterdir()) == [path]
    assert path.read_bytes() == (real_dir / name).read_bytes()


def test_corrupt_download_leaves_no_file(
    server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_decoys(server.root / "mnist")
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (f"{server.url}/mnist/",))
    target = tmp_path / "target"
    with pytest.raises(MnistNotFoundError, match="SHA-256 mismatch for downloaded") as info:
        load_mnist(target)
    assert mnist.MNIST_SHA256[NAMES[0]] in str(info.value)
    assert f"/mnist/{NAMES[0]}" in server.requested
    assert list(target.iterdir()) == []  # neither the temp file nor a final file


def test_offline_gives_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirrors = (_closed_port_url(), _closed_port_url())
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", mirrors)
    target = tmp_path / "target"
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist(target)
    message = str(info.value)
    for mirror in mirrors:
        assert f"{mirror}{NAMES[0]}: " in message
    assert "refused" in message.lower()
    assert str(target) in message
    assert "ZERONET_DATA_DIR" in message
    assert list(target.iterdir()) == []
