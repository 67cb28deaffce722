"""A download's progress bar: tqdm's when tqdm is installed, otherwise one line per file.

The library needs NumPy alone, so tqdm (the ecosystem's progress bar, which
the study uses too) is optional: ``pip install -e '.[progress]'``, or any
extra that includes it. Without it a download still says what it is doing,
in one line, before the bytes arrive.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Protocol, TextIO


class Bar(Protocol):
    """What a download needs of a bar (tqdm has it)."""

    def update(self, n: float = 1) -> object: ...

    def __enter__(self) -> Bar: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> object: ...


class OneLine:
    """Without tqdm: ``downloading NAME (9.9 MB)`` once, then nothing until the download ends."""

    def __init__(self, total: int | None, desc: str, file: TextIO) -> None:
        size = f" ({total / 1e6:.1f} MB)" if total else ""
        print(f"downloading {desc}{size}", file=file, flush=True)

    def update(self, n: float = 1) -> None:
        pass

    def __enter__(self) -> OneLine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass


def download_bar(total: int | None, desc: str, *, file: TextIO | None = None) -> Bar:
    """The bar of one download of ``total`` bytes (None: unknown), labelled ``desc``."""
    file = sys.stderr if file is None else file
    try:
        from tqdm import tqdm  # optional: the library needs NumPy alone
    except ImportError:
        return OneLine(total, desc, file)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=file,
                dynamic_ncols=True)
