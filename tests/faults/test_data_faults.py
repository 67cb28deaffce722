"""Faulty data files: each gives one clear error, and nothing bad stays in the cache.

MNIST: small IDX files crafted here stand in for the real ones (the checksum
table and split sizes are patched to match), so these tests need neither the
real data nor the network; a local HTTP server on 127.0.0.1 plays the mirror
and can close the connection mid-file. Sine: the generated CSV files, damaged
one line at a time.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import http.server
import re
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers.localhttp import serving

from zeronet import cli
from zeronet.data import download, mnist, sine
from zeronet.data.download import Limits
from zeronet.data.mnist import MnistNotFoundError, load_mnist, read_idx
from zeronet.data.sine import CSV_NAMES, generate_sine_csvs, load_sine_csvs

N_TRAIN, N_TEST = 100, 10
IMAGE_BYTES = 28 * 28
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
NAMES = [TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS]  # the download order


def _idx(array: np.ndarray) -> bytes:
    """Raw uint8 IDX bytes of ``array``."""
    header = struct.pack(">4B", 0, 0, 0x08, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FakeMnist:
    """Four small, well-formed MNIST files; the module's checksums are patched to theirs."""

    arrays: dict[str, np.ndarray]
    files: dict[str, bytes]

    def write(self, directory: Path, names: list[str] = NAMES) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name in names:
            (directory / name).write_bytes(self.files[name])
        return directory

    def write_raw(self, directory: Path, names: list[str] = NAMES) -> Path:
        """The files uncompressed, as ``gunzip`` leaves them: NAME without .gz."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in names:
            (directory / name.removesuffix(".gz")).write_bytes(_idx(self.arrays[name]))
        return directory

    def check(self, loaded: tuple[np.ndarray, ...]) -> None:
        for name, array in zip([TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS], loaded,
                               strict=True):
            np.testing.assert_array_equal(array, self.arrays[name])


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ZERONET_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    with socket.socket() as sock:  # a port nothing listens on: no test reaches the internet
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (f"http://127.0.0.1:{closed_port}/",))


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "xdg-cache" / "zeronet" / "mnist"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeMnist:
    rng = np.random.default_rng(20240605)
    arrays = {
        TEST_IMAGES: rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, N_TEST, dtype=np.uint8),
        TRAIN_IMAGES: rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
    }
    files = {name: _gz(_idx(array)) for name, array in arrays.items()}
    monkeypatch.setattr(mnist, "MNIST_SHA256", {name: _sha256(files[name]) for name in NAMES})
    monkeypatch.setattr(mnist, "MNIST_RAW_SHA256",
                        {name[:-3]: _sha256(_idx(arrays[name])) for name in NAMES})
    monkeypatch.setattr(mnist, "MNIST_BYTES", {name: len(files[name]) for name in NAMES})
    monkeypatch.setattr(mnist, "_SPLITS", {"train": (TRAIN_IMAGES, TRAIN_LABELS, N_TRAIN),
                                           "test": (TEST_IMAGES, TEST_LABELS, N_TEST)})
    return FakeMnist(arrays, files)


@dataclass
class Mirror:
    """A local mirror serving ``files``; a name in ``cut_after`` is cut off after that many
    body bytes, although the Content-Length header announces the whole file."""

    url: str
    files: dict[str, bytes]
    cut_after: dict[str, int] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)
    #: name -> what the server does instead (a hostile mirror: see HOSTILE below)
    serve: dict[str, Callable[[http.server.BaseHTTPRequestHandler, bytes], None]] = field(
        default_factory=dict)


@pytest.fixture
def mirror(fake: FakeMnist, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    state = Mirror("", dict(fake.files))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requested.append(self.path)
            body = state.files.get(self.path.removeprefix("/mnist/"))
            if body is None:
                self.send_error(404)
                return
            if (hostile := state.serve.get(self.path.removeprefix("/mnist/"))) is not None:
                with contextlib.suppress(OSError):  # the client hangs up: that is the point
                    hostile(self, body)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: state.cut_after.get(self.path.removeprefix("/mnist/"))])
            # HTTP/1.0: the server closes the connection once the handler returns

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as state.url:
        monkeypatch.setattr(mnist, "MNIST_MIRRORS", (f"{state.url}/mnist/",))
        yield state


# --- the faults -------------------------------------------------------------------------

def _regzip(change: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    return lambda good: _gz(change(gzip.decompress(good)))


def _flip_crc(good: bytes) -> bytes:
    return good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:]


# name -> (damage done to the good train-images file, what the error says is wrong)
FAULTS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated-gzip": (lambda good: good[: len(good) // 2],
                       "corrupt or truncated gzip data: Compressed file ended"),
    "gzip-crc": (_flip_crc, "corrupt or truncated gzip data: CRC check failed"),
    "empty": (lambda good: b"", r"empty file \(0 bytes\)"),
    "not-gzip": (lambda good: b"<html>404 Not Found</html>",
                 "neither gzip data nor an IDX file: expected the gzip magic number 1f 8b or "
                 "the IDX magic number 00 00 <.*>, got 3c 68 74 6d"),
    "wrong-magic": (_regzip(lambda raw: b"\x00\x00\x07" + raw[3:]),
                    r"not an IDX file \(after gzip decompression\): "
                    "expected magic number 00 00 <.*>, got 00 00 07 03"),
    "header-100-body-99": (_regzip(lambda raw: raw[:-IMAGE_BYTES]),
                           r"IDX payload truncated: expected 78400 bytes .* got 77616: "
                           "the header counts 100 records of 784 bytes, the body holds 99"),
    "header-100-body-101": (_regzip(lambda raw: raw + bytes(IMAGE_BYTES)),
                            r"IDX payload has trailing data: expected 78400 bytes .* got 79184: "
                            "the header counts 100 records of 784 bytes, the body holds 101"),
}


@pytest.mark.parametrize(("damage", "reason"), FAULTS.values(), ids=FAULTS)
def test_read_idx_names_the_file_and_what_is_wrong(
    fake: FakeMnist, tmp_path: Path, damage: Callable[[bytes], bytes], reason: str
) -> None:
    path = tmp_path / TRAIN_IMAGES
    path.write_bytes(damage(fake.files[TRAIN_IMAGES]))
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: {reason}"):
        read_idx(path)


def test_read_idx_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / TRAIN_IMAGES
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        read_idx(path)


def test_fake_files_load(fake: FakeMnist, tmp_path: Path) -> None:
    fake.check(load_mnist(fake.write(tmp_path / "data"), download=False))


# --- files in a folder the user supplied: errors, never deleted ----------------------------

@pytest.mark.parametrize("via", ["data_dir", "env"])
@pytest.mark.parametrize(("damage", "reason"), FAULTS.values(), ids=FAULTS)
def test_bad_file_in_user_folder_is_an_error_and_kept(
    fake: FakeMnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    damage: Callable[[bytes], bytes], reason: str, via: str,
) -> None:
    folder = fake.write(tmp_path / "data")
    bad = damage(fake.files[TRAIN_IMAGES])
    (folder / TRAIN_IMAGES).write_bytes(bad)
    if via == "env":
        monkeypatch.setenv("ZERONET_DATA_DIR", str(folder))
    with pytest.raises(ValueError, match="SHA-256 mismatch") as info:
        load_mnist(folder if via == "data_dir" else None)  # download allowed, yet not done
    message = str(info.value)
    assert str(folder / TRAIN_IMAGES) in message
    assert re.search(reason, message), message
    assert "are yours: zeronet never deletes or overwrites them" in message
    assert (folder / TRAIN_IMAGES).read_bytes() == bad
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)


def test_another_idx_file_under_a_canonical_name_is_described(
    fake: FakeMnist, tmp_path: Path
) -> None:
    folder = fake.write(tmp_path / "data")
    (folder / TRAIN_IMAGES).write_bytes(fake.files[TEST_IMAGES])
    with pytest.raises(ValueError, match=r"SHA-256 mismatch .* \(\d+ bytes; a readable IDX file, "
                                         r"but of shape \(10, 28, 28\) and other contents\)"):
        load_mnist(folder)


def test_unreadable_file_in_user_folder_is_an_error_and_kept(
    fake: FakeMnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fake.write(tmp_path / "data")
    bad = b"\x00\x00\x08\x01" + struct.pack(">I", N_TEST)  # labels header without the body
    (folder / TEST_LABELS).write_bytes(bad)
    monkeypatch.setitem(mnist.MNIST_SHA256, TEST_LABELS, _sha256(bad))  # passes the checksum
    with pytest.raises(ValueError, match=rf"{re.escape(str(folder / TEST_LABELS))}: IDX payload"
                                         " truncated.* are yours"):
        load_mnist(folder)
    assert (folder / TEST_LABELS).read_bytes() == bad


@pytest.mark.parametrize("where", ["data_dir", "cache"])
def test_images_and_labels_counts_that_disagree(
    fake: FakeMnist, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    folder = fake.write(tmp_path / "data" if where == "data_dir" else cache_dir)
    short_labels = _gz(_idx(fake.arrays[TRAIN_LABELS][:-1]))  # 100 images, 99 labels
    (folder / TRAIN_LABELS).write_bytes(short_labels)
    monkeypatch.setitem(mnist.MNIST_SHA256, TRAIN_LABELS, _sha256(short_labels))
    expected = f"{folder / TRAIN_IMAGES} holds 100 images but {folder / TRAIN_LABELS} holds 99"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)} labels;") as info:
        load_mnist(folder if where == "data_dir" else None)
    if where == "data_dir":
        assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)
    else:
        assert "Deleted train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz from the " \
               "zeronet cache" in str(info.value)
        assert sorted(p.name for p in folder.iterdir()) == [TEST_IMAGES, TEST_LABELS]


def test_missing_file_in_user_folder_is_named(fake: FakeMnist, tmp_path: Path) -> None:
    folder = fake.write(tmp_path / "data", [TEST_IMAGES, TRAIN_IMAGES, TRAIN_LABELS])
    with pytest.raises(MnistNotFoundError, match=rf"in data_dir, {re.escape(str(folder))} "
                                                 rf"\(missing {re.escape(TEST_LABELS)}\)"):
        load_mnist(folder, download=False)


@pytest.mark.parametrize("via", ["data_dir", "env"])
def test_user_folder_that_is_the_cache_path_stays_the_users(
    fake: FakeMnist, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    fake.write(cache_dir)
    (cache_dir / TRAIN_IMAGES).write_bytes(b"")
    if via == "env":
        monkeypatch.setenv("ZERONET_DATA_DIR", str(cache_dir))
    with pytest.raises(ValueError, match="are yours"):
        load_mnist(cache_dir if via == "data_dir" else None)
    assert (cache_dir / TRAIN_IMAGES).exists()


# --- files in zeronet's cache: a bad one never stays ----------------------------------------

@pytest.mark.parametrize(("damage", "reason"), FAULTS.values(), ids=FAULTS)
def test_bad_file_in_cache_is_deleted_and_downloaded_again(
    fake: FakeMnist, mirror: Mirror, cache_dir: Path,
    damage: Callable[[bytes], bytes], reason: str,
) -> None:
    fake.write(cache_dir)
    (cache_dir / TRAIN_IMAGES).write_bytes(damage(fake.files[TRAIN_IMAGES]))
    with pytest.warns(UserWarning, match=f"{re.escape(str(cache_dir / TRAIN_IMAGES))}.*{reason}"
                                         ".*Deleted it from the zeronet cache. Downloading it"):
        fake.check(load_mnist())
    assert mirror.requested == [f"/mnist/{TRAIN_IMAGES}"]
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(NAMES)
    assert (cache_dir / TRAIN_IMAGES).read_bytes() == fake.files[TRAIN_IMAGES]


@pytest.mark.parametrize(("damage", "reason"), FAULTS.values(), ids=FAULTS)
def test_bad_file_in_cache_is_deleted_without_download(
    fake: FakeMnist, cache_dir: Path, damage: Callable[[bytes], bytes], reason: str
) -> None:
    fake.write(cache_dir)
    (cache_dir / TRAIN_IMAGES).write_bytes(damage(fake.files[TRAIN_IMAGES]))
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert re.search(f"{re.escape(str(cache_dir / TRAIN_IMAGES))}.*{reason}", message), message
    assert "Deleted it from the zeronet cache.\nNot downloading (download=False)." in message
    assert f"the zeronet cache, {cache_dir} (missing {TRAIN_IMAGES})" in message
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(set(NAMES) - {TRAIN_IMAGES})


def test_bad_file_in_incomplete_cache_is_deleted_before_downloading(
    fake: FakeMnist, mirror: Mirror, cache_dir: Path
) -> None:
    fake.write(cache_dir, [TEST_IMAGES, TRAIN_IMAGES])
    (cache_dir / TEST_IMAGES).write_bytes(b"")
    with pytest.warns(UserWarning, match="empty file"):
        fake.check(load_mnist())
    assert sorted(mirror.requested) == sorted(f"/mnist/{n}" for n in NAMES if n != TRAIN_IMAGES)
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(NAMES)


def test_unreadable_file_in_cache_is_deleted(
    fake: FakeMnist, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.write(cache_dir)
    bad = b"\x00\x00\x08\x01" + struct.pack(">I", N_TEST)  # labels header without the body
    (cache_dir / TEST_LABELS).write_bytes(bad)
    monkeypatch.setitem(mnist.MNIST_SHA256, TEST_LABELS, _sha256(bad))  # passes the checksum
    with pytest.raises(ValueError, match=rf"{re.escape(str(cache_dir / TEST_LABELS))}: IDX payload"
                                         f" truncated.* Deleted {TEST_LABELS} from the zeronet"):
        load_mnist()
    assert not (cache_dir / TEST_LABELS).exists()


# --- interrupted downloads ----------------------------------------------------------------

@pytest.mark.parametrize("where", ["cache", "data_dir"])
def test_connection_closed_mid_file_leaves_nothing_and_the_next_call_succeeds(
    fake: FakeMnist, mirror: Mirror, tmp_path: Path, cache_dir: Path, where: str
) -> None:
    folder = cache_dir if where == "cache" else tmp_path / "data"
    data_dir = folder if where == "data_dir" else None
    size = len(fake.files[TEST_IMAGES])
    mirror.cut_after[TEST_IMAGES] = 1000
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist(data_dir)
    assert (f"{mirror.url}/mnist/{TEST_IMAGES}: download interrupted: the connection closed "
            f"after 1000 of {size} bytes") in str(info.value)
    assert list(folder.iterdir()) == []  # neither the file nor its .part
    mirror.cut_after.clear()
    fake.check(load_mnist(data_dir))
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)


def test_keyboard_interrupt_mid_download_leaves_no_temp_file(
    fake: FakeMnist, mirror: Mirror, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_mid_download: list[list[str]] = []
    read1 = http.client.HTTPResponse.read1

    def read_then_ctrl_c(self: http.client.HTTPResponse, amt: int = -1) -> bytes:
        if seen_mid_download:
            raise KeyboardInterrupt
        seen_mid_download.append([p.name for p in cache_dir.iterdir()])
        return read1(self, 100)

    with monkeypatch.context() as patch:
        patch.setattr(http.client.HTTPResponse, "read1", read_then_ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            load_mnist()
    [names] = seen_mid_download
    assert len(names) == 1
    assert names[0].startswith(f".{TEST_IMAGES}.")
    assert "part" in names[0]  # the temp file existed mid-download ...
    assert list(cache_dir.iterdir()) == []  # ... and is gone
    fake.check(load_mnist())


# --- hostile mirrors: bounded in bytes and in time ---------------------------------------

def _send(handler: http.server.BaseHTTPRequestHandler, length: int | None) -> None:
    handler.send_response(200)
    if length is not None:
        handler.send_header("Content-Length", str(length))
    handler.end_headers()


def _for(seconds: float, interval: float, write: Callable[[], None]) -> None:
    """Call ``write`` every ``interval`` s until ``seconds`` have passed (or the client left)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        write()
        time.sleep(interval)


def _announce_256_mib(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    _send(handler, 256 << 20)
    _for(5, 0.01, lambda: handler.wfile.write(bytes(1 << 16)))


def _endless(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    _send(handler, None)  # no Content-Length: the body ends when the server closes, never
    _for(10, 0, lambda: handler.wfile.write(bytes(1 << 16)))


def _one_byte_too_many(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    _send(handler, None)
    handler.wfile.write(body + b"\0")


def _trickle(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    _send(handler, len(body))
    chunks = iter(body)
    _for(10, 0.2, lambda: handler.wfile.write(bytes([next(chunks)])) or handler.wfile.flush())


def _steady_but_slow(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    _send(handler, len(body))
    chunks = iter(range(0, len(body), 100))
    _for(10, 0.02, lambda: handler.wfile.write(body[next(chunks):][:100]) or handler.wfile.flush())


FAST_FAIL = Limits(timeout=5, min_rate=1e6, grace=0.5, deadline=30)  # trickles: too slow
SHORT_DEADLINE = Limits(timeout=5, min_rate=0, grace=0, deadline=0.5)  # any rate, 0.5 s
# name -> (what the mirror does, the limits, what the error says, seconds it may take)
HOSTILE = {
    "announces-256-MiB": (_announce_256_mib, Limits(),
                          r"the server announces 268435456 bytes \(Content-Length\), more than "
                          "the {size} bytes of {name}; not downloading it", 1.0),
    "endless-body": (_endless, Limits(), "the server sent more than the {size} bytes of {name}; "
                                         "stopped reading", 2.0),
    "one-byte-too-many": (_one_byte_too_many, Limits(), "the server sent more than the {size} "
                                                        "bytes of {name}; stopped reading", 1.0),
    "trickle": (_trickle, FAST_FAIL, r"download too slow: \d+ bytes in \d+\.\d s, below the "
                                     "minimum average of 1e\\+06 bytes/s", 2.0),
    "deadline": (_steady_but_slow, SHORT_DEADLINE, "download took longer than the deadline of "
                                                   r"0\.5 s per file \(\d+ of {size} bytes", 2.0),
}


@pytest.mark.parametrize(("hostile", "limits", "reason", "seconds"), HOSTILE.values(),
                         ids=HOSTILE)
def test_hostile_mirror_is_given_up_and_leaves_nothing(
    fake: FakeMnist, mirror: Mirror, tmp_path: Path, hostile: Callable[..., None],
    limits: Limits, reason: str, seconds: float,
) -> None:
    name = TEST_IMAGES
    mirror.serve[name] = hostile
    target = tmp_path / "target"
    start = time.monotonic()
    with pytest.raises(mnist._DownloadError) as info:
        mnist._download(name, target, limits=limits)
    took = time.monotonic() - start
    [failure] = info.value.failures
    expected = reason.format(size=len(fake.files[name]), name=name)
    assert re.fullmatch(f"{re.escape(mirror.url)}/mnist/{name}: {expected}.*", failure), failure
    assert took < seconds, f"gave up after {took:.2f} s"
    assert list(target.iterdir()) == []  # neither the file nor its temporary file


def test_download_limits_are_the_module_constants_by_default() -> None:
    assert Limits() == Limits(timeout=download.DOWNLOAD_TIMEOUT,
                              min_rate=download.DOWNLOAD_MIN_RATE,
                              grace=download.DOWNLOAD_GRACE, deadline=download.DOWNLOAD_DEADLINE)
    assert (download.DOWNLOAD_MIN_RATE, download.DOWNLOAD_GRACE,
            download.DOWNLOAD_DEADLINE) == (8 * 1024, 10.0, 120.0)


# --- uncompressed files ----------------------------------------------------------------------

@pytest.mark.parametrize("gzipped", [[], [TRAIN_IMAGES, TEST_LABELS]], ids=["raw", "mixed"])
def test_uncompressed_files_load(fake: FakeMnist, tmp_path: Path, gzipped: list[str]) -> None:
    folder = fake.write_raw(tmp_path / "data", [n for n in NAMES if n not in gzipped])
    fake.write(folder, gzipped)
    fake.check(load_mnist(folder, download=False))


def test_gzipped_file_is_read_when_both_are_there(fake: FakeMnist, tmp_path: Path) -> None:
    folder = fake.write(fake.write_raw(tmp_path / "data"))
    (folder / TRAIN_IMAGES.removesuffix(".gz")).write_bytes(b"not read")
    fake.check(load_mnist(folder, download=False))


def test_bad_uncompressed_file_in_user_folder_is_an_error_and_kept(
    fake: FakeMnist, tmp_path: Path
) -> None:
    folder = fake.write_raw(tmp_path / "data")
    raw = folder / TRAIN_LABELS.removesuffix(".gz")
    raw.write_bytes(raw.read_bytes()[:-1])
    with pytest.raises(ValueError, match=rf"SHA-256 mismatch for {re.escape(str(raw))}: .*IDX "
                                         "payload truncated.* are yours"):
        load_mnist(folder)
    assert len(raw.read_bytes()) == len(_idx(fake.arrays[TRAIN_LABELS])) - 1


def test_bad_uncompressed_file_in_cache_is_deleted(fake: FakeMnist, cache_dir: Path) -> None:
    fake.write_raw(cache_dir)
    (cache_dir / TEST_IMAGES.removesuffix(".gz")).write_bytes(b"\0\0\x08\x01")
    with pytest.raises(MnistNotFoundError, match="Deleted it from the zeronet cache"):
        load_mnist(download=False)
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(
        n.removesuffix(".gz") for n in NAMES if n != TEST_IMAGES)


# --- ZERONET_DATA_DIR: the only source when set ---------------------------------------------

def test_env_folder_is_the_only_source_no_cache_no_download(
    fake: FakeMnist, mirror: Mirror, tmp_path: Path, cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.write(cache_dir)  # a complete cache, and a mirror: neither is used
    env_dir = fake.write(tmp_path / "env", [TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES])
    monkeypatch.setenv("ZERONET_DATA_DIR", str(env_dir))
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist()  # download allowed, yet not done
    assert str(info.value).splitlines()[:2] == [
        f"MNIST files not found in $ZERONET_DATA_DIR, {env_dir} (missing {TRAIN_LABELS}).",
        "$ZERONET_DATA_DIR, when set, is the only folder read: no cache, no download."]
    assert mirror.requested == []
    assert sorted(p.name for p in env_dir.iterdir()) == [TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES]


def _lines_of(error: BaseException) -> list[str]:
    return str(error).splitlines()


@pytest.mark.parametrize("where", ["env", "cache-offline", "cache-no-download"])
def test_not_found_is_a_few_short_lines_naming_the_source(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "env":
        monkeypatch.setenv("ZERONET_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(MnistNotFoundError) as info:
        load_mnist(download=where != "cache-no-download")
    lines = _lines_of(info.value)
    source = "$ZERONET_DATA_DIR" if where == "env" else "the zeronet cache"
    folder = tmp_path / "env" if where == "env" else cache_dir
    state = "none of the four files" if where == "cache-offline" else "no such folder"
    assert lines[0] == f"MNIST files not found in {source}, {folder} ({state})."
    assert len(lines) <= 9, lines
    assert all(len(line) <= 100 + len(str(tmp_path)) for line in lines), lines
    if where == "cache-offline":
        assert lines[-3:] == [
            "Offline? Set ZERONET_DATA_DIR to a folder holding the four files (gzipped or not),",
            "or skip the report's MNIST runs: zeronet report --no-mnist",
            "(through tox: tox -e report -- --no-mnist)."]


def test_zeronet_train_prints_the_not_found_lines_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZERONET_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--dataset", "mnist", "--epochs", "1"])
    lines = capsys.readouterr().err.splitlines()
    assert info.value.code == 2
    assert lines[0] == (f"zeronet train: error: MNIST files not found in $ZERONET_DATA_DIR, "
                        f"{tmp_path}/env (no such folder).")
    assert 3 <= len(lines) <= 9
    assert all(len(line) <= 100 + len(str(tmp_path)) for line in lines)


def test_zeronet_train_takes_a_data_dir_of_uncompressed_files(
    fake: FakeMnist, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fake.write_raw(tmp_path / "data")
    assert cli.main(["train", "--dataset", "mnist", "--epochs", "1", "--data-dir",
                     str(folder)]) == 0
    assert "epoch 1/1" in capsys.readouterr().out


# --- the cache: only zeronet's own folder is cleaned ----------------------------------------

@pytest.mark.parametrize("link", ["mnist", "zeronet"])
def test_cache_that_is_a_symlink_into_a_users_folder_is_never_cleaned(
    fake: FakeMnist, tmp_path: Path, cache_dir: Path, link: str
) -> None:
    users = fake.write(tmp_path / "users" / "mnist")
    (users / TRAIN_IMAGES).write_bytes(b"the user's own file")
    linked = cache_dir if link == "mnist" else cache_dir.parent
    linked.parent.mkdir(parents=True)
    linked.symlink_to(users if link == "mnist" else users.parent)
    with pytest.raises(ValueError, match=f"leads to {re.escape(str(users))} through a symlink, "
                                         "so its files are yours"):
        load_mnist()
    assert (users / TRAIN_IMAGES).read_bytes() == b"the user's own file"
    assert sorted(p.name for p in users.iterdir()) == sorted(NAMES)


def test_cache_file_that_is_a_symlink_is_unlinked_not_its_target(
    fake: FakeMnist, mirror: Mirror, tmp_path: Path, cache_dir: Path
) -> None:
    users = fake.write(tmp_path / "users")
    (users / TRAIN_IMAGES).write_bytes(b"the user's own file")
    cache_dir.mkdir(parents=True)
    for name in NAMES:
        (cache_dir / name).symlink_to(users / name)
    with pytest.warns(UserWarning, match="Deleted it from the zeronet cache"):
        fake.check(load_mnist())
    assert (users / TRAIN_IMAGES).read_bytes() == b"the user's own file"
    assert not (cache_dir / TRAIN_IMAGES).is_symlink()


def test_dangling_symlink_in_cache_is_removed_and_never_written_through(
    fake: FakeMnist, mirror: Mirror, tmp_path: Path, cache_dir: Path
) -> None:
    fake.write(cache_dir, [TEST_IMAGES, TEST_LABELS, TRAIN_LABELS])
    (cache_dir / TRAIN_IMAGES).symlink_to(tmp_path / "elsewhere" / TRAIN_IMAGES)
    (tmp_path / "elsewhere").mkdir()
    fake.check(load_mnist())
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert not (cache_dir / TRAIN_IMAGES).is_symlink()


def test_dangling_symlink_in_user_folder_is_refused(
    fake: FakeMnist, mirror: Mirror, tmp_path: Path
) -> None:
    folder = fake.write(tmp_path / "data", [TEST_IMAGES, TEST_LABELS, TRAIN_LABELS])
    (folder / TRAIN_IMAGES).symlink_to(tmp_path / "elsewhere" / TRAIN_IMAGES)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ValueError, match="zeronet does not download through it"):
        load_mnist(folder)
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert (folder / TRAIN_IMAGES).is_symlink()


# --- bounded reading ---------------------------------------------------------------------------

def test_header_declaring_more_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.idx"
    path.write_bytes(b"\0\0\x08\x02" + struct.pack(">2I", 2**32 - 1, 2**32 - 1) + b"\0" * 8)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: the IDX header declares "
                                         r"shape \(4294967295, 4294967295\) of 1-byte items, "
                                         r"\d+ bytes, more than read_idx's limit \(max_bytes\) "
                                         r"of 94080000 bytes"):
        read_idx(path)


def test_canonical_file_with_trailing_data_is_read_one_byte_past_its_end(
    fake: FakeMnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fake.write(tmp_path / "data")
    long = _gz(_idx(fake.arrays[TRAIN_IMAGES]) + bytes(IMAGE_BYTES))  # one image of trailing data
    (folder / TRAIN_IMAGES).write_bytes(long)
    monkeypatch.setitem(mnist.MNIST_SHA256, TRAIN_IMAGES, _sha256(long))  # passes the checksum
    with pytest.raises(ValueError, match=r"IDX payload has trailing data: expected 78400 bytes "
                                         r".* got more than 78400: .* the body holds more than "
                                         r"100\b"):
        load_mnist(folder)


def test_canonical_file_is_read_no_further_than_its_expected_array(
    fake: FakeMnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fake.write(tmp_path / "data")
    big = _gz(_idx(np.zeros((N_TRAIN + 1, 28, 28), np.uint8)))  # one image too many
    (folder / TRAIN_IMAGES).write_bytes(big)
    monkeypatch.setitem(mnist.MNIST_SHA256, TRAIN_IMAGES, _sha256(big))  # passes the checksum
    with pytest.raises(ValueError, match=r"declares shape \(101, 28, 28\) .* more than the size "
                                         r"of the expected uint8 array \(100, 28, 28\)"):
        load_mnist(folder)


# --- sine CSV files -----------------------------------------------------------------------

@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    generate_sine_csvs(tmp_path)
    return tmp_path


def _edit_lines(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))


def test_sine_csvs_read_as_np_loadtxt_reads_them(csv_dir: Path) -> None:
    data = load_sine_csvs(csv_dir)
    for name, array in zip(CSV_NAMES, (data.x_train, data.y_train, data.x_test, data.y_test),
                           strict=True):
        expected = np.loadtxt(csv_dir / name, delimiter=",", dtype=np.float64).reshape(-1, 1)
        assert array.dtype == expected.dtype
        assert array.shape == expected.shape
        assert array.tobytes() == expected.tobytes()


def test_sine_csv_skips_empty_and_comment_lines_as_np_loadtxt_does(csv_dir: Path) -> None:
    _edit_lines(csv_dir / "x_test.csv",
                lambda lines: ["# x\n", "\n", *lines[:3], "\n", "1.5 # note\r\n", *lines[4:]])
    x_test = load_sine_csvs(csv_dir).x_test
    expected = np.loadtxt(csv_dir / "x_test.csv", delimiter=",").reshape(-1, 1)
    assert x_test.tobytes() == expected.tobytes()
    assert x_test[3, 0] == 1.5


def _set_line(number: int, text: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [*lines[: number - 1], text, *lines[number:]]


CSV_FAULTS = {
    "two-columns": ("y_train.csv", _set_line(5, "1.0,2.0\n"),
                    "y_train.csv, line 5: expected 1 column, found 2 in '1.0,2.0'"),
    "trailing-comma": ("x_test.csv", _set_line(100, "3.5,\n"),
                       "x_test.csv, line 100: expected 1 column, found 2 in '3.5,'"),
    "not-a-number": ("x_train.csv", _set_line(7, "abc\n"),
                     "x_train.csv, line 7: expected a number, found 'abc'"),
    "whitespace-line": ("x_train.csv", _set_line(9, "  \n"),
                        "x_train.csv, line 9: expected a number, found '  '"),
    "empty-cell": ("y_test.csv", _set_line(2, ",\n"),
                   "y_test.csv, line 2: expected 1 column, found 2 in ','"),
    "underscore": ("y_test.csv", _set_line(3, "1_000\n"),
                   "y_test.csv, line 3: expected a number, found '1_000'"),
    "line-after-comment": ("x_train.csv", lambda lines: ["# header\n", *_set_line(4, "x\n")(lines)],
                           "x_train.csv, line 5: expected a number, found 'x'"),
    "empty-file": ("x_test.csv", lambda lines: [],
                   "x_test.csv, line 1: expected one number per line, found an empty file"),
    "only-comments": ("y_train.csv", lambda lines: ["# nothing\n", "\n"],
                      "y_train.csv, line 1: expected one number per line, found no data rows"),
    "fewer-rows": ("y_train.csv", lambda lines: lines[:-1],
                   r"x_train.csv, line 1000: row 1000 has no partner in \S*y_train.csv, which "
                   r"has 999 rows \(x_train.csv: 1000 rows, y_train.csv: 999\)"),
    "more-rows": ("x_test.csv", lambda lines: [*lines, "0.5\n"],
                  r"x_test.csv, line 101: row 101 has no partner in \S*y_test.csv, which "
                  r"has 100 rows \(x_test.csv: 101 rows, y_test.csv: 100\)"),
}


@pytest.mark.parametrize(("name", "edit", "message"), CSV_FAULTS.values(), ids=CSV_FAULTS)
def test_sine_csv_fault_names_file_and_line(
    csv_dir: Path, name: str, edit: Callable[[list[str]], list[str]], message: str
) -> None:
    _edit_lines(csv_dir / name, edit)
    with pytest.raises(ValueError, match=f"^{re.escape(str(csv_dir))}/{message}"):
        load_sine_csvs(csv_dir)


def test_sine_csv_bytes_that_are_not_utf8_name_the_line(csv_dir: Path) -> None:
    path = csv_dir / "y_test.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:8], b"\xff1.0\n", *lines[9:]]))
    with pytest.raises(ValueError, match=r"y_test.csv, line 9: expected UTF-8 text, found byte "
                                         "0xff"):
        load_sine_csvs(csv_dir)


def test_sine_csv_missing_file_is_named(csv_dir: Path) -> None:
    (csv_dir / "y_test.csv").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(csv_dir / "y_test.csv"))):
        load_sine_csvs(csv_dir)


@pytest.mark.parametrize(("content", "message"), [
    (b"1\n" * (sine.MAX_CSV_BYTES // 2) + b"1", "expected a CSV file of at most 1048576 bytes "
                                                 r"\(MAX_CSV_BYTES\), found a larger one"),
    (b"1" * (sine.MAX_LINE_CHARS + 1) + b"\n", r"line 1: expected at most 1024 characters "
                                                r"\(MAX_LINE_CHARS\), found 1025"),
], ids=["file-too-large", "line-too-long"])
def test_sine_csv_too_large_is_refused_naming_the_file(
    csv_dir: Path, content: bytes, message: str
) -> None:
    path = csv_dir / "x_test.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}(: |, ){message}"):
        load_sine_csvs(csv_dir)


def test_sine_csv_long_bad_cell_is_shown_cut(csv_dir: Path) -> None:
    _edit_lines(csv_dir / "y_test.csv", _set_line(4, "x" * 1000 + "\n"))
    with pytest.raises(ValueError, match=r"line 4: expected a number, found 'x{40}'\.\.\.$"):
        load_sine_csvs(csv_dir)
