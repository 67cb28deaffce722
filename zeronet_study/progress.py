"""Progress of ``zeronet report``: the whole run with the time left, and the part running now.

The run is a list of parts (each main run, the benchmarks, the ablation, the
seed checks), each given an estimated cost in seconds before anything runs
(:func:`training_seconds`, :data:`BENCH_SECONDS`). Only the ratios of the
estimates matter: the time left is what is left of the estimate divided by
the rate measured so far (estimate done per second on this machine), so it
adapts to a machine three times slower, and is refined as each part ends.

On a terminal tqdm (the ecosystem's progress bar) draws two bars: the whole
run (``zeronet report: 40%|####  | 2:10 elapsed, about 3:15 left``) and the
part running now (``sine-adam 37%|##  | 740/2000 epochs``, with its losses).
Anywhere else (a log file, CI) a bar redrawn with ``\\r`` is noise, so each
part that ends prints one line instead:
``zeronet report: sine-adam done (3/9); 1m05s elapsed, about 4m20s left``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

#: Seconds per optimizer step of one trainer, evaluation and bookkeeping included, as
#: measured on the machine class of the committed report (rough: only ratios matter).
STEP_SECONDS = {("sine", "zeronet"): 2.5e-4, ("sine", "torch"): 5e-4,
                ("mnist", "zeronet"): 6e-3, ("mnist", "torch"): 7e-3}
#: Seconds a main run costs besides its steps: warming up, evaluating, drawing its figures
#: (as above; without it a quick run's first parts, all overhead, would read as a slow machine).
RUN_SECONDS = 1.5
#: Seconds of ``zeronet_study.bench.engine.run`` for its full and its quick plan (as above).
BENCH_SECONDS = {False: 110.0, True: 5.0}
#: Seconds of the checker run on the seed's formulas (section 5).
SEED_CHECK_SECONDS = 3.0


def training_seconds(task: str, steps: int, frameworks: tuple[str, ...]) -> float:
    """Estimated seconds of ``steps`` optimizer steps in each of ``frameworks``."""
    return steps * sum(STEP_SECONDS[task, framework] for framework in frameworks)


def clock_text(seconds: float) -> str:
    """``1h02m``, ``4m20s`` or ``35s``."""
    seconds = round(max(seconds, 0.0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Part:
    """The bar of one part; :meth:`update` also advances the whole run's bar."""

    def __init__(self, run: RunProgress, name: str, total: float, unit: str) -> None:
        self.run, self.name, self.total = run, name, max(total, 1e-12)
        self.n = 0.0
        self.bar = (tqdm(total=total, desc=name, unit=unit, position=1, leave=False,
                         file=run.file, dynamic_ncols=True) if run.drawn else None)

    def update(self, n: float = 1) -> None:
        """``n`` more of this part's units (epochs, runs, benchmark stages) are done."""
        n = min(n, self.total - self.n)
        self.n += n
        self.run.advance(self.run.parts[self.name] * n / self.total)
        if self.bar is not None:
            self.bar.update(n)

    def set_postfix_str(self, text: str) -> None:
        """Text after the counts, e.g. the latest losses (on a terminal only)."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.run.finish(self.name)


class RunProgress:
    """The whole run's progress: ``parts`` maps each part, in order, to its estimated seconds.

    ``clock`` is the time source (a test's fake clock); ``file`` defaults to stderr.
    """

    def __init__(self, parts: dict[str, float], *, enabled: bool = True,
                 file: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.parts, self.enabled, self.clock = dict(parts), enabled, clock
        self.file = sys.stderr if file is None else file
        self.drawn = enabled and bool(getattr(self.file, "isatty", lambda: False)())
        self.total = sum(self.parts.values())
        self.done = 0.0
        self.finished: list[str] = []
        self.started = clock()
        self.bar = (tqdm(total=self.total, desc="zeronet report", position=0,
                         file=self.file, dynamic_ncols=True, smoothing=0,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, "
                                    "about {remaining} left")
                    if self.drawn else None)

    @contextmanager
    def part(self, name: str, total: float, unit: str) -> Iterator[Part]:
        """The bar of part ``name`` (one of ``parts``), counting ``total`` ``unit``."""
        part = Part(self, name, total, unit)
        try:
            yield part
        finally:
            part.close()

    def advance(self, seconds: float) -> None:
        self.done += seconds
        if self.bar is not None:
            self.bar.update(seconds)

    def finish(self, name: str) -> None:
        """Part ``name`` ended: count what it did not report (a run that diverged early)."""
        counted = sum(self.parts[n] for n in self.finished) + self.parts[name]
        self.advance(max(counted - self.done, 0.0))
        self.finished.append(name)
        if self.enabled and not self.drawn:
            print(f"zeronet report: {name} done ({len(self.finished)}/{len(self.parts)}); "
                  f"{self.status()}", file=self.file, flush=True)

    def left(self) -> float | None:
        """Estimated seconds left for the whole run (None before anything was done)."""
        elapsed = self.clock() - self.started
        if self.done <= 0 or elapsed <= 0:
            return None
        return (self.total - self.done) * elapsed / self.done

    def status(self) -> str:
        elapsed = clock_text(self.clock() - self.started)
        left = self.left()
        if left is None:
            return f"{elapsed} elapsed"
        return f"{elapsed} elapsed, about {clock_text(left)} left"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

