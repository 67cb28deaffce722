"""A download's progress bar (zeronet/data/progress.py): tqdm's if installed, else one line."""

from __future__ import annotations

import io
import sys

import pytest
from tqdm import tqdm

from zeronet.data.progress import OneLine, download_bar


def test_with_tqdm_a_download_shows_tqdms_bar_in_bytes() -> None:
    out = io.StringIO()
    with download_bar(9_912_422, "train-images-idx3-ubyte.gz", file=out) as bar:
        assert isinstance(bar, tqdm)
        bar.update(9_912_422)
    assert "train-images-idx3-ubyte.gz: 100%|" in out.getvalue()
    assert "9.91M/9.91M" in out.getvalue()


@pytest.mark.parametrize(("total", "line"), [(9_912_422, "downloading x.gz (9.9 MB)\n"),
                                             (None, "downloading x.gz\n")])
def test_without_tqdm_a_download_says_so_in_one_line(
        monkeypatch: pytest.MonkeyPatch, total: int | None, line: str) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if it were not installed
    out = io.StringIO()
    with download_bar(total, "x.gz", file=out) as bar:
        assert isinstance(bar, OneLine)
        for _ in range(100):
            bar.update(99_124)
    assert out.getvalue() == line
