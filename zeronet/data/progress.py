"""A tiny dependency-free text progress bar.

Renders one line such as ``train-images  42% |########            | 4.2/9.9 MB``.
On a terminal the line is redrawn in place with ``\\r``; on anything else
(a log file, a CI console, a ``StringIO``) it is printed as whole lines only at
the start, at most once per 10 % of progress, and at the end, so logs stay
readable.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

_SI_PREFIXES = ("", "k", "M", "G", "T", "P")
_BAR_WIDTH = 20
_LOG_STEPS = 10  # non-terminal output: at most one line per 1/_LOG_STEPS of the total


def _si_divisor(value: float) -> tuple[float, str]:
    """Largest power of 1000 (with its SI prefix) not exceeding ``value``."""
    divisor = 1.0
    for prefix in _SI_PREFIXES[:-1]:
        if abs(value) < 1000 * divisor:
            return divisor, prefix
        divisor *= 1000
    return divisor, _SI_PREFIXES[-1]


class ProgressBar:
    """Text progress bar for downloads (bytes) and training loops (epochs).

    Args:
        total: expected final count, or ``None`` if unknown (then only the
            count is shown, no percentage or bar).
        desc: label printed before the bar.
        unit: unit of the count, e.g. ``"B"`` or ``"epochs"``.
        unit_scale: scale counts with SI prefixes (``4.2/9.9 MB``) instead of
            printing plain counts (``12/50 epochs``).
        file: text stream to write to; ``None`` means ``sys.stderr`` at
            construction time.
        disable: write nothing at all.

    Use as a context manager, or call :meth:`close` when done.
    """

    def __init__(
        self,
        total: float | None,
        desc: str = "",
        *,
        unit: str = "",
        unit_scale: bool = False,
        file: TextIO | None = None,
        disable: bool = False,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.unit_scale = unit_scale
        self.file = sys.stderr if file is None else file
        self.disable = disable
        self.n: float = 0
        self.postfix = ""
        self._closed = False
        self._is_tty = bool(getattr(self.file, "isatty", lambda: False)())
        self._last_line = ""
        self._last_step = -1
        self._refresh()

    def update(self, n: float = 1) -> None:
        """Advance the count by ``n`` and redraw if the display changed."""
        self.n += n
        self._refresh()

    def set_postfix(self, text: str) -> None:
        """Show ``text`` after the counts, e.g. ``"loss=0.123 acc=0.97"``.

        Call it before :meth:`update` so a logged line shows the matching text.
        """
        self.postfix = text
        self._refresh()

    def close(self) -> None:
        """Print the final state and end the line. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.disable:
            return
        line = self.render()
        if self._is_tty:
            if line != self._last_line:
                self._draw_in_place(line)
            self.file.write("\n")
        elif line != self._last_line:
            self.file.write(line + "\n")
        self.file.flush()

    def render(self) -> str:
        """The current line, without ``\\r`` or newline."""
        if self.total is None:
            body = self._counts()
        else:
            fraction = min(max(self.n / self.total, 0.0), 1.0) if self.total > 0 else 1.0
            filled = int(fraction * _BAR_WIDTH)
            bar = "#" * filled + " " * (_BAR_WIDTH - filled)
            body = f"{int(fraction * 100):3d}% |{bar}| {self._counts()}"
        line = f"{self.desc} {body}" if self.desc else body
        return f"{line}  {self.postfix}" if self.postfix else line

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _counts(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if not self.unit_scale:
            done = f"{self.n:g}"
            return f"{done}{unit}" if self.total is None else f"{done}/{self.total:g}{unit}"
        divisor, prefix = _si_divisor(self.n if self.total is None else self.total)
        digits = 0 if divisor == 1 else 1
        done = f"{self.n / divisor:.{digits}f}"
        if self.total is not None:
            done += f"/{self.total / divisor:.{digits}f}"
        return f"{done} {prefix}{self.unit}".rstrip()

    def _refresh(self) -> None:
        if self.disable or self._closed:
            return
        if self._is_tty:
            line = self.render()
            if line != self._last_line:
                self._draw_in_place(line)
                self.file.flush()
            return
        step = self._log_step()
        if step > self._last_step:
            self._last_step = step
            self._last_line = self.render()
            self.file.write(self._last_line + "\n")
            self.file.flush()

    def _log_step(self) -> int:
        """Which tenth of the total has been reached (0 while total is unknown)."""
        if not self.total or self.total <= 0:
            return 0
        return int(min(self.n / self.total, 1.0) * _LOG_STEPS)

    def _draw_in_place(self, line: str) -> None:
        padding = " " * max(len(self._last_line) - len(line), 0)
        self.file.write("\r" + line + padding)
        self._last_line = line
