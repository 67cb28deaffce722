"""report.md: the prose is in templates/, this module gives it the numbers.

:func:`render` fills ``templates/report.md.j2`` (Jinja2) from a
:class:`~zeronet_study.report.results.Results`. Whatever the text needs that
is not a number of the results themselves (the epoch a curve settled at, the
runs that met the parity target, the stages of the profile, ...) is computed
here, in :class:`Facts`; the templates only choose words and format numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import jinja2

from zeronet_study.bench.records import WIDTH_SERIES_BATCH
from zeronet_study.bench.table import TARGETS, TUNED, format_seconds, markdown, speedup
from zeronet_study.report import machines
from zeronet_study.report.results import Results, RunRecord, Spread
from zeronet_study.report.summaries import PARITY_TARGET
from zeronet_study.report.tables import render_table
from zeronet_study.runs.ablation import FORMULA_LABELS, CaseResult
from zeronet_study.runs.configs import SEED_RESULTS

ERRATA_LINK = "../docs/seed-errata.md"
#: The stages of ``bench.engine.epoch_profile`` the report adds up, by the prefix of their names.
PROFILE_GROUPS = {
    "gather the batch": ("gather",),
    "first Linear, forward": ("forward 0 ",),
    "first Linear, backward (dL/dW, dL/db)": ("backward 0 ",),
    "other Linear layers, forward": ("forward 2 ", "forward 4 ", "forward 6 ", "forward 8 "),
    "other Linear layers, backward": ("backward 2 ", "backward 4 ", "backward 6 ",
                                      "backward 8 "),
    "ReLU, forward and backward": ("forward 1 ", "forward 3 ", "forward 5 ", "forward 7 ",
                                   "backward 1 ", "backward 3 ", "backward 5 ", "backward 7 "),
    "cross-entropy and its gradient": ("loss",),
    "zero_grad and Adam step": ("zero_grad", "optimizer"),
}


# ----------------------------------------------------------------------------- formatting

def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def significant(value: Any, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits; None or NaN as an em dash."""
    return "—" if _missing(value) else f"{value:.{digits}g}"


def scientific(value: Any) -> str:
    """``value`` as 1.23e-04; None or NaN as an em dash."""
    return "—" if _missing(value) else f"{value:.2e}"


def spread(summary: Spread | None) -> str:
    """min–max (median m) of a spread, or an em dash."""
    if summary is None:
        return "—"
    return (f"{significant(summary.min)}–{significant(summary.max)} "
            f"(median {significant(summary.median)})")


def codes(names: Iterable[str], none: str) -> str:
    """`a`, `b`, `c`, or ``none`` if there are no names."""
    return ", ".join(f"`{name}`" for name in names) or none


def oneline(text: str) -> str:
    """A paragraph written over several template lines, as the one line report.md holds."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) + "\n"


# ----------------------------------------------------------------------------- facts

class Facts:
    """What the prose states beyond the recorded numbers, computed from them."""

    def __init__(self, results: Results) -> None:
        self.results = results

    def moved_parameters(self, run: RunRecord) -> list[str]:
        """The parameters that changed at all during the run."""
        return [k for k, v in run.diagnostics.max_change_from_init.items() if v != 0.0]

    def settled_epoch(self, run: RunRecord) -> int:
        """The epoch from which on the zeronet train loss stays within 1% of its final value."""
        losses = run.frameworks["zeronet"].train_loss
        final = losses[-1]
        return next((i + 1 for i in range(len(losses))
                     if all(abs(v - final) <= 0.01 * abs(final) for v in losses[i:])),
                    len(losses))

    def parity_met(self, met: bool) -> list[str]:
        """The runs whose final weights are (``met``) or are not within the parity target."""
        return [n for n, r in self.results.runs.items() if r.parity.target_met == met]

    def epoch_of_step(self, run: RunRecord, step: int) -> int:
        return math.ceil(step / run.batches_per_epoch)

    def thread_pools(self) -> str:
        pools = self.results.machine.threadpools
        if pools is None:
            return "threadpoolctl not installed"
        return "; ".join(
            f"{p.get('internal_api')} {p.get('version') or ''} "
            f"({p.get('prefix')}, {p.get('num_threads')} threads"
            + (f", kernel {p['architecture']}" if p.get("architecture") else "") + ")"
            for p in pools)

    def machine_kernels(self) -> str:
        """The CPU, its vector instructions and both BLAS libraries' kernels (section 3.2)."""
        return machines.kernels(self.results.machine)

    def environment(self) -> str:
        env = self.results.machine.env
        return ", ".join(f"{k}={v}" for k, v in env.items() if v is not None) or "none set"

    def sine_runs(self) -> list[tuple[str, dict[str, float]]]:
        """(dtype, total seconds per role) of each full sine run with a floor."""
        bench = self.results.bench
        found = []
        for dtype in bench.plan.dtypes:
            run = next((r for r in bench.rows if r.group == "run" and r.dtype == dtype), None)
            if run and "floor" in run.times:
                found.append((dtype, run.times))
        return found

    def per_step(self, totals: dict[str, float]) -> dict[str, float]:
        """Microseconds per step of a full sine run's totals (10 steps an epoch)."""
        epochs = self.results.bench.plan.sine_epochs
        return {k: v / epochs / 10 * 1e6 for k, v in totals.items()}

    def has_natural_loop(self) -> bool:
        """Whether the benchmark table has the natural loop's row (records since issue 13)."""
        return any(TUNED in r.median for r in self.results.bench.rows)

    def mnist_epochs(self) -> list[tuple[str, dict[str, float]]]:
        """(dtype, median seconds per role) of each MNIST epoch row."""
        bench = self.results.bench
        rows = {(r.name, r.dtype): r for r in bench.rows}
        return [(dtype, rows[key].median) for dtype in bench.plan.dtypes
                if (key := ("MNIST epoch (60 batches of 1000, Adam)", dtype)) in rows]

    def profile_rows(self) -> list[tuple[str, list[float]]]:
        """Microseconds per step of each group of stages, per dtype; the total last."""
        profiles = self.results.bench.mnist_epoch_profile
        rows = [(label, [sum(v for k, v in stages.items() if k.startswith(prefixes)) * 1e6
                         for stages in profiles.values()])
                for label, prefixes in PROFILE_GROUPS.items()]
        return [*rows, ("total", [sum(stages.values()) * 1e6 for stages in profiles.values()])]

    def scaling_ratio(self, dtype: str, batch: int, width: int) -> str:
        """PyTorch / zeronet at one point of the scaling study, or "-" if it was not measured."""
        point = next((p for p in self.results.bench.scaling
                      if (p.dtype, p.batch, p.width) == (dtype, batch, width)), None)
        return f"{speedup(point):.2f}" if point else "-"

    def figures(self) -> list[tuple[str, str]]:
        """(figure id, alt text) of section 4's figures that were drawn, in order."""
        wanted = [("sine_data", "sine data (seed fig. 2-1)")]
        for name in self.results.runs:
            wanted += [(f"loss_{name}", f"loss curves of {name}"),
                       (f"predictions_{name}", f"predictions of {name}")]
        wanted += [("mnist_confusion", "MNIST confusion matrix"),
                   ("mnist_misclassified", "misclassified MNIST digits"),
                   ("weight_difference", "weight-difference growth"),
                   ("ablation", "errata ablation"), ("sensitivity", "run-to-run spread")]
        return [(key, alt) for key, alt in wanted if key in self.results.figures]

    def case(self, group: str, formulas: str, init: str | None = None) -> CaseResult | None:
        """The ablation case of ``group`` with these formulas (and init), if it ran."""
        return next((e for e in self.results.ablation if e.group == group
                     and e.formulas == formulas and (init is None or e.init == init)), None)

    def cases(self, group: str, formulas: Iterable[str]) -> list[tuple[str, CaseResult]]:
        """(formulas, case) for each of ``formulas``; empty unless all of them ran."""
        found = [(name, self.case(group, name)) for name in formulas]
        return found if all(e for _, e in found) else []

    def test_loss_tail(self, run: str) -> list[float]:
        """The zeronet test losses of ``run``'s last 100 epochs (the finite ones)."""
        if run not in self.results.runs:
            return []
        tail = self.results.runs[run].frameworks["zeronet"].test_loss[-100:]
        return [v for v in tail if not _missing(v)]


# ----------------------------------------------------------------------------- rendering

def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("zeronet_study.report", "templates"),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters.update(g=significant, e=scientific, fmt=format, spread=spread, codes=codes,
                       oneline=oneline, seconds=format_seconds)
    return env


def render(results: Results) -> str:
    """report.md for ``results``."""
    template = environment().get_template("report.md.j2")
    return template.render(
        r=results, f=Facts(results), seed=SEED_RESULTS, target=PARITY_TARGET,
        errata_link=ERRATA_LINK, formula_labels=FORMULA_LABELS,
        sine_target=TARGETS["sine_run_speedup"], width_series_batch=WIDTH_SERIES_BATCH,
        bench_markdown=markdown(results.bench.rows, results.bench.targets) if results.bench
        else "",
        table=lambda table_id: render_table(table_id, results.tables[table_id]))
