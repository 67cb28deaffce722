"""The errata ablation and the seed-sensitivity studies (zeronet only).

The ablation re-runs each experiment with the seed's formulas
(``zeronet_study.runs.seed_formulas``) switched back on one at a time, then all
together, to measure how much of each published number they explain. The
sensitivity studies repeat a configuration over several initialisation /
shuffle seeds and data samples, to see how far a single run's last-epoch
numbers (what the seed's tables report) scatter.

Cases are independent, so they run in worker processes (``jobs``); each
worker uses one BLAS thread. Nothing here is timed, so the report starts
them before its timed work (:class:`Background`): one core times, the other
runs cases; once the timing is done, every core runs cases.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from zeronet.data.sine import SEED as SINE_SEED
from zeronet_study.progress import Part
from zeronet_study.records import OPTIONAL
from zeronet_study.runs import seed_formulas as sf
from zeronet_study.runs.configs import RunConfig
from zeronet_study.runs.datasets import Dataset, mnist_dataset, sine_dataset, sine_sample_dataset
from zeronet_study.runs.loop import train
from zeronet_study.runs.models import CORRECT, Formulas, build_trainer
from zeronet_study.threads import limit_worker

#: Formula sets by name. "seed-all" switches on every seed formula that the run uses.
FORMULAS: dict[str, Formulas] = {
    "correct": CORRECT,
    "seed-adam": Formulas("seed-adam", adam=sf.SeedAdam),
    "seed-kaiming": Formulas("seed-kaiming", kaiming=sf.seed_kaiming_uniform_),
    "seed-linear": Formulas("seed-linear", linear=sf.SeedLinear),
    "seed-ce": Formulas("seed-ce", cross_entropy=sf.SeedCrossEntropyLoss),
    "seed-all": Formulas("seed-all", linear=sf.SeedLinear, adam=sf.SeedAdam,
                         cross_entropy=sf.SeedCrossEntropyLoss,
                         kaiming=sf.seed_kaiming_uniform_),
}

FORMULA_LABELS: dict[str, str] = {
    "correct": "correct formulas",
    "seed-adam": "seed Adam: bias correction without ^t (fig. 2-9)",
    "seed-kaiming": "seed Kaiming: fan = out_features (fig. 2-10)",
    "seed-linear": "seed Linear: weight/bias gradients divided by N again (fig. 1-4)",
    "seed-ce": "seed CE backward: raw-exp softmax - y/N (fig. 1-11)",
    "seed-all": "all seed formulas together",
}

#: How many seeds / data samples the sensitivity studies use (full, quick).
N_SEEDS = {False: 16, True: 2}
N_SGD_SEEDS = {False: 8, True: 2}
N_MNIST_SEEDS = {False: 4, True: 1}
DATA_SEEDS = {False: (42, 0, 1, 2, 3, 4, 5, 6), True: (42, 0)}


@dataclass(frozen=True)
class Case:
    """One zeronet run of the ablation or a sensitivity study."""

    study: str  # "ablation", "seeds" or "data"
    group: str  # the main run it derives from
    label: str
    config: RunConfig
    formulas: str = "correct"
    data_seed: int = SINE_SEED

    @property
    def key(self) -> tuple[Any, ...]:
        """Cases with equal keys compute the same thing; each is run once."""
        return (self.config, self.formulas, self.data_seed)


def _with(config: RunConfig, **changes: Any) -> RunConfig:
    return dataclasses.replace(config, **changes)


def ablation_cases(runs: dict[str, RunConfig]) -> list[Case]:
    """Seed formulas on, one at a time and all together, for each seed table."""
    sgd, adam, mnist = runs["sine-sgd"], runs["sine-adam"], runs["mnist-adam"]
    kaiming_sgd = _with(sgd, init="kaiming-relu")
    default_sgd = _with(sgd, init="torch-default")
    cases = [
        Case("ablation", "sine-sgd", "zero init (seed fig. 1-2), correct formulas", sgd),
        Case("ablation", "sine-sgd", "zero init + seed Linear (extra 1/N)", sgd, "seed-linear"),
        Case("ablation", "sine-sgd", "torch default init, correct formulas", default_sgd),
        Case("ablation", "sine-sgd", "torch default init + seed Linear (extra 1/N)", default_sgd,
             "seed-linear"),
        Case("ablation", "sine-sgd", "Kaiming init, correct formulas", kaiming_sgd),
        Case("ablation", "sine-sgd", "Kaiming init + seed Linear (extra 1/N)", kaiming_sgd,
             "seed-linear"),
        Case("ablation", "sine-sgd", "seed Kaiming (fan_out) + seed Linear (extra 1/N)",
             kaiming_sgd, "seed-all"),
    ]
    for name in ("correct", "seed-adam", "seed-kaiming", "seed-linear", "seed-all"):
        cases.append(Case("ablation", "sine-adam", FORMULA_LABELS[name], adam, name))
    for name in ("correct", "seed-adam", "seed-kaiming", "seed-linear", "seed-ce", "seed-all"):
        cases.append(Case("ablation", "mnist-adam", FORMULA_LABELS[name], mnist, name))
    return cases


def sensitivity_cases(runs: dict[str, RunConfig], quick: bool) -> list[Case]:
    """The same configuration over several seeds and data samples."""
    adam, mnist = runs["sine-adam"], runs["mnist-adam"]
    seed_sgd = _with(runs["sine-sgd"], init="kaiming-relu")
    cases = []
    for k in range(N_SEEDS[quick]):
        for name in ("correct", "seed-all"):
            cases.append(Case("seeds", "sine-adam", f"{FORMULA_LABELS[name]}, seed {k}",
                              _with(adam, model_seed=k, loader_seed=k), name))
    for k in range(N_SGD_SEEDS[quick]):
        cases.append(Case("seeds", "sine-sgd",
                          f"seed Kaiming + seed Linear (extra 1/N), seed {k}",
                          _with(seed_sgd, model_seed=k, loader_seed=k), "seed-all"))
    for k in range(N_MNIST_SEEDS[quick]):
        cases.append(Case("seeds", "mnist-adam", f"correct formulas, seed {k}",
                          _with(mnist, model_seed=k, loader_seed=k)))
    for data_seed in DATA_SEEDS[quick]:
        cases.append(Case("data", "sine-adam", f"correct formulas, data sample {data_seed}",
                          adam, data_seed=data_seed))
    return cases


# ---------------------------------------------------------------- running the cases

_MNIST: Dataset | None = None


def _dataset(case: Case, sine_dir: str) -> Dataset:
    global _MNIST
    if case.config.task == "mnist":
        if _MNIST is None:
            _MNIST = mnist_dataset()
        return _MNIST
    if case.data_seed == SINE_SEED:
        return sine_dataset(sine_dir)
    return sine_sample_dataset(case.data_seed)


@dataclass(kw_only=True)
class CaseResult:
    """What the report states about one case: which run it was, and its final numbers."""

    study: str
    group: str
    label: str
    formulas: str
    init: str
    model_seed: int
    loader_seed: int
    data_seed: int
    epochs: int
    train_loss: float | None  # the last epoch's (None or NaN once diverged)
    test_loss: float | None
    best_test_loss: float | None
    mean_last_epochs: int  # the late average is over this many last epochs
    mean_last_train_loss: float | None
    mean_last_test_loss: float | None
    diverged_at_step: int | None
    diverged_at_epoch: int | None
    diverged_loss: float | None
    train_accuracy: float | None = field(default=None, metadata=OPTIONAL)  # percent, MNIST
    test_accuracy: float | None = field(default=None, metadata=OPTIONAL)


def _final(series: list[float]) -> float:
    return series[-1] if series else math.nan


def run_case(case: Case, sine_dir: str) -> CaseResult:
    """Train one case (zeronet only) and summarise it: final, best and late-average values."""
    data = _dataset(case, sine_dir)
    trainer = build_trainer(case.config, FORMULAS[case.formulas])
    history = train(case.config, [trainer], data,
                    train_set_every_epoch=False).histories[0]  # the summary reads the last
    batches_per_epoch = math.ceil(len(data.x_train) / case.config.batch_size)
    last = max(1, min(100, case.config.epochs // 20))
    finite_test = [v for v in history.test_loss if math.isfinite(v)]
    step = history.diverged_at_step
    return CaseResult(
        study=case.study, group=case.group, label=case.label, formulas=case.formulas,
        init=case.config.init, model_seed=case.config.model_seed,
        loader_seed=case.config.loader_seed, data_seed=case.data_seed,
        epochs=case.config.epochs,
        train_loss=_final(history.train_loss), test_loss=_final(history.test_loss),
        best_test_loss=min(finite_test) if finite_test else math.nan,
        mean_last_epochs=last,
        mean_last_train_loss=float(np.mean(history.train_loss[-last:])),
        mean_last_test_loss=float(np.mean(history.test_loss[-last:])),
        diverged_at_step=step,
        diverged_at_epoch=None if step is None else (step - 1) // batches_per_epoch + 1,
        diverged_loss=history.diverged_loss,
        train_accuracy=_final(history.train_accuracy) if history.test_accuracy else None,
        test_accuracy=_final(history.test_accuracy) if history.test_accuracy else None)


def _cost(case: Case) -> float:
    """Rough relative run time: multiply-adds per epoch times epochs."""
    dims = case.config.dims
    samples = 60_000 if case.config.task == "mnist" else 1_000
    return case.config.epochs * samples * sum(a * b for a, b in itertools.pairwise(dims))


def unique_cases(cases: Sequence[Case]) -> dict[tuple[Any, ...], Case]:
    """Each distinct case once, by key, the longest first (better packing onto the workers)."""
    unique: dict[tuple[Any, ...], Case] = {}
    for case in sorted(cases, key=_cost, reverse=True):
        unique.setdefault(case.key, case)
    return unique


def _in_order(cases: Sequence[Case], done: dict[tuple[Any, ...], CaseResult]) -> list[CaseResult]:
    return [dataclasses.replace(done[case.key], study=case.study, group=case.group,
                                label=case.label) for case in cases]


def run_cases(cases: Sequence[Case], sine_dir: str | Path, *, jobs: int = 1,
              progress: Part | None = None,
              runner: Callable[[Case, str], CaseResult] = run_case) -> list[CaseResult]:
    """Run every distinct case once (``jobs`` processes); results in the order of ``cases``.

    ``progress``: the bar of this study within ``zeronet report`` (one unit per distinct case).
    """
    unique = unique_cases(cases)
    done: dict[tuple[Any, ...], CaseResult] = {}
    advance = progress.update if progress is not None else (lambda n=1: None)
    if jobs <= 1:
        for key, case in unique.items():
            done[key] = runner(case, str(sine_dir))
            advance(1)
    else:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                   initializer=limit_worker)
        try:
            futures = {pool.submit(runner, case, str(sine_dir)): key
                       for key, case in unique.items()}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                advance(1)
        finally:  # on an error, drop the queued runs instead of finishing them
            pool.shutdown(wait=True, cancel_futures=True)
    return _in_order(cases, done)


class Background:
    """The cases running in ``jobs`` worker processes while this process does timed work.

    Until :meth:`results` is called, at most ``jobs - 1`` cases run at a
    time, so that the caller's timing keeps a core to itself; then all
    ``jobs``. A feeder thread hands the cases to the pool, longest first, as
    places free up; it sleeps between (it wakes when a case ends), so it takes
    nothing from the timing. Leaving the ``with`` block, by an error or Ctrl-C
    too, drops the cases not started and waits for the running ones.

    For ``jobs`` = 1 nothing starts early: :meth:`results` runs the cases in
    this process (:func:`run_cases`).
    """

    def __init__(self, cases: Sequence[Case], sine_dir: str | Path, *, jobs: int,
                 runner: Callable[[Case, str], CaseResult] = run_case) -> None:
        self.cases, self.sine_dir, self.jobs, self.runner = list(cases), str(sine_dir), jobs, runner
        self._todo = collections.deque(unique_cases(self.cases).items())
        self._futures: dict[tuple[Any, ...], Future] = {}
        self._limit = jobs - 1
        self._closed = False
        self._wake = threading.Condition()
        self._pool: ProcessPoolExecutor | None = None
        self._feeder: threading.Thread | None = None

    def __enter__(self) -> Background:
        if self.jobs > 1 and self._todo:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs,
                                             mp_context=get_context("spawn"),
                                             initializer=limit_worker)
            self._feeder = threading.Thread(target=self._feed, name="ablation feeder",
                                            daemon=True)
            self._feeder.start()
        return self

    def _running(self) -> int:
        return sum(not f.done() for f in self._futures.values())

    def _feed(self) -> None:
        with self._wake:
            while self._todo and not self._closed:
                while self._todo and self._running() < self._limit:
                    key, case = self._todo.popleft()
                    future = self._pool.submit(self.runner, case, self.sine_dir)
                    future.add_done_callback(self._notify)
                    self._futures[key] = future
                if self._todo:
                    self._wake.wait()

    def _notify(self, _: Future | None = None) -> None:
        with self._wake:
            self._wake.notify()

    def started(self) -> int:
        """How many cases were handed to a worker so far."""
        with self._wake:
            return len(self._futures)

    def results(self, *, progress: Part | None = None) -> list[CaseResult]:
        """Every case's result, in the order of ``cases``: from now on on all ``jobs`` workers.

        ``progress``: the bar of the study (one unit per distinct case; those
        that ended in the background count at once).
        """
        if self._pool is None:
            return run_cases(self.cases, self.sine_dir, jobs=1, progress=progress,
                             runner=self.runner)
        with self._wake:
            self._limit = self.jobs
            self._wake.notify()
        n_unique = len(self._futures) + len(self._todo)
        advance = progress.update if progress is not None else (lambda n=1: None)
        done: dict[tuple[Any, ...], CaseResult] = {}
        while len(done) < n_unique:
            with self._wake:
                pending = {f: k for k, f in self._futures.items() if k not in done}
                if not pending:  # the feeder is handing out the next ones
                    self._wake.wait(timeout=0.1)
                    continue
            for future in as_completed(pending):
                done[pending[future]] = future.result()
                advance(1)
        return _in_order(self.cases, done)

    def __exit__(self, *exc: object) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._feeder is not None:
            self._feeder.join()
        if self._pool is not None:  # on an error, drop the queued runs instead of finishing them
            self._pool.shutdown(wait=True, cancel_futures=True)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
