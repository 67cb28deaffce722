"""The numbers of the report, as typed records; ``results.json`` is them, written as JSON.

``report.md`` is rendered from a :class:`Results` (``zeronet_study.report.text``),
and :func:`read` gives back the :class:`Results` a ``results.json`` holds, so
a committed report can be rendered again without re-running anything. The
JSON layout is that of every earlier results.json (schema 1): see
``zeronet_study.records`` for how the records map onto it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeronet_study.bench.records import BenchRecord
from zeronet_study.machine import Machine
from zeronet_study.records import FLATTEN, OPTIONAL, from_json, json_key, to_json
from zeronet_study.runs.ablation import CaseResult
from zeronet_study.runs.configs import RunConfig, SeedPublished

SCHEMA = 1
#: What a table cell holds: a number, a label, a yes/no, or nothing (shown as an em dash).
Cell = float | int | bool | str | None


@dataclass(kw_only=True)
class Generated:
    """When, how and how long the report was made."""

    utc: str
    quick: bool
    threads: int
    jobs: int
    threads_in_effect: dict[str, Any]  # what zeronet_study.threads.limit found
    command: str = "zeronet report"
    duration_s: float = 0.0


@dataclass(kw_only=True)
class SineDataRecord:
    """The sine CSV files written beside the report, and their SHA-256 sums."""

    seed: int
    files: dict[str, str]
    sha256: dict[str, str]
    n_train: int
    n_test: int


@dataclass(kw_only=True)
class FinalValues:
    """The last epoch's value of each per-epoch series."""

    train_loss: float | None
    train_loss_end: float | None
    test_loss: float | None
    train_accuracy: float | None = field(default=None, metadata=OPTIONAL)
    test_accuracy: float | None = field(default=None, metadata=OPTIONAL)


@dataclass(kw_only=True)
class FrameworkRecord:
    """One framework's run: every epoch's losses (accuracies), times, and where it diverged."""

    train_loss: list[float | None]  # mean of the epoch's batch losses
    train_loss_end: list[float | None]  # the whole training set at the epoch's end
    test_loss: list[float | None]
    epoch_time: list[float]  # seconds in train_step
    total_time: float
    diverged_at_step: int | None
    diverged_loss: float | None
    train_accuracy: list[float | None] | None = field(default=None, metadata=OPTIONAL)
    test_accuracy: list[float | None] | None = field(default=None, metadata=OPTIONAL)
    final: FinalValues


@dataclass(kw_only=True)
class WeightDiffAt:
    """Where the largest final weight difference sits, and whether that weight is frozen."""

    parameter: str
    index: list[int]
    value: float
    frozen: bool = False


@dataclass(kw_only=True)
class StepSeries:
    """How the largest weight difference grew over the steps (when it was recorded)."""

    epoch_weight_diff: list[float]
    first_step_weight_diff: float
    first_step_ulps: float
    max_step_weight_diff: float
    first_step_above_1e_12: int | None = field(metadata=json_key("first_step_above_1e-12"))
    first_step_above_target: int | None
    steps_per_decade: float | None
    growth_factor: float | None
    last_change_step: int
    jumps_4x: int
    jump_share_of_log_growth: float | None


@dataclass(kw_only=True)
class Parity:
    """How far zeronet and PyTorch drifted apart over one run (float64)."""

    max_train_loss_diff: float | None
    max_test_loss_diff: float | None
    max_train_loss_rel_diff: float | None
    max_test_loss_rel_diff: float | None
    final_weight_diff: float
    final_weight_max: float
    final_weight_diff_at: WeightDiffAt
    target: float
    final_weight_rel_diff: float
    target_met: bool
    steps: StepSeries | None = field(default=None, metadata=FLATTEN)


@dataclass(kw_only=True)
class SineBaseline:
    """The sine runs' reference points: the spread of the predictions, the best constant."""

    test_prediction_spread: float
    y_train_mean: float
    y_train_variance: float
    y_test_mean_squared_deviation: float


@dataclass(kw_only=True)
class Diagnostics:
    """What moved from its initial value, and how many hidden ReLUs are dead at the end."""

    max_change_from_init: dict[str, float]  # parameter name -> max |final - initial|
    dead_relu_units_per_layer: list[int]
    dead_relu_units: list[list[int]]
    hidden_units_per_layer: list[int]
    sine: SineBaseline | None = field(default=None, metadata=FLATTEN)


@dataclass(kw_only=True)
class RunRecord:
    """Everything the report states about one main run."""

    config: RunConfig
    seed_published: SeedPublished | None = field(default=None, metadata=OPTIONAL)
    frameworks: dict[str, FrameworkRecord]  # "zeronet", "pytorch"
    steps: int
    batches_per_epoch: int
    parity: Parity
    diagnostics: Diagnostics


@dataclass(kw_only=True)
class Spread:
    """min / median / max of one final number over repeated runs."""

    min: float
    median: float
    max: float
    values: list[float | None]
    at_least_as_good_as_seed: int | None = field(default=None, metadata=OPTIONAL)


@dataclass(kw_only=True)
class SensitivitySummary:
    """The spread of the final numbers of one (study, group, formulas) over seeds or data."""

    study: str
    group: str
    formulas: str
    runs: int
    diverged: int
    train_loss: Spread | None = field(default=None, metadata=OPTIONAL)
    test_loss: Spread | None = field(default=None, metadata=OPTIONAL)
    test_accuracy: Spread | None = field(default=None, metadata=OPTIONAL)


@dataclass(kw_only=True)
class FindingRecord:
    """One finding of the checker (``reference.Finding``)."""

    kind: str
    tensor: str
    message: str


@dataclass(kw_only=True)
class SeedCheckRecord:
    """The checker on one of the seed's formulas (``zeronet_study.runs.seed_checks``)."""

    erratum: str  # the ids in docs/seed-errata.md
    formula: str
    check: str  # the reference.compare_* it was run with
    expected: list[str]  # the finding kinds the erratum should be found as
    findings: list[FindingRecord]
    seconds: float

    @property
    def found(self) -> bool:
        kinds = {f.kind for f in self.findings}
        return all(kind in kinds for kind in self.expected)


@dataclass(kw_only=True)
class TableRow:
    label: str
    values: list[Cell]


@dataclass(kw_only=True)
class Table:
    """A table of report.md: cells are formatted by ``kinds`` (per column, or per row)."""

    title: str
    header: list[str]
    kinds: list[str]
    note: str = ""
    rows: list[TableRow]
    row_kinds: list[str] | None = field(default=None, metadata=OPTIONAL)


@dataclass(kw_only=True)
class ComparedValue:
    """One number in the previous report and in this run (None: not measured there)."""

    label: str
    kind: str  # how table cells format it: "sci", "loss", "ratio", "time", "bool"
    previous: float | bool | None
    now: float | bool | None


@dataclass(kw_only=True)
class Comparison:
    """This run beside the previous report: both machines, and the numbers that can move."""

    previous_utc: str
    previous_machine: str  # describe_machine() of each
    machine: str
    #: Why the numbers are not compared ("" when they are): quick against full runs, say.
    not_comparable: str
    values: list[ComparedValue]


@dataclass(kw_only=True)
class Results:
    """The whole report's numbers."""

    schema: int = SCHEMA
    generated: Generated
    machine: Machine
    sine_data: SineDataRecord
    runs: dict[str, RunRecord]
    figures: dict[str, str]  # figure id -> path relative to the report
    bench: BenchRecord | None = field(default=None, metadata=OPTIONAL)
    ablation: list[CaseResult]
    sensitivity: list[CaseResult]
    #: "study:group:formulas" -> its spread (see :meth:`summary`)
    sensitivity_summary: dict[str, SensitivitySummary]
    determinism: dict[str, bool]  # group -> do the ablation's runs reproduce the main run
    seed_checks: list[SeedCheckRecord] | None = field(default=None, metadata=OPTIONAL)
    #: This run beside the report it replaced (zeronet_study.report.machines), if there was one.
    machine_comparison: Comparison | None = field(default=None, metadata=OPTIONAL)
    tables: dict[str, Table]

    def summary(self, study: str, group: str, formulas: str) -> SensitivitySummary | None:
        return self.sensitivity_summary.get(summary_key(study, group, formulas))


def summary_key(study: str, group: str, formulas: str) -> str:
    return f"{study}:{group}:{formulas}"


def write(results: Results, path: Path) -> None:
    """results.json: strict JSON (NaN and inf as null), one space of indent."""
    path.write_text(json.dumps(to_json(results), indent=1) + "\n")


def read(path: Path) -> Results:
    """The :class:`Results` a results.json holds."""
    return from_json(Results, json.loads(path.read_text()))
