"""The seed's sine-fitting data (section 2.1.1): generated, written to CSV, read back.

Procedure (seed fig. 2-2): a legacy NumPy stream seeded with 42 draws 1000
training inputs, then 100 test inputs, from U(-2 pi, 2 pi); each target is
y = 24 sin(3.2 x) + 42 cos(2.3 x), computed with ``math.sin``/``math.cos`` on
Python floats. The four arrays are written with ``np.savetxt(..., delimiter=",")``
and read back to the values ``np.loadtxt`` gives (seed figs. 2-2, 2-3), so the
training data is exactly what the CSV files hold; a malformed file is an error
naming its line. An explicit ``np.random.RandomState(42)`` yields the stream
``np.random.seed(42)`` would, without touching global state.

:func:`sample_sine` is the seed's data set; other samples of the same curve
(a test's own draw, another seed) are made with :func:`targets` and say so.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 42
A, B, C, D = 24.0, 3.2, 42.0, 2.3
N_TRAIN, N_TEST = 1000, 100
LOW, HIGH = -2 * math.pi, 2 * math.pi
#: File names, in the order the seed writes them.
CSV_NAMES = ("x_train.csv", "y_train.csv", "x_test.csv", "y_test.csv")
#: Largest CSV file read, in bytes: 40 times the seed's x_train.csv (1000 lines of 25 bytes).
MAX_CSV_BYTES = 1 << 20
#: Longest line read, in characters ('%.18e' writes 24, plus a sign; comments may add more).
MAX_LINE_CHARS = 1024
_SHOWN_CHARS = 40  # of a bad line or cell, in an error message


def target(x: float) -> float:
    """y = A sin(B x) + C cos(D x), on one Python float (seed section 2.1)."""
    return A * math.sin(B * x) + C * math.cos(D * x)


def targets(x: np.ndarray) -> np.ndarray:
    """:func:`target` of every element of ``x``, as the seed computes it (float64, x's shape)."""
    return np.array([target(float(v)) for v in x.ravel()]).reshape(x.shape)


@dataclass(frozen=True)
class SineData:
    """Training and test arrays, each of shape (N, 1), float64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def sample_sine(seed: int = SEED) -> SineData:
    """Draw the data in memory: 1000 training, then 100 test points (seed fig. 2-2).

    ``seed`` other than 42 gives another sample of the same distribution
    (the report's data-sample sensitivity study).
    """
    stream = np.random.RandomState(seed)
    x_train = stream.uniform(LOW, HIGH, (N_TRAIN, 1))
    y_train = targets(x_train)
    x_test = stream.uniform(LOW, HIGH, (N_TEST, 1))
    y_test = targets(x_test)
    return SineData(x_train, y_train, x_test, y_test)


def generate_sine_csvs(directory: str | Path) -> dict[str, Path]:
    """Write the four CSV files into ``directory``; return name -> path.

    Same procedure, same bytes, every time.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = sample_sine(SEED)
    paths = {}
    for name, array in zip(CSV_NAMES, (data.x_train, data.y_train, data.x_test, data.y_test),
                           strict=True):
        paths[name] = directory / name
        np.savetxt(paths[name], array, delimiter=",")
    return paths


def load_sine_csvs(directory: str | Path) -> SineData:
    """Read the four CSV files back as (N, 1) arrays (seed fig. 2-3).

    Each line holds one number; empty lines and ``#`` comments are skipped, and
    the values are those ``np.loadtxt(path, delimiter=",")`` returns.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: naming the file and the 1-based line number: a line with
            other than one column, a cell that is not a number, bytes that are
            not UTF-8, a file without data rows, or an x file and its y file
            with different numbers of rows; naming the file: a file larger than
            MAX_CSV_BYTES or a line longer than MAX_LINE_CHARS (nothing past the
            limit is read).
    """
    directory = Path(directory)
    columns = {name: _read_column(directory / name) for name in CSV_NAMES}
    for x_name, y_name in zip(CSV_NAMES[0::2], CSV_NAMES[1::2], strict=True):
        _check_same_rows(directory / x_name, columns[x_name], directory / y_name, columns[y_name])
    return SineData(*(np.array(columns[name][0], dtype=np.float64).reshape(-1, 1)
                      for name in CSV_NAMES))


def _read_column(path: Path) -> tuple[list[float], list[int]]:
    """The numbers of a one-column CSV file and the 1-based line number of each."""
    with path.open("rb") as file:
        raw = file.read(MAX_CSV_BYTES + 1)  # at most one byte past the limit
    if len(raw) > MAX_CSV_BYTES:
        raise ValueError(f"{path}: expected a CSV file of at most {MAX_CSV_BYTES} bytes "
                         "(MAX_CSV_BYTES), found a larger one")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{path}, line {line}: expected UTF-8 text, found byte "
                         f"{raw[exc.start]:#04x}") from None
    values, lines = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ValueError(f"{path}, line {number}: expected at most {MAX_LINE_CHARS} "
                             f"characters (MAX_LINE_CHARS), found {len(line)}")
        content = line.split("#", 1)[0].rstrip("\r")
        if not content:  # as np.loadtxt: empty lines skipped, whitespace-only ones are errors
            continue
        cells = content.split(",")
        if len(cells) != 1:
            raise ValueError(f"{path}, line {number}: expected 1 column, found {len(cells)} "
                             f"in {_shown(line.rstrip())}")
        values.append(_parse_number(path, number, cells[0]))
        lines.append(number)
    if not values:
        what = "an empty file" if not raw else "no data rows, only empty lines or comments"
        raise ValueError(f"{path}, line 1: expected one number per line, found {what}")
    return values, lines


def _parse_number(path: Path, line: int, cell: str) -> float:
    """``float(cell)``, refusing what np.loadtxt refuses (float() also accepts ``1_000``)."""
    try:
        if "_" not in cell:
            return float(cell)
    except ValueError:
        pass
    raise ValueError(f"{path}, line {line}: expected a number, found {_shown(cell)}")


def _shown(text: str) -> str:
    """``repr(text)``, cut to its first _SHOWN_CHARS characters if longer."""
    return repr(text) if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]!r}..."


def _check_same_rows(x_path: Path, x_column: tuple[list[float], list[int]],
                     y_path: Path, y_column: tuple[list[float], list[int]]) -> None:
    """An x file and its y file must pair up row for row."""
    x_rows, y_rows = len(x_column[0]), len(y_column[0])
    if x_rows == y_rows:
        return
    longer, lines, shorter = ((x_path, x_column[1], y_path) if x_rows > y_rows
                              else (y_path, y_column[1], x_path))
    rows = min(x_rows, y_rows)
    raise ValueError(
        f"{longer}, line {lines[rows]}: row {rows + 1} has no partner in {shorter}, which has "
        f"{rows} rows ({x_path.name}: {x_rows} rows, {y_path.name}: {y_rows})")


def sha256_of(paths: dict[str, Path]) -> dict[str, str]:
    """name -> SHA-256 hex digest of each file."""
    return {name: hashlib.sha256(Path(path).read_bytes()).hexdigest()
            for name, path in paths.items()}
