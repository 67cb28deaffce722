"""Downloading one file of known size and SHA-256, bounded in bytes and in time.

urllib's ``timeout`` only catches a server that goes silent; this loop also
stops a body that grows past the file's known size (an endless stream), a
transfer slower than a minimum average rate (a server trickling a byte every
0.2 s), and one past a deadline per file (rate and deadline are checked as
bytes arrive; a silence between them is bounded by the socket timeout). The
body goes into a temporary file beside the destination
(:func:`zeronet._files.atomic_file`) and becomes the destination only once its
size and SHA-256 match; on any failure nothing is left. Hand-written over
urllib because the standard library has no such loop and the project's library
depends on NumPy alone.
"""

from __future__ import annotations

import hashlib
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from zeronet._files import atomic_file
from zeronet.data.progress import download_bar

#: Seconds a single socket operation may wait (connect, or one read) before giving up.
DOWNLOAD_TIMEOUT = 30.0
#: Minimum average rate, bytes per second, once DOWNLOAD_GRACE seconds have passed.
DOWNLOAD_MIN_RATE = 8 * 1024
#: Seconds before the minimum rate applies (a slow start: DNS, TLS, a cold mirror).
DOWNLOAD_GRACE = 10.0
#: Seconds one file may take in all; a transfer still running then is abandoned.
DOWNLOAD_DEADLINE = 120.0
_CHUNK_BYTES = 1 << 16


class DownloadTooSlowError(TimeoutError):
    """A transfer below the minimum rate, or past its deadline."""


class DownloadTooLargeError(ValueError):
    """A server announcing, or sending, more bytes than the file has."""


@dataclass(frozen=True)
class Limits:
    """How long and how slow a download may be (see the module constants)."""

    timeout: float = DOWNLOAD_TIMEOUT
    min_rate: float = DOWNLOAD_MIN_RATE
    grace: float = DOWNLOAD_GRACE
    deadline: float = DOWNLOAD_DEADLINE


def fetch_verified(url: str, destination: Path, *, sha256: str, size: int,
                   limits: Limits = Limits()) -> None:
    """Download ``url`` to ``destination`` if it delivers exactly ``size`` bytes of SHA-256
    ``sha256`` within ``limits``; otherwise raise and leave ``destination`` as it was.

    Reading stops as soon as the body exceeds ``size`` (a Content-Length above
    ``size`` is refused before any byte of the body is read).

    Raises:
        OSError: the connection failed, closed early (ConnectionError) or was too
            slow (:class:`DownloadTooSlowError`, a TimeoutError).
        ValueError: more bytes than ``size`` (:class:`DownloadTooLargeError`) or a
            SHA-256 mismatch.
        http.client.HTTPException: a malformed HTTP response.
    """
    start = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "zeronet"})
    with urllib.request.urlopen(request, timeout=min(limits.timeout, limits.deadline)) as response:
        length = response.headers.get("Content-Length")
        announced = int(length) if length and length.isdigit() else None
        if announced is not None and announced > size:
            raise DownloadTooLargeError(
                f"the server announces {announced} bytes (Content-Length), more than the "
                f"{size} bytes of {destination.name}; not downloading it")
        digest, received = hashlib.sha256(), 0
        with atomic_file(destination) as out, download_bar(size, destination.name) as bar:
            # read1: return what has arrived, so that the clock is checked between bytes
            while chunk := response.read1(min(_CHUNK_BYTES, size + 1 - received)):
                received += len(chunk)
                if received > size:  # raising inside atomic_file discards the partial file
                    raise DownloadTooLargeError(
                        f"the server sent more than the {size} bytes of {destination.name}; "
                        "stopped reading")
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
                _check_pace(received, size, time.monotonic() - start, limits)
            if announced is not None and received != announced:
                raise ConnectionError(
                    f"download interrupted: the connection closed after {received} of "
                    f"{announced} bytes (Content-Length)")
            if (actual := digest.hexdigest()) != sha256:
                raise ValueError(sha256_mismatch(f"downloaded {url}", sha256, actual))


def _check_pace(received: int, size: int, elapsed: float, limits: Limits) -> None:
    if elapsed > limits.deadline:
        raise DownloadTooSlowError(
            f"download took longer than the deadline of {limits.deadline:g} s per file "
            f"({received} of {size} bytes received)")
    if elapsed > limits.grace and received < limits.min_rate * elapsed:
        raise DownloadTooSlowError(
            f"download too slow: {received} bytes in {elapsed:.1f} s, below the minimum "
            f"average of {limits.min_rate:g} bytes/s (checked after {limits.grace:g} s)")


def sha256_mismatch(what: str, expected: str, actual: str) -> str:
    return f"SHA-256 mismatch for {what}: expected {expected}, got {actual}."
