"""MNIST handwritten digits from the four canonical IDX files.

The seed loads MNIST with ``keras.datasets.mnist.load_data`` (fig. 2-13) and
gets ``x_train, y_train, x_test, y_test``; :func:`load_mnist` returns the same
four uint8 arrays without Keras. It reads the original IDX files (LeCun,
Cortes, Burges), gzipped or not, checks each against its SHA-256 sum, and
downloads missing ones from public mirrors when allowed. Reading is bounded
(:mod:`zeronet.data.idx`), and so are downloads (:mod:`zeronet.data.download`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zeronet.data.download import Limits, fetch_verified, sha256_mismatch
from zeronet.data.idx import MAX_IDX_BYTES, read_idx, scan_idx

__all__ = ["DATA_DIR_ENV", "MNIST_BYTES", "MNIST_MIRRORS", "MNIST_RAW_SHA256", "MNIST_SHA256",
           "MnistNotFoundError", "flatten_pixels", "load_mnist", "missing_files", "read_idx"]

DATA_DIR_ENV = "ZERONET_DATA_DIR"

# The canonical files in ``sha256sum`` format, as in the SHA256SUMS beside the offline copy.
_SHA256SUMS = """\
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
"""
# The same files uncompressed (``gunzip -k``), computed once from the four above.
_RAW_SHA256SUMS = """\
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
"""
#: File name -> SHA-256 of each of the four canonical (gzipped) files.
MNIST_SHA256: dict[str, str] = {
    name: digest for digest, name in map(str.split, _SHA256SUMS.splitlines())
}
#: Uncompressed file name (the .gz name without ``.gz``) -> SHA-256 of its content.
MNIST_RAW_SHA256: dict[str, str] = {
    name: digest for digest, name in map(str.split, _RAW_SHA256SUMS.splitlines())
}
#: File name -> size in bytes of each canonical .gz file: a download stops past it.
MNIST_BYTES: dict[str, int] = {
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
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

_OFFLINE_HINT = (
    f"Offline? Set {DATA_DIR_ENV} to a folder holding the four files (gzipped or not),\n"
    "or skip the report's MNIST runs: zeronet report --no-mnist\n"
    "(through tox: tox -e report -- --no-mnist)."
)


class MnistNotFoundError(FileNotFoundError):
    """The MNIST files are neither on disk nor obtainable from any mirror."""


class _DownloadError(Exception):
    """No mirror delivered a file whose SHA-256 matches."""

    def __init__(self, name: str, failures: list[str]) -> None:
        super().__init__(f"could not download {name}")
        self.name = name
        self.failures = failures


@dataclass(frozen=True)
class _Source:
    """The one folder load_mnist reads, and what zeronet may do there."""

    directory: Path
    label: str  # how a message names it
    owned: bool  # zeronet's own cache: bad files are deleted
    untouched: str  # why a bad file is left alone, when it is not owned


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

    One folder is read, the first of:

    * ``data_dir`` if given (missing files are downloaded into it if
      ``download`` is true);
    * ``$ZERONET_DATA_DIR`` if set: the only source then, no cache and no
      download;
    * the per-user cache ``$XDG_CACHE_HOME/zeronet/mnist`` (default
      ``~/.cache/zeronet/mnist``); missing files are downloaded into it if
      ``download`` is true.

    Each of the four canonical files may be there gzipped (``NAME.gz``, as
    downloaded) or uncompressed (``NAME``); the ``.gz`` is read when both are.
    Every file's SHA-256 is checked (of the bytes on disk, so a gzip bomb is
    never inflated for it); downloads are checked before they are moved into
    place, so an interrupted or corrupt download never leaves a file under its
    final name (nor its temporary file). Reading is bounded: a file is never
    inflated past the array it should hold.

    Bad files -- a SHA-256 mismatch (truncated, empty, not gzip, another
    file), or a file that cannot be read as the expected IDX array -- are
    treated by who owns the folder:

    * in the per-user cache, which zeronet owns, a bad file is deleted; it is
      downloaded again if ``download`` is true (with a warning saying why),
      otherwise the error says it was deleted. A file that matches its
      SHA-256 yet cannot be read is deleted and reported as an error.
    * in a folder the user supplied (``data_dir`` or ``$ZERONET_DATA_DIR``),
      files are never deleted or overwritten: the error names the file, says
      what is wrong with it and leaves it to the user to replace. So too in
      a cache folder that is a symlink (or lies behind one) into another
      folder: it is not zeronet's to delete from.

    Raises:
        MnistNotFoundError: (a ``FileNotFoundError``) files missing and
            ``download=False`` or ``$ZERONET_DATA_DIR`` set, or no mirror
            could deliver them; the message names the folder read, any bad
            files deleted from the cache, and each mirror's failure.
        ValueError: a file in a user-supplied folder is not the canonical one
            (SHA-256 mismatch), or a file cannot be read as the expected
            array (bad IDX data, unexpected shape, images and labels counts
            that disagree); the message names the file.
    """
    source = _source(data_dir)
    deleted = _check_present_files(source)
    if missing := missing_files(source.directory):
        _obtain_missing(source, missing, download=download, deleted=deleted)
    try:
        x_train, y_train = _read_split(source.directory, *_SPLITS["train"])
        x_test, y_test = _read_split(source.directory, *_SPLITS["test"])
    except _UnreadableFileError as exc:
        if not source.owned:
            raise ValueError(f"{exc}. {source.untouched}") from exc
        for path in exc.paths:
            path.unlink(missing_ok=True)
        names = ", ".join(path.name for path in exc.paths)
        raise ValueError(
            f"{exc}. Deleted {names} from the zeronet cache {source.directory} (the SHA-256 "
            "table accepted the bytes, so that table and the file format disagree)."
        ) from exc
    return x_train, y_train, x_test, y_test


def missing_files(directory: str | os.PathLike[str]) -> list[str]:
    """The canonical .gz names of the MNIST files ``directory`` holds in neither form."""
    return [name for name in MNIST_SHA256 if _present(Path(directory), name) is None]


# ------------------------------------------------------------------------ where to look

_ENV_LABEL = f"${DATA_DIR_ENV}"


def _cache_dir() -> Path:
    xdg_cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg_cache) if os.path.isabs(xdg_cache) else Path.home() / ".cache"
    return base / "zeronet" / "mnist"


def _source(data_dir: str | os.PathLike[str] | None) -> _Source:
    """The folder to read: ``data_dir``, else $ZERONET_DATA_DIR, else the cache."""
    def users(label: str) -> str:
        return (f"Files in a folder you supplied ({label}) are yours: zeronet never deletes or"
                " overwrites them; replace or delete the file yourself.")

    if data_dir is not None:
        return _Source(Path(data_dir).expanduser(), "data_dir", False, users("data_dir"))
    if env_dir := os.environ.get(DATA_DIR_ENV):
        return _Source(Path(env_dir).expanduser(), _ENV_LABEL, False, users(_ENV_LABEL))
    cache = _cache_dir()
    # zeronet made <cache base>/zeronet/mnist; if either part leads elsewhere (a symlink),
    # the folder behind it is someone else's.
    real = cache.parent.parent.resolve() / "zeronet" / "mnist"
    if cache.resolve() == real:
        return _Source(cache, "the zeronet cache", True, "")
    return _Source(cache, "the zeronet cache", False, (
        f"The zeronet cache {cache} leads to {cache.resolve()} through a symlink, so its"
        " files are yours: zeronet never deletes or overwrites them; replace or delete the"
        " file yourself."))


def _present(directory: Path, name: str) -> Path | None:
    """Where the canonical file ``name`` (a .gz name) is in ``directory``: gzipped, else raw."""
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _expected_sha256(path: Path) -> str:
    return MNIST_SHA256[path.name] if path.suffix == ".gz" else MNIST_RAW_SHA256[path.name]


def _check_present_files(source: _Source) -> list[str]:
    """Check the SHA-256 of each file present; return what was deleted from the cache, and why.

    A bad file in the cache is deleted; one in a folder zeronet does not own raises
    ValueError. A symlink in the cache whose target is missing is removed too (the link
    alone: never what it points to), so that a download cannot write through it.
    """
    deleted = []
    for name in MNIST_SHA256:
        path = _present(source.directory, name)
        if path is None:
            if source.owned:
                for link in (source.directory / name, source.directory / name[:-3]):
                    if link.is_symlink():
                        link.unlink()
            continue
        if (problem := _checksum_problem(path, _expected_sha256(path))) is None:
            continue
        if not source.owned:
            raise ValueError(f"{problem} {source.untouched}")
        path.unlink()  # a symlink: the link is removed, its target is not touched
        deleted.append(f"{problem} Deleted it from the zeronet cache.")
    return deleted


# ------------------------------------------------------------------------ what is missing

def _obtain_missing(source: _Source, missing: list[str], *, download: bool,
                    deleted: list[str]) -> None:
    """Download the files missing from the source folder, or raise one clear error.

    ``deleted`` describes bad files just removed from the cache; they are
    part of the error, or of a warning before they are downloaded again.
    """
    if source.label == _ENV_LABEL:
        raise MnistNotFoundError(_not_found_message(source, missing, [
            f"{_ENV_LABEL}, when set, is the only folder read: no cache, no download.",
            f"Put the four files there (gzipped or not), or unset {DATA_DIR_ENV} to use the"
            " zeronet cache."]))
    if not download:
        raise MnistNotFoundError(_not_found_message(source, missing, [
            *deleted, "Not downloading (download=False).",
            f"To use local copies, pass load_mnist(data_dir=...) or set {DATA_DIR_ENV}"
            " to their folder."]))
    for note in deleted:
        warnings.warn(f"{note} Downloading it again.", stacklevel=3)
    try:
        for name in missing:
            _download(name, source.directory)
    except _DownloadError as exc:
        tried = [f"  {failure}" for failure in exc.failures] or ["  (no mirrors configured)"]
        raise MnistNotFoundError(_not_found_message(source, missing, [
            f"Downloading {exc.name} into {source.directory} failed; mirrors tried:",
            *tried, _OFFLINE_HINT])) from None


def _not_found_message(source: _Source, missing: list[str], reasons: list[str]) -> str:
    """A few short lines: the folder read, what it lacks, why nothing more was done."""
    state = ("no such folder" if not source.directory.is_dir()
             else "none of the four files" if len(missing) == len(MNIST_SHA256)
             else "missing " + ", ".join(missing))
    lines = [f"MNIST files not found in {source.label}, {source.directory} ({state}).",
             *reasons]
    if len(missing) == len(MNIST_SHA256):
        names = list(MNIST_SHA256)
        lines.insert(1, f"The four files: {', '.join(names[:2])},\n  {', '.join(names[2:])}.")
    return "\n".join(lines)


# ------------------------------------------------------------------------ downloading

def _download(
    name: str,
    directory: Path,
    *,
    mirrors: Sequence[str] | None = None,
    limits: Limits | None = None,
) -> Path:
    """Fetch ``name`` into ``directory`` from the first mirror that delivers it intact.

    ``mirrors`` defaults to :data:`MNIST_MIRRORS`, read at call time; each is
    given :data:`MNIST_BYTES` ``[name]`` bytes at most, within ``limits``
    (default: the constants of :mod:`zeronet.data.download`). Each attempt
    streams into a temporary file beside the target, checks its SHA-256, and
    only then renames it into place.

    Raises:
        _DownloadError: listing every mirror's URL and failure reason.
        ValueError: ``directory / name`` is a symlink (to a missing file): a
            download is never written through it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    destination = directory / name
    if destination.is_symlink():
        raise ValueError(f"{destination}: a symlink to {os.readlink(destination)}, which does "
                         "not exist; zeronet does not download through it (remove the link)")
    failures = []
    for mirror in MNIST_MIRRORS if mirrors is None else mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            fetch_verified(url, destination, sha256=MNIST_SHA256[name], size=MNIST_BYTES[name],
                           limits=Limits() if limits is None else limits)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {str(exc) or type(exc).__name__}")
    raise _DownloadError(name, failures)


# ------------------------------------------------------------------------ checking files

def _checksum_problem(path: Path, expected: str) -> str | None:
    """None if ``path`` has SHA-256 ``expected``; otherwise what is wrong with it.

    The digest is of the bytes on disk (streamed); the diagnosis reads the
    file as IDX without keeping its payload, so neither inflates a bomb.
    """
    with path.open("rb") as f:
        actual = hashlib.file_digest(f, "sha256").hexdigest()
    if actual == expected:
        return None
    return (
        f"{sha256_mismatch(str(path), expected, actual)} It is not the canonical MNIST file"
        f" ({_diagnose(path)})."
    )


def _diagnose(path: Path) -> str:
    """A few words on why a file that failed its checksum is wrong (memory: one chunk)."""
    size = path.stat().st_size
    try:
        header, _ = scan_idx(path, max_bytes=MAX_IDX_BYTES, keep=False,
                             limit_reason="read_idx's limit")
    except ValueError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return reason if size == 0 else f"{size} bytes; {reason}"
    return f"{size} bytes; a readable IDX file, but of shape {header.shape} and other contents"


class _UnreadableFileError(ValueError):
    """Files that cannot be read as the expected arrays; ``paths`` are the culprits."""

    def __init__(self, message: str, paths: list[Path]) -> None:
        super().__init__(message)
        self.paths = paths


def _read_split(
    directory: Path, images_name: str, labels_name: str, count: int
) -> tuple[np.ndarray, np.ndarray]:
    images_path = _present(directory, images_name) or directory / images_name
    labels_path = _present(directory, labels_name) or directory / labels_name
    shapes = {images_path: (count, *_IMAGE_SHAPE), labels_path: (count,)}
    arrays = []
    for path, shape in shapes.items():
        try:  # never more than the expected array and one byte are read
            _, array = scan_idx(path, max_bytes=int(np.prod(shape)), keep=True, count_trailing=0,
                                limit_reason=f"the size of the expected uint8 array {shape}")
        except ValueError as exc:
            raise _UnreadableFileError(str(exc), [path]) from exc
        arrays.append(array)
    images, labels = arrays
    if len(images) != len(labels):
        raise _UnreadableFileError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels; expected one label per image, {count} of each",
            [images_path, labels_path],
        )
    for path, array in zip(shapes, arrays, strict=True):
        if array.dtype != np.uint8 or array.shape != shapes[path]:
            raise _UnreadableFileError(
                f"{path}: expected uint8 array of shape {shapes[path]}, "
                f"got {array.dtype} of shape {array.shape}",
                [path],
            )
    return images, labels
