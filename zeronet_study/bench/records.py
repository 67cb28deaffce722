"""What a benchmark run measures, as typed records: the plan, each row, each target.

``zeronet bench --json`` and the report's ``results.json`` (under ``bench``)
are these records written by :func:`zeronet_study.records.to_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zeronet_study.machine import Machine
from zeronet_study.records import OPTIONAL

#: Batch sizes and hidden widths of the scaling study (MNIST net, Adam step).
SCALING_BATCHES = (1, 4, 16, 64, 256, 1024, 4096)
SCALING_WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
#: The batch size of the scaling study's width series (one of the batch series' sizes).
WIDTH_SERIES_BATCH = 1024
ROUND_SECONDS = 0.02


@dataclass(frozen=True)
class Plan:
    """How much to measure: the default run, or a quick smoke run (not a result).

    ``rounds``, ``epoch_rounds`` and ``scaling_rounds`` are the most rounds a
    row gets (the operations and steps, the MNIST epochs, the scaling
    points). With ``min_rounds`` set a row stops earlier, after at least
    ``min_rounds`` rounds, once it is stable: once, for every other role, the
    95% confidence interval of its time relative to zeronet's is narrower
    than ``ratio_ci`` on either side (``zeronet_study.bench.engine.stable``).
    Without it (records from before the rule) every row ran all its rounds.
    """

    rounds: int = 15
    epoch_rounds: int = 7
    sine_epochs: int = 2000
    batches: tuple[int, ...] = SCALING_BATCHES
    widths: tuple[int, ...] = SCALING_WIDTHS
    scaling_rounds: int = 5
    round_seconds: float = ROUND_SECONDS
    dtypes: tuple[str, ...] = ("float64", "float32")
    large: bool = True  # the operations on 4096-row arrays
    profile_epochs: int = 3  # epochs of the MNIST stage profile
    min_rounds: int | None = field(default=None, metadata=OPTIONAL)
    ratio_ci: float | None = field(default=None, metadata=OPTIONAL)  # relative half-width


@dataclass(kw_only=True)
class BenchRow:
    """One twin timed: seconds per call of each role (zeronet, torch, the floors)."""

    name: str
    group: str  # "op", "step", "epoch", "run", "scaling"
    dtype: str
    rounds: int | None = field(default=None, metadata=OPTIONAL)
    calls_per_round: int | None = field(default=None, metadata=OPTIONAL)
    #: What the twin says about itself: the MNIST epoch's data source, the run's epochs,
    #: a scaling point's batch and width.
    data: str | None = field(default=None, metadata=OPTIONAL)
    epochs: int | None = field(default=None, metadata=OPTIONAL)
    batch: int | None = field(default=None, metadata=OPTIONAL)
    width: int | None = field(default=None, metadata=OPTIONAL)
    median: dict[str, float]
    min: dict[str, float] = field(default_factory=dict)
    #: role -> relative half-width of the 95% confidence interval of its time / zeronet's,
    #: over the rounds it ran (recorded by the stopping rule).
    ratio_ci: dict[str, float] | None = field(default=None, metadata=OPTIONAL)
    #: The sum over all rounds (the full sine run: one round per epoch).
    total: dict[str, float] | None = field(default=None, metadata=OPTIONAL)

    @property
    def times(self) -> dict[str, float]:
        """What the table shows: the total if there is one, else the medians."""
        return self.total if self.total is not None else self.median


@dataclass
class Target:
    """One speed target of issue 4, its measured ratio and whether it is met."""

    target: str
    measured: float
    met: bool
    also: dict[str, float] | None = field(default=None, metadata=OPTIONAL)


@dataclass(kw_only=True)
class BenchRecord:
    """Everything one benchmark run measured."""

    plan: Plan
    threads: int
    thread_info: dict[str, Any]
    timer: str
    #: The machine (left out in the report, which records it once for all its sections).
    machine: Machine | None = field(default=None, metadata=OPTIONAL)
    rows: list[BenchRow]
    scaling: list[BenchRow]
    #: dtype -> stage -> seconds per step.
    mnist_epoch_profile: dict[str, dict[str, float]]
    targets: list[Target]
