"""The report's tables: built from the records, each cell formatted by its kind, as Markdown.

A :class:`~zeronet_study.report.results.Table` keeps the numbers themselves
(results.json holds them); :func:`table_cells` is the one place that turns
them into the strings report.md shows.
"""

from __future__ import annotations

import math
from typing import Any

from zeronet_study.report.results import Cell, ComparedValue, Results, RunRecord, Table, TableRow
from zeronet_study.runs.ablation import FORMULA_LABELS
from zeronet_study.runs.configs import GROUP_TABLES, SEED_RESULTS

KIND_FORMATS = {"loss": "{:.6g}", "pct": "{:.2f}", "time": "{:.3f}", "sci": "{:.3e}",
                "ratio": "{:.2f}", "ms": "{:.3f}"}


def format_cell(value: Any, kind: str) -> str:
    """How a table cell shows ``value``: None/NaN as an em dash, numbers by ``kind``."""
    if value is None:
        return "—"
    if kind == "text":
        return str(value)
    if kind == "int":
        return str(int(value))
    if kind == "bool":
        return "yes" if value else "no"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    return KIND_FORMATS[kind].format(value)


def _table(title: str, header: list[str], kinds: list[str],
           rows: list[tuple[str, list[Cell]]], row_kinds: list[str] | None = None) -> Table:
    return Table(title=title, header=header, kinds=kinds,
                 rows=[TableRow(label=label, values=values) for label, values in rows],
                 row_kinds=row_kinds)


def results_table(run: RunRecord) -> Table:
    """One run beside the seed's published table: the last epoch's numbers, and the time."""
    cfg, seed = run.config, run.seed_published
    zn_f, pt_f = run.frameworks["zeronet"], run.frameworks["pytorch"]
    metrics = [("train_loss", "train_loss", "loss"), ("test_loss", "test_loss", "loss")]
    if zn_f.train_accuracy is not None:
        metrics = [("train_loss", "train_loss", "loss"),
                   ("train_accuracy(%)", "train_accuracy", "pct"),
                   ("test_loss", "test_loss", "loss"),
                   ("test_accuracy(%)", "test_accuracy", "pct")]
    rows: list[tuple[str, list[Cell]]] = [
        (label, [getattr(seed, key, None), getattr(zn_f.final, key), getattr(pt_f.final, key)])
        for label, key, _ in metrics]
    rows.append(("cost_time(s)", [getattr(seed, "cost_time", None), zn_f.total_time,
                                  pt_f.total_time]))
    rows.append(("train_loss at the final weights (whole set)",
                 [None, zn_f.final.train_loss_end, pt_f.final.train_loss_end]))
    return _table(f"Table {cfg.seed_table}: {cfg.title}",
                  ["metric", "seed (published)", "zeronet", "PyTorch"],
                  ["text", "row", "row", "row"], rows,
                  row_kinds=[k for _, _, k in metrics] + ["time", "loss"])


def parity_table(runs: dict[str, RunRecord]) -> Table:
    rows: list[tuple[str, list[Cell]]] = []
    for name, run in runs.items():
        p, steps = run.parity, run.parity.steps
        rows.append((name, [run.config.epochs, run.steps, p.max_train_loss_diff,
                            p.max_test_loss_diff, steps and steps.first_step_weight_diff,
                            p.final_weight_diff, p.final_weight_rel_diff,
                            steps and steps.first_step_above_target,
                            steps and steps.steps_per_decade, p.target_met]))
    return _table(
        "Parity, float64: zeronet vs PyTorch over the full runs",
        ["run", "epochs", "steps", "max |Δ train loss|", "max |Δ test loss|",
         "max |Δw| after step 1", "final max |Δw|", "final max |Δw| / max |w|",
         "first step |Δw| > 1e-9", "steps per decade of growth", "final |Δw| ≤ 1e-9"],
        ["text", "int", "int", "sci", "sci", "sci", "sci", "sci", "int", "loss", "bool"], rows)


def speed_table(runs: dict[str, RunRecord]) -> Table:
    rows: list[tuple[str, list[Cell]]] = []
    for name, run in runs.items():
        z, t = run.frameworks["zeronet"], run.frameworks["pytorch"]
        steps = max(1, run.steps or run.config.epochs * run.batches_per_epoch)
        epochs = max(1, len(z.epoch_time))
        rows.append((name, [z.total_time, t.total_time, t.total_time / z.total_time,
                            1e3 * z.total_time / epochs, 1e3 * t.total_time / epochs,
                            1e3 * z.total_time / steps, 1e3 * t.total_time / steps]))
    return _table(
        "CPU time of the training steps (same process, interleaved, same thread count)",
        ["run", "zeronet (s)", "PyTorch (s)", "PyTorch / zeronet", "zeronet ms/epoch",
         "PyTorch ms/epoch", "zeronet ms/step", "PyTorch ms/step"],
        ["text", "time", "time", "ratio", "ms", "ms", "ms", "ms"], rows)


def ablation_table(results: Results, group: str) -> Table | None:
    """The seed's formulas switched on, one at a time, for one group; None if it has no runs."""
    entries = [e for e in results.ablation if e.group == group]
    if not entries:
        return None
    table = GROUP_TABLES[group]
    seed = SEED_RESULTS[table]
    accuracy = group == "mnist-adam"
    header = ["variant", "train_loss", "test_loss"]
    kinds = ["text", "loss", "loss"]
    if accuracy:
        header += ["train_accuracy(%)", "test_accuracy(%)"]
        kinds += ["pct", "pct"]
    header += ["best test_loss", "diverged at step"]
    kinds += ["loss", "int"]
    seed_row: list[Cell] = [seed.train_loss, seed.test_loss]
    if accuracy:
        seed_row += [seed.train_accuracy, seed.test_accuracy]
    rows: list[tuple[str, list[Cell]]] = [(f"seed's published (table {table})",
                                           [*seed_row, None, None])]
    for e in entries:
        values: list[Cell] = [e.train_loss, e.test_loss]
        if accuracy:
            values += [e.train_accuracy, e.test_accuracy]
        rows.append((e.label, [*values, e.best_test_loss, e.diverged_at_step]))
    return _table(f"Ablation, {group} (seed table {table}); zeronet, last-epoch values",
                  header, kinds, rows)


def sensitivity_table(results: Results) -> Table | None:
    rows: list[tuple[str, list[Cell]]] = []
    for s in results.sensitivity_summary.values():
        study = "data samples" if s.study == "data" else "init/shuffle seeds"
        t, tr = s.test_loss, s.train_loss
        rows.append((f"{s.group}, {FORMULA_LABELS[s.formulas]}, {study}",
                     [s.runs, tr and tr.min, tr and tr.median, tr and tr.max,
                      t and t.min, t and t.median, t and t.max,
                      t and t.at_least_as_good_as_seed, s.diverged]))
    if not rows:
        return None
    return _table("Spread of the last-epoch numbers over seeds and data samples (zeronet)",
                  ["study", "runs", "train min", "train median", "train max", "test min",
                   "test median", "test max", "runs with test ≤ seed's", "diverged"],
                  ["text", "int", "loss", "loss", "loss", "loss", "loss", "loss", "int", "int"],
                  rows)


def seed_checks_table(results: Results) -> Table | None:
    """The checker on each seed formula: what it found beside the erratum it explains."""
    if not results.seed_checks:
        return None
    rows: list[tuple[str, list[Cell]]] = [
        (f"({c.erratum})", [c.formula, f"`{c.check}`",
                            ", ".join(f"`{f.kind}`" for f in c.findings) or "none",
                            ", ".join(f"`{k}`" for k in c.expected), c.found, c.seconds])
        for c in results.seed_checks]
    return _table("The checker run on the seed's formulas, as on a user's code",
                  ["erratum", "the seed's code", "check", "findings", "expected", "found",
                   "seconds"], ["text", "text", "text", "text", "text", "bool", "time"], rows)


def change(value: ComparedValue) -> str:
    """How far a compared number moved: a factor, a relative or plain difference, a flip."""
    before, now = value.previous, value.now
    if before is None or now is None:
        return "—"
    if before == now:
        return "same"
    if value.kind == "bool":
        return "**flipped**"
    if value.kind in ("sci", "time"):
        return f"×{now / before:.3g}" if before else "—"
    if value.kind == "loss":
        return f"{(now - before) / abs(before):+.1e} relative" if before else "—"
    return f"{now - before:+.2f}"


def machine_table(results: Results) -> Table | None:
    """The numbers that depend on the machine: the previous report's, this run's, the change."""
    comparison = results.machine_comparison
    if comparison is None or not comparison.values:
        return None
    rows: list[tuple[str, list[Cell]]] = [(v.label, [v.previous, v.now, change(v)])
                                          for v in comparison.values]
    return _table("The previous report beside this run: the numbers that depend on the machine",
                  ["number", "previous report", "this run", "change"],
                  ["text", "row", "row", "text"], rows,
                  row_kinds=[v.kind for v in comparison.values])


def build_tables(results: Results) -> dict[str, Table]:
    """Every table of report.md, by id (the ``<!-- table:ID -->`` marker)."""
    tables = {f"results-{name}": results_table(run) for name, run in results.runs.items()}
    tables["parity"] = parity_table(results.runs)
    tables["speed"] = speed_table(results.runs)
    for group in GROUP_TABLES:
        if (table := ablation_table(results, group)) is not None:
            tables[f"ablation-{group}"] = table
    if (table := sensitivity_table(results)) is not None:
        tables["sensitivity"] = table
    if (table := seed_checks_table(results)) is not None:
        tables["seed-checks"] = table
    if (table := machine_table(results)) is not None:
        tables["machine-comparison"] = table
    return tables


def table_cells(table: Table) -> list[list[str]]:
    """The table's body as the strings report.md shows (label first)."""
    body = []
    for r, row in enumerate(table.rows):
        cells = [row.label]
        for c, value in enumerate(row.values, start=1):
            kind = table.kinds[c]
            if kind == "row":
                kind = table.row_kinds[r]
            cells.append(format_cell(value, kind))
        body.append(cells)
    return body


def render_table(table_id: str, table: Table) -> str:
    header = [h.replace("|", "\\|") for h in table.header]
    lines = [f"<!-- table:{table_id} -->", f"**{table.title}**", "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(table.header) - 1)) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
              for cells in table_cells(table)]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"
