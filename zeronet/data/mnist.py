"""MNIST handwritten digits from the four canonical IDX files.

The seed loads MNIST with ``keras.datasets.mnist.load_data`` (fig. 2-13) and
gets ``x_train, y_train, x_test, y_test``; :func:`load_mnist` returns the same
four uint8 arrays without Keras. It reads the original gzipped IDX files
(LeCun, Cortes, Burges), checks each against its SHA-256 sum, and downloads
missing ones from public mirrors when allowed.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import urllib.request
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zeronet._files import atomic_file
from zeronet.data.progress import download_bar

DATA_DIR_ENV = "ZERONET_DATA_DIR"

# The canonical files in ``sha256sum`` format, as in the SHA256SUMS beside the offline copy.
_SHA256SUMS = """\
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
"""
#: File name -> SHA-256 of each of the four canonical files.
MNIST_SHA256: dict[str, str] = {
    name: digest for digest, name in map(str.split, _SHA256SUMS.splitlines())
}

#: Base URLs tried in order; each serves the four files under their canonical names.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# split -> (images file, labels file, number of examples)
_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}
_IMAGE_SHAPE = (28, 28)

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

_USER_FILES_UNTOUCHED = (
    f"Files in a folder you supplied (data_dir or ${DATA_DIR_ENV}) are yours: zeronet never"
    " deletes or overwrites them; replace or delete the file yourself."
)

_DOWNLOAD_TIMEOUT = 30.0  # seconds, per blocking socket operation
_CHUNK_BYTES = 1 << 16


class MnistNotFoundError(FileNotFoundError):
    """The MNIST files are neither on disk nor obtainable from any mirror."""


class _DownloadError(Exception):
    """No mirror delivered a file whose SHA-256 matches."""

    def __init__(self, name: str, failures: list[str]) -> None:
        super().__init__(f"could not download {name}")
        self.name = name
        self.failures = failures


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (gzipped or raw) into an array in native byte order.

    The IDX header is two zero bytes, a type code (0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, and one big-endian uint32 per dimension; the payload follows.
    Gzip is detected from the magic bytes ``1f 8b``, not from the file name.

    Raises:
        OSError: naming ``path``, if it cannot be read (FileNotFoundError if it
            does not exist, IsADirectoryError for a folder).
        ValueError: naming ``path``, for an empty file, corrupt or truncated
            gzip data, a bad magic number (for a ``*.gz`` name: neither gzip
            nor IDX), a truncated header, or a payload whose length is not the
            product of the dimensions times the item size (the header's counts
            disagree with the body: truncated or trailing data), or more
            dimensions than numpy allows.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{path}: empty file (0 bytes); expected IDX data, gzipped or raw")
    compressed = data[:2] == _GZIP_MAGIC
    if compressed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip data: {exc}") from exc

    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise ValueError(_bad_magic_message(path, data, compressed=compressed))
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(
            f"{path}: truncated IDX header: expected {header_bytes} bytes "
            f"for {ndim} dimensions, got {len(data)}"
        )
    shape = struct.unpack_from(f">{ndim}I", data, 4)
    count = math.prod(shape)
    expected, given = count * dtype.itemsize, len(data) - header_bytes
    if given != expected:
        problem = "truncated" if given < expected else "has trailing data"
        record_bytes = math.prod(shape[1:]) * dtype.itemsize
        records = (
            f": the header counts {shape[0]} records of {record_bytes} bytes, "
            f"the body holds {given / record_bytes:g}"
            if record_bytes
            else ""
        )
        raise ValueError(
            f"{path}: IDX payload {problem}: expected {expected} bytes "
            f"(shape {shape}, {dtype.itemsize}-byte items), got {given}{records}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header_bytes)
    try:
        array = array.reshape(shape)
    except ValueError as exc:  # more dimensions than numpy allows (64 in numpy 2)
        raise ValueError(f"{path}: IDX shape {shape} not representable: {exc}") from exc
    return array.astype(dtype.newbyteorder("="))


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


def flatten_pixels(images: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """MNIST images as the seed prepares them (section 2.2.2): one row of 784 values in [0, 1].

    Each 28 x 28 image is flattened row by row ("from left to right, top to
    bottom") and divided by 255, in float64 and then cast to ``dtype``.
    """
    return (images.reshape(len(images), -1) / 255.0).astype(dtype)


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load MNIST as ``(x_train, y_train, x_test, y_test)``.

    The drop-in for ``keras.datasets.mnist.load_data`` in the seed's fig. 2-13:
    uint8 arrays of shapes (60000, 28, 28), (60000,), (10000, 28, 28) and
    (10000,), pixels 0..255 and labels 0..9.

    Where the four canonical ``*-ubyte.gz`` files are looked for:

    * ``data_dir`` if given, and only there (missing files are downloaded
      into it);
    * otherwise ``$ZERONET_DATA_DIR`` if set, then the per-user cache
      ``$XDG_CACHE_HOME/zeronet/mnist`` (default ``~/.cache/zeronet/mnist``).
      The first folder holding all four files is used; missing files are
      downloaded into the cache, never into ``$ZERONET_DATA_DIR``.

    Every file's SHA-256 is checked; downloads are checked before they are
    moved into place, so an interrupted or corrupt download never leaves a
    file under its final name (nor its temporary ``.part`` file).

    Bad files -- a SHA-256 mismatch (truncated, empty, not gzip, another
    file), or a file that cannot be read as the expected IDX array -- are
    treated by who owns the folder:

    * in the per-user cache, which zeronet owns, a bad file is deleted; it is
      downloaded again if ``download`` is true (with a warning saying why),
      otherwise the error says it was deleted. A file that matches its
      SHA-256 yet cannot be read is deleted and reported as an error.
    * in a folder the user supplied (``data_dir`` or ``$ZERONET_DATA_DIR``),
      files are never deleted or overwritten: the error names the file, says
      what is wrong with it and leaves it to the user to replace.

    Raises:
        MnistNotFoundError: (a ``FileNotFoundError``) files missing and
            ``download=False``, or no mirror could deliver them; the message
            lists the folders searched, any bad files deleted from the cache,
            and each mirror's failure.
        ValueError: a file in a user-supplied folder is not the canonical one
            (SHA-256 mismatch), or a file cannot be read as the expected
            array (bad IDX data, unexpected shape, images and labels counts
            that disagree); the message names the file.
    """
    search_dirs = _search_dirs(data_dir)
    directory = next((d for d in search_dirs if _missing_files(d) == []), None)
    if directory is None:
        directory = Path(data_dir).expanduser() if data_dir is not None else _cache_dir()
    in_cache = _is_zeronet_cache(directory, data_dir)
    deleted = _check_present_files(directory, in_cache=in_cache)
    if _missing_files(directory):
        _obtain_missing(directory, search_dirs, download=download, deleted=deleted)
    try:
        x_train, y_train = _read_split(directory, *_SPLITS["train"])
        x_test, y_test = _read_split(directory, *_SPLITS["test"])
    except _UnreadableFileError as exc:
        if not in_cache:
            raise ValueError(f"{exc}. {_USER_FILES_UNTOUCHED}") from exc
        for path in exc.paths:
            path.unlink(missing_ok=True)
        names = ", ".join(path.name for path in exc.paths)
        raise ValueError(
            f"{exc}. Deleted {names} from the zeronet cache {directory} (the SHA-256 table"
            " accepted the bytes, so that table and the file format disagree)."
        ) from exc
    return x_train, y_train, x_test, y_test


def _cache_dir() -> Path:
    xdg_cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg_cache) if os.path.isabs(xdg_cache) else Path.home() / ".cache"
    return base / "zeronet" / "mnist"


def _search_dirs(data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """Folders to look in, highest priority first."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    env_dir = os.environ.get(DATA_DIR_ENV)
    return ([Path(env_dir).expanduser()] if env_dir else []) + [_cache_dir()]


def _missing_files(directory: Path) -> list[str]:
    return [name for name in MNIST_SHA256 if not (directory / name).is_file()]


def _is_zeronet_cache(directory: Path, data_dir: str | os.PathLike[str] | None) -> bool:
    """Whether ``directory``, one of the folders searched, is zeronet's own cache.

    Not if the user supplied it: as ``data_dir``, or as ``$ZERONET_DATA_DIR``
    (even when that names the cache path).
    """
    if data_dir is not None:
        return False
    env_dir = os.environ.get(DATA_DIR_ENV)
    return not (env_dir and Path(env_dir).expanduser().resolve() == directory.resolve())


def _check_present_files(directory: Path, *, in_cache: bool) -> list[str]:
    """Check the SHA-256 of each file present; return what was deleted from the cache, and why.

    A bad file in the cache is deleted; one in a user-supplied folder raises ValueError.
    """
    deleted = []
    for name, sha256 in MNIST_SHA256.items():
        path = directory / name
        if not path.is_file() or (problem := _checksum_problem(path, sha256)) is None:
            continue
        if not in_cache:
            raise ValueError(f"{problem} {_USER_FILES_UNTOUCHED}")
        path.unlink()
        deleted.append(f"{problem} Deleted it from the zeronet cache.")
    return deleted


def _obtain_missing(
    directory: Path, search_dirs: list[Path], *, download: bool, deleted: list[str]
) -> None:
    """Download the files missing from ``directory``, or raise one clear error.

    ``deleted`` describes bad files just removed from the cache; they are
    part of the error, or of a warning before they are downloaded again.
    """
    missing = _missing_files(directory)
    if not download:
        reason = "".join(f"{note}\n" for note in deleted) + "Not downloading (download=False)."
        raise MnistNotFoundError(_not_found_message(search_dirs, reason))
    for note in deleted:
        warnings.warn(f"{note} Downloading it again.", stacklevel=3)
    try:
        for name in missing:
            _download(name, directory)
    except _DownloadError as exc:
        tried = "\n".join(f"  {failure}" for failure in exc.failures) or "  (no mirrors configured)"
        reason = f"Downloading {exc.name} into {directory} failed; mirrors tried:\n{tried}"
        raise MnistNotFoundError(_not_found_message(search_dirs, reason)) from None


def _not_found_message(search_dirs: list[Path], reason: str) -> str:
    looked_in = "\n".join(f"  {d}  ({_describe_missing(d)})" for d in search_dirs)
    env_state = os.environ.get(DATA_DIR_ENV) or "not set"
    return (
        f"MNIST files not found. Looked in:\n{looked_in}\n{reason}\n"
        f"To use local copies of the four files ({', '.join(MNIST_SHA256)}), pass "
        f"load_mnist(data_dir=...) or set the environment variable {DATA_DIR_ENV} "
        f"to the folder holding them (currently {env_state})."
    )


def _describe_missing(directory: Path) -> str:
    if not directory.is_dir():
        return "no such folder"
    missing = _missing_files(directory)
    return (
        "none of the four files"
        if len(missing) == len(MNIST_SHA256)
        else f"missing {', '.join(missing)}"
    )


def _download(
    name: str,
    directory: Path,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = _DOWNLOAD_TIMEOUT,
) -> Path:
    """Fetch ``name`` into ``directory`` from the first mirror that delivers it intact.

    ``mirrors`` defaults to :data:`MNIST_MIRRORS`, read at call time. Each
    attempt streams into a temporary file beside the target, checks its
    SHA-256, and only then renames it into place with :func:`os.replace`.

    Raises:
        _DownloadError: listing every mirror's URL and failure reason.
    """
    directory.mkdir(parents=True, exist_ok=True)
    destination = directory / name
    failures = []
    for mirror in MNIST_MIRRORS if mirrors is None else mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            _fetch_verified(url, destination, MNIST_SHA256[name], timeout=timeout)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {str(exc) or type(exc).__name__}")
    raise _DownloadError(name, failures)


def _fetch_verified(url: str, destination: Path, sha256: str, *, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "zeronet"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        expected_size = int(length) if length and length.isdigit() else None
        digest, received = hashlib.sha256(), 0
        with (
            atomic_file(destination) as out,
            download_bar(expected_size, destination.name) as bar,
        ):
            while chunk := response.read(_CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            # Raising here, inside atomic_file, discards the partial or wrong file.
            if expected_size is not None and received != expected_size:
                raise ConnectionError(
                    f"download interrupted: the connection closed after {received} of "
                    f"{expected_size} bytes (Content-Length)"
                )
            if (actual := digest.hexdigest()) != sha256:
                raise ValueError(_sha256_mismatch(f"downloaded {url}", sha256, actual))


def _checksum_problem(path: Path, expected: str) -> str | None:
    """None if ``path`` has SHA-256 ``expected``; otherwise what is wrong with it."""
    with path.open("rb") as f:
        actual = hashlib.file_digest(f, "sha256").hexdigest()
    if actual == expected:
        return None
    return (
        f"{_sha256_mismatch(str(path), expected, actual)} It is not the canonical MNIST file"
        f" ({_diagnose(path)})."
    )


def _diagnose(path: Path) -> str:
    """A few words on why a file that failed its checksum is wrong."""
    size = path.stat().st_size
    try:
        array = read_idx(path)
    except ValueError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return reason if size == 0 else f"{size} bytes; {reason}"
    return f"{size} bytes; a readable IDX file, but of shape {array.shape} and other contents"


def _sha256_mismatch(what: str, expected: str, actual: str) -> str:
    return f"SHA-256 mismatch for {what}: expected {expected}, got {actual}."


class _UnreadableFileError(ValueError):
    """Files that cannot be read as the expected arrays; ``paths`` are the culprits."""

    def __init__(self, message: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.paths = paths


def _read_split(
    directory: Path, images_name: str, labels_name: str, count: int
) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = directory / images_name, directory / labels_name
    arrays = []
    for path in (images_path, labels_path):
        try:
            arrays.append(read_idx(path))
        except ValueError as exc:
            raise _UnreadableFileError(str(exc), [path]) from exc
    images, labels = arrays
    if len(images) != len(labels):
        raise _UnreadableFileError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels; expected one label per image, {count} of each",
            [images_path, labels_path],
        )
    for path, array, shape in (
        (images_path, images, (count, *_IMAGE_SHAPE)),
        (labels_path, labels, (count,)),
    ):
        if array.dtype != np.uint8 or array.shape != shape:
            raise _UnreadableFileError(
                f"{path}: expected uint8 array of shape {shape}, "
                f"got {array.dtype} of shape {array.shape}",
                [path],
            )
    return images, labels
