"""``zeronet report``: run everything, write ``report.md``, ``results.json`` and figures.

The output directory is replaced atomically: everything is built in a
temporary directory beside it and swapped in only when complete, so a run
that fails (or is interrupted) leaves the previous report as it was and no
temporary directory behind.

Every number in ``report.md`` is read from the ``results`` dict that is
also written as ``results.json``; the tables are rendered from
``results["tables"]`` with :func:`format_cell`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

import zeronet as zn
from experiments import ablation as abl
from experiments import bench, figures
from experiments.configs import INIT_DESCRIPTIONS, RUNS, SEED_RESULTS, RunConfig, quick
from experiments.datasets import mnist_dataset, sine_dataset
from experiments.interrupts import signals_recorded
from experiments.loop import Dataset, History, RunResult, max_abs, train
from experiments.machine import describe
from experiments.models import build_model, build_trainer
from experiments.sine import CSV_NAMES, generate_sine_csvs, sha256_of
from experiments.trainers import TorchTrainer

PARITY_TARGET = 1e-9
ERRATA_LINK = "../docs/seed-errata.md"
FIGURES = "figures"


# ------------------------------------------------------------------ running

def run_main(config: RunConfig, data: Dataset, *, progress: bool = True) -> RunResult:
    """One main run: zeronet and its PyTorch mirror, same weights, same batches, float64."""
    zeronet_trainer = build_trainer(config)
    torch_trainer = TorchTrainer.mirror_of(zeronet_trainer)
    return train(config, [zeronet_trainer, torch_trainer], data, progress=progress)


def configure_threads(threads: int) -> dict[str, Any]:
    """Pin NumPy's BLAS (threadpoolctl, if installed) and torch to ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    info: dict[str, Any] = {"torch": torch.get_num_threads()}
    try:
        import threadpoolctl
    except ImportError:
        info["numpy"] = ("threadpoolctl not installed: NumPy's BLAS threads are set only by "
                         "OPENBLAS_NUM_THREADS/OMP_NUM_THREADS, which `zeronet report` exports "
                         "at start-up")
        return info
    threadpoolctl.threadpool_limits(threads)
    info["numpy"] = {p["internal_api"]: p["num_threads"]
                     for p in threadpoolctl.threadpool_info()}
    return info


@contextlib.contextmanager
def atomic_directory(out: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``out``; on success it replaces ``out``.

    On any exception the temporary directory is removed and ``out`` is left
    untouched; so it is after a Ctrl-C whose KeyboardInterrupt Python lost
    (see :mod:`experiments.interrupts`). The swap is two renames on one
    file system; the old report is deleted only after the new one is in place.
    """
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the report is not
        with signals_recorded() as received:
            yield tmp
        if signal.SIGINT in received:
            raise KeyboardInterrupt("Ctrl-C during the run (its KeyboardInterrupt was lost)")
        if received:
            raise SystemExit(128 + received[0])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        old.rmdir()
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_report(out: str | Path = "reports", *, quick_mode: bool = False, threads: int = 1,
                 jobs: int | None = None, include_mnist: bool = True, progress: bool = True,
                 command: str = "zeronet report") -> Path:
    """Run the experiments and write the report into ``out`` (atomically); return ``out``."""
    started = time.perf_counter()
    thread_info = configure_threads(threads)
    jobs = abl.default_jobs() if jobs is None else jobs
    runs = {c.name: (quick(c) if quick_mode else c) for c in RUNS
            if include_mnist or c.task != "mnist"}
    out = Path(out)
    with atomic_directory(out) as tmp:
        results = collect(tmp, runs, quick_mode=quick_mode, threads=threads, jobs=jobs,
                          progress=progress, thread_info=thread_info)
        results["generated"].update(command=command,
                                    duration_s=time.perf_counter() - started)
        (tmp / "results.json").write_text(json.dumps(_jsonable(results), indent=1) + "\n")
        (tmp / "report.md").write_text(render_markdown(results))
    return out


def collect(tmp: Path, runs: dict[str, RunConfig], *, quick_mode: bool, threads: int,
            jobs: int, progress: bool, thread_info: dict[str, Any]) -> dict[str, Any]:
    """Run everything into ``tmp``; return the results dict (figures written as a side effect)."""
    (tmp / FIGURES).mkdir()
    sine_dir = tmp / "data"
    csv_paths = generate_sine_csvs(sine_dir)
    sine = sine_dataset(sine_dir)
    mnist = mnist_dataset() if any(c.task == "mnist" for c in runs.values()) else None

    results: dict[str, Any] = {
        "schema": 1,
        "generated": {"utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                      "quick": quick_mode, "threads": threads, "jobs": jobs,
                      "threads_in_effect": thread_info},
        "machine": describe(threads),
        "sine_data": {"seed": 42, "files": {n: f"data/{n}" for n in CSV_NAMES},
                      "sha256": sha256_of(csv_paths),
                      "n_train": len(sine.x_train), "n_test": len(sine.x_test)},
        "runs": {},
        "figures": {},
    }
    figs = results["figures"]
    figs["sine_data"] = _rel(figures.sine_data(sine, tmp / FIGURES / "sine_data.png"), tmp)

    main_results: list[RunResult] = []
    for config in runs.values():
        data = mnist if config.task == "mnist" else sine
        assert data is not None
        result = run_main(config, data, progress=progress)
        main_results.append(result)
        results["runs"][config.name] = run_json(result, data)
        figs[f"loss_{config.name}"] = _rel(
            figures.loss_curves(result, tmp / FIGURES / f"loss_{config.name}.png"), tmp)
        if config.task == "sine":
            figs[f"predictions_{config.name}"] = _rel(figures.predictions(
                result, data.x_test, data.y_test,
                tmp / FIGURES / f"predictions_{config.name}.png"), tmp)
        else:
            predicted = np.argmax(result.test_outputs[0], axis=1)
            figs["mnist_confusion"] = _rel(figures.confusion_matrix(
                data.y_test, predicted, f"{config.title}: test-set confusion matrix (zeronet)",
                tmp / FIGURES / "mnist_confusion.png"), tmp)
            figs["mnist_misclassified"] = _rel(figures.misclassified(
                data.x_test, data.y_test, predicted,
                f"{config.title}: misclassified test digits (index: true→predicted, zeronet)",
                tmp / FIGURES / "mnist_misclassified.png"), tmp)
    figs["weight_difference"] = _rel(
        figures.weight_difference(main_results, tmp / FIGURES / "weight_difference.png"), tmp)

    plan = bench.QUICK if quick_mode else bench.Plan()
    timed = bench.run(plan, threads=threads,
                      progress=(lambda s: print(f"bench: {s}", file=sys.stderr)) if progress
                      else None)
    results["bench"] = {k: v for k, v in timed.items() if k != "machine"}  # machine: above
    figs["scaling"] = _rel(figures.scaling(
        timed["scaling"], f"{timed['machine']['cpu_model']}, {threads} thread(s) per framework, "
        f"{timed['timer']}", tmp / FIGURES / "scaling.png"), tmp)

    base = {name: runs[name] for name in runs}
    full = {c.name: c for c in RUNS}
    case_runs = {k: base.get(k, quick(full[k]) if quick_mode else full[k])
                 for k in ("sine-sgd", "sine-adam", "mnist-adam")}
    cases = abl.ablation_cases(case_runs) + abl.sensitivity_cases(case_runs, quick_mode)
    cases = [c for c in cases if mnist is not None or c.config.task != "mnist"]
    entries = abl.run_cases(cases, sine_dir, jobs=jobs, progress=progress)
    results["ablation"] = [e for e in entries if e["study"] == "ablation"]
    results["sensitivity"] = [e for e in entries if e["study"] != "ablation"]
    results["sensitivity_summary"] = sensitivity_summary(results["sensitivity"])
    results["determinism"] = determinism_check(results)

    titles = {"sine-sgd": "sine, SGD (seed table 2-2)", "sine-adam": "sine, Adam (seed table 2-3)",
              "mnist-adam": "MNIST, Adam (seed table 2-6)"}
    seed_test = {"sine-sgd": SEED_RESULTS["2-2"]["test_loss"],
                 "sine-adam": SEED_RESULTS["2-3"]["test_loss"],
                 "mnist-adam": SEED_RESULTS["2-6"]["test_loss"]}
    figs["ablation"] = _rel(figures.ablation(results["ablation"], seed_test, titles,
                                             tmp / FIGURES / "ablation.png"), tmp)
    figs["sensitivity"] = _rel(figures.sensitivity(
        sensitivity_figure_spec(results["sensitivity"], seed_test),
        tmp / FIGURES / "sensitivity.png"), tmp)
    results["tables"] = build_tables(results)
    return results


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# ------------------------------------------------------------------ summarising one run

def _history_json(h: History) -> dict[str, Any]:
    out = {"train_loss": h.train_loss, "train_loss_end": h.train_loss_end,
           "test_loss": h.test_loss, "epoch_time": h.epoch_time,
           "total_time": float(sum(h.epoch_time)),
           "diverged_at_step": h.diverged_at_step, "diverged_loss": h.diverged_loss}
    if h.test_accuracy:
        out.update(train_accuracy=h.train_accuracy, test_accuracy=h.test_accuracy)
    out["final"] = {k: (v[-1] if v else None) for k, v in out.items()
                    if isinstance(v, list) and k != "epoch_time"}
    return out


def run_json(result: RunResult, data: Dataset) -> dict[str, Any]:
    """Everything the report states about one main run."""
    config = result.config
    frameworks = {h.name: _history_json(h) for h in result.histories}
    steps = len(result.step_weight_diff)
    out: dict[str, Any] = {
        "config": {**asdict(config), "dims": list(config.dims),
                   "init_description": INIT_DESCRIPTIONS[config.init]},
        "seed_published": SEED_RESULTS.get(config.seed_table, {}),
        "frameworks": frameworks,
        "steps": steps,
        "batches_per_epoch": math.ceil(len(data.x_train) / config.batch_size),
        "parity": parity_summary(result),
        "diagnostics": diagnostics(result, data),
    }
    where = out["parity"]["final_weight_diff_at"]
    where["frozen"] = is_frozen(where["parameter"], where["index"],
                                out["diagnostics"]["dead_relu_units"])
    return out


def is_frozen(parameter: str, index: Sequence[int], dead: list[list[int]]) -> bool:
    """Does this weight get a zero gradient on every training input (a dead unit's weight)?

    Linear ``k`` (Sequential index 2k) feeds ReLU ``k``: its row ``i`` is frozen
    if ReLU ``k``'s unit ``i`` is dead; its column ``j`` if ReLU ``k-1``'s unit
    ``j`` is (that input is always 0).
    """
    if not dead:
        return False
    linear = int(parameter.split(".")[0]) // 2
    out_dead = linear < len(dead) and index[0] in dead[linear]
    in_dead = (parameter.endswith("weight") and linear > 0
               and index[1] in dead[linear - 1])
    return bool(out_dead or in_dead)


def _max_curve_diff(a: Sequence[float], b: Sequence[float]) -> float | None:
    pairs = [(x, y) for x, y in zip(a, b, strict=True)
             if math.isfinite(x) and math.isfinite(y)]
    return max((abs(x - y) for x, y in pairs), default=None)


def _first_step_above(series: Sequence[float], level: float) -> int | None:
    """1-based optimizer step at which ``series`` first exceeds ``level``."""
    for i, v in enumerate(series):
        if v > level:
            return i + 1
    return None


def parity_summary(result: RunResult) -> dict[str, Any]:
    """How far zeronet and PyTorch drifted apart over the run (float64)."""
    zn_h, pt_h = result.histories
    diff = result.step_weight_diff
    eps = float(np.finfo(np.float64).eps)
    out: dict[str, Any] = {
        "max_train_loss_diff": _max_curve_diff(zn_h.train_loss, pt_h.train_loss),
        "max_test_loss_diff": _max_curve_diff(zn_h.test_loss, pt_h.test_loss),
        "max_train_loss_rel_diff": _max_rel_curve_diff(zn_h.train_loss, pt_h.train_loss),
        "max_test_loss_rel_diff": _max_rel_curve_diff(zn_h.test_loss, pt_h.test_loss),
        "final_weight_diff": max(abs(a - b).max() for a, b in
                                 zip(result.final_states[0].values(),
                                     result.final_states[1].values(), strict=True)).item(),
        "final_weight_max": max_abs(result.final_states[0]),
        "final_weight_diff_at": _argmax_diff(*result.final_states[:2]),
        "target": PARITY_TARGET,
    }
    out["final_weight_rel_diff"] = out["final_weight_diff"] / out["final_weight_max"]
    out["target_met"] = out["final_weight_diff"] <= PARITY_TARGET
    if diff:
        bpe = math.ceil(len(diff) / max(1, len(zn_h.train_loss)))
        out["epoch_weight_diff"] = [diff[min(len(diff), (e + 1) * bpe) - 1]
                                    for e in range(len(zn_h.train_loss))]
        out["first_step_weight_diff"] = diff[0]
        out["first_step_ulps"] = diff[0] / (eps * result.step_weight_max[0])
        out["max_step_weight_diff"] = max(diff)
        out["first_step_above_1e-12"] = _first_step_above(diff, 1e-12)
        out["first_step_above_target"] = _first_step_above(diff, PARITY_TARGET)
        s12, s9 = out["first_step_above_1e-12"], out["first_step_above_target"]
        out["steps_per_decade"] = (s9 - s12) / 3 if s12 and s9 and s9 > s12 else None
        out["growth_factor"] = (diff[-1] / diff[0]) if diff[0] > 0 else None
        out["last_change_step"] = _last_change(diff)
        jumps = [diff[i] / diff[i - 1] for i in range(1, len(diff))
                 if diff[i - 1] > 0 and diff[i] >= 4 * diff[i - 1]]
        out["jumps_4x"] = len(jumps)
        growth = out["growth_factor"]
        out["jump_share_of_log_growth"] = (
            sum(math.log(j) for j in jumps) / math.log(growth) if growth and growth > 1 else None)
    return out


def _argmax_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
    name = max(a, key=lambda k: float(np.max(np.abs(a[k] - b[k]))))
    d = np.abs(a[name] - b[name])
    index = np.unravel_index(int(np.argmax(d)), d.shape)
    return {"parameter": name, "index": [int(i) for i in index], "value": float(a[name][index])}


def _last_change(series: Sequence[float], rtol: float = 1e-3) -> int:
    """1-based step after which ``series`` stays within ``rtol`` of its final value."""
    final = series[-1]
    for i in range(len(series) - 1, -1, -1):
        if abs(series[i] - final) > rtol * abs(final):
            return i + 2
    return 1


def _max_rel_curve_diff(a: Sequence[float], b: Sequence[float]) -> float | None:
    pairs = [(x, y) for x, y in zip(a, b, strict=True)
             if math.isfinite(x) and math.isfinite(y) and x != 0]
    return max((abs(x - y) / abs(x) for x, y in pairs), default=None)


def diagnostics(result: RunResult, data: Dataset) -> dict[str, Any]:
    """What moved from its initial value, and how many hidden ReLUs are dead at the end."""
    init, final = result.initial_state, result.final_states[0]
    changed = {k: float(np.max(np.abs(final[k] - init[k]))) for k in init}
    model = build_model(result.config)
    model.load_state_dict(final)
    dead: list[list[int]] = []
    x = data.x_train
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            for layer in model:
                x = layer(x)
                if isinstance(layer, zn.nn.ReLU):
                    dead.append(np.flatnonzero(~(x > 0).any(axis=0)).tolist())
        except ValueError:
            dead = []
    out: dict[str, Any] = {"max_change_from_init": changed,
                           "dead_relu_units_per_layer": [len(d) for d in dead],
                           "dead_relu_units": dead,
                           "hidden_units_per_layer": list(result.config.hidden)}
    if not data.classification:
        prediction = result.test_outputs[0].ravel()
        out["test_prediction_spread"] = float(np.ptp(prediction))
        out["y_train_mean"] = float(np.mean(data.y_train))
        out["y_train_variance"] = float(np.var(data.y_train))
        out["y_test_mean_squared_deviation"] = float(
            np.mean((data.y_test - np.mean(data.y_train)) ** 2))
    return out


# ------------------------------------------------------------------ studies

def sensitivity_summary(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """min / median / max of the final numbers per (study, group, formulas)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(f"{e['study']}:{e['group']}:{e['formulas']}", []).append(e)
    out = {}
    for key, rows in groups.items():
        study, group, formulas = key.split(":")
        seed = SEED_RESULTS[{"sine-sgd": "2-2", "sine-adam": "2-3", "mnist-adam": "2-6"}[group]]
        summary: dict[str, Any] = {"study": study, "group": group, "formulas": formulas,
                                   "runs": len(rows),
                                   "diverged": sum(r["diverged_at_step"] is not None for r in rows)}
        for metric in ("train_loss", "test_loss", "test_accuracy"):
            values = [r[metric] for r in rows
                      if r.get(metric) is not None and math.isfinite(r[metric])]
            if not values:
                continue
            summary[metric] = {"min": min(values), "median": statistics.median(values),
                               "max": max(values), "values": [r.get(metric) for r in rows]}
            if metric in seed:
                better = (lambda v, s: v >= s) if metric == "test_accuracy" else (
                    lambda v, s: v <= s)
                summary[metric]["at_least_as_good_as_seed"] = sum(
                    better(v, seed[metric]) for v in values)
        out[key] = summary
    return out


def sensitivity_figure_spec(entries: Sequence[dict[str, Any]],
                            seed_test: dict[str, float]) -> dict[str, dict[str, Any]]:
    spec: dict[str, dict[str, Any]] = {}
    adam_seeds = [e for e in entries if e["study"] == "seeds" and e["group"] == "sine-adam"]
    if adam_seeds:
        spec["sine-adam"] = {
            "title": "sine, Adam: seeds & data samples",
            "ylabel": "final test MSE (log scale)", "seed_value": seed_test["sine-adam"],
            "series": {
                "correct,\nseeds": [e["test_loss"] for e in adam_seeds
                                    if e["formulas"] == "correct"],
                "seed formulas,\nseeds": [e["test_loss"] for e in adam_seeds
                                          if e["formulas"] == "seed-all"],
                "correct,\ndata samples": [e["test_loss"] for e in entries
                                           if e["study"] == "data"],
            }}
    sgd = [e for e in entries if e["group"] == "sine-sgd"]
    if sgd:
        spec["sine-sgd"] = {
            "title": "sine, SGD: seeds", "ylabel": "final test MSE (log scale)",
            "seed_value": seed_test["sine-sgd"],
            "series": {"seed Kaiming +\nextra 1/N": [e["test_loss"] for e in sgd]}}
    mnist = [e for e in entries if e["group"] == "mnist-adam"]
    if mnist:
        spec["mnist-adam"] = {
            "title": "MNIST, Adam: seeds", "ylabel": "final test cross-entropy (log scale)",
            "seed_value": seed_test["mnist-adam"],
            "series": {"correct,\nseeds": [e["test_loss"] for e in mnist]}}
    return spec


def determinism_check(results: dict[str, Any]) -> dict[str, Any]:
    """Do the ablation's correct-formula runs reproduce the main zeronet runs exactly?"""
    out = {}
    for e in results["ablation"]:
        if e["formulas"] != "correct" or e["group"] not in results["runs"]:
            continue
        run = results["runs"][e["group"]]
        if e["init"] != run["config"]["init"]:
            continue
        main = run["frameworks"]["zeronet"]["final"]
        out[e["group"]] = (main["train_loss"] == e["train_loss"]
                           and main["test_loss"] == e["test_loss"])
    return out


# ------------------------------------------------------------------ tables

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


def _table(title: str, header: list[str], kinds: list[str], rows: list[tuple[str, list[Any]]],
           note: str = "") -> dict[str, Any]:
    return {"title": title, "header": header, "kinds": kinds, "note": note,
            "rows": [{"label": label, "values": values} for label, values in rows]}


def build_tables(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    runs = results["runs"]
    for name, run in runs.items():
        cfg = run["config"]
        seed = run["seed_published"]
        zn_f, pt_f = run["frameworks"]["zeronet"], run["frameworks"]["pytorch"]
        metrics = [("train_loss", "train_loss", "loss"), ("test_loss", "test_loss", "loss")]
        if "train_accuracy" in zn_f:
            metrics = [("train_loss", "train_loss", "loss"),
                       ("train_accuracy(%)", "train_accuracy", "pct"),
                       ("test_loss", "test_loss", "loss"),
                       ("test_accuracy(%)", "test_accuracy", "pct")]
        rows = [(label, [seed.get(key), zn_f["final"][key], pt_f["final"][key]])
                for label, key, _ in metrics]
        rows.append(("cost_time(s)", [seed.get("cost_time"), zn_f["total_time"],
                                      pt_f["total_time"]]))
        rows.append(("train_loss at the final weights (whole set)",
                     [None, zn_f["final"]["train_loss_end"], pt_f["final"]["train_loss_end"]]))
        kinds = [k for _, _, k in metrics] + ["time", "loss"]
        tables[f"results-{name}"] = {
            **_table(f"Table {cfg['seed_table']}: {cfg['title']}",
                     ["metric", "seed (published)", "zeronet", "PyTorch"],
                     ["text", "row", "row", "row"], rows),
            "row_kinds": kinds}
    parity_rows = []
    for name, run in runs.items():
        p = run["parity"]
        parity_rows.append((name, [run["config"]["epochs"], run["steps"],
                                   p["max_train_loss_diff"], p["max_test_loss_diff"],
                                   p.get("first_step_weight_diff"), p["final_weight_diff"],
                                   p["final_weight_rel_diff"], p.get("first_step_above_target"),
                                   p.get("steps_per_decade"), p["target_met"]]))
    tables["parity"] = _table(
        "Parity, float64: zeronet vs PyTorch over the full runs",
        ["run", "epochs", "steps", "max |Δ train loss|", "max |Δ test loss|",
         "max |Δw| after step 1", "final max |Δw|", "final max |Δw| / max |w|",
         "first step |Δw| > 1e-9", "steps per decade of growth", "final |Δw| ≤ 1e-9"],
        ["text", "int", "int", "sci", "sci", "sci", "sci", "sci", "int", "loss", "bool"],
        parity_rows)
    speed_rows = []
    for name, run in runs.items():
        z, t = run["frameworks"]["zeronet"], run["frameworks"]["pytorch"]
        steps = max(1, run["steps"] or run["config"]["epochs"] * run["batches_per_epoch"])
        epochs = max(1, len(z["epoch_time"]))
        speed_rows.append((name, [z["total_time"], t["total_time"],
                                  t["total_time"] / z["total_time"],
                                  1e3 * z["total_time"] / epochs, 1e3 * t["total_time"] / epochs,
                                  1e3 * z["total_time"] / steps, 1e3 * t["total_time"] / steps]))
    tables["speed"] = _table(
        "CPU time of the training steps (same process, interleaved, same thread count)",
        ["run", "zeronet (s)", "PyTorch (s)", "PyTorch / zeronet", "zeronet ms/epoch",
         "PyTorch ms/epoch", "zeronet ms/step", "PyTorch ms/step"],
        ["text", "time", "time", "ratio", "ms", "ms", "ms", "ms"], speed_rows)
    for group, table in (("sine-sgd", "2-2"), ("sine-adam", "2-3"), ("mnist-adam", "2-6")):
        entries = [e for e in results["ablation"] if e["group"] == group]
        if not entries:
            continue
        seed = SEED_RESULTS[table]
        accuracy = group == "mnist-adam"
        header = ["variant", "train_loss", "test_loss"]
        kinds = ["text", "loss", "loss"]
        if accuracy:
            header += ["train_accuracy(%)", "test_accuracy(%)"]
            kinds += ["pct", "pct"]
        header += ["best test_loss", "diverged at step"]
        kinds += ["loss", "int"]
        rows: list[tuple[str, list[Any]]] = []
        seed_row: list[Any] = [seed["train_loss"], seed["test_loss"]]
        if accuracy:
            seed_row += [seed["train_accuracy"], seed["test_accuracy"]]
        rows.append((f"seed's published (table {table})", [*seed_row, None, None]))
        for e in entries:
            values: list[Any] = [e["train_loss"], e["test_loss"]]
            if accuracy:
                values += [e.get("train_accuracy"), e.get("test_accuracy")]
            rows.append((e["label"], [*values, e["best_test_loss"], e["diverged_at_step"]]))
        tables[f"ablation-{group}"] = _table(
            f"Ablation, {group} (seed table {table}); zeronet, last-epoch values",
            header, kinds, rows)
    sens_rows = []
    for s in results["sensitivity_summary"].values():
        t = s.get("test_loss", {})
        tr = s.get("train_loss", {})
        study = "data samples" if s["study"] == "data" else "init/shuffle seeds"
        sens_rows.append((f"{s['group']}, {abl.FORMULA_LABELS[s['formulas']]}, {study}",
                          [s["runs"], tr.get("min"), tr.get("median"), tr.get("max"),
                           t.get("min"), t.get("median"), t.get("max"),
                           t.get("at_least_as_good_as_seed"), s["diverged"]]))
    if sens_rows:
        tables["sensitivity"] = _table(
            "Spread of the last-epoch numbers over seeds and data samples (zeronet)",
            ["study", "runs", "train min", "train median", "train max", "test min",
             "test median", "test max", "runs with test ≤ seed's", "diverged"],
            ["text", "int", "loss", "loss", "loss", "loss", "loss", "loss", "int", "int"],
            sens_rows)
    return tables


def table_cells(table: dict[str, Any]) -> list[list[str]]:
    """The table's body as the strings report.md shows (label first)."""
    body = []
    for r, row in enumerate(table["rows"]):
        cells = [row["label"]]
        for c, value in enumerate(row["values"], start=1):
            kind = table["kinds"][c]
            if kind == "row":
                kind = table["row_kinds"][r]
            cells.append(format_cell(value, kind))
        body.append(cells)
    return body


def render_table(table_id: str, table: dict[str, Any]) -> str:
    header = [h.replace("|", "\\|") for h in table["header"]]
    lines = [f"<!-- table:{table_id} -->", f"**{table['title']}**", "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(table["header"]) - 1)) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
              for cells in table_cells(table)]
    if table.get("note"):
        lines += ["", table["note"]]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ JSON

def _jsonable(value: Any) -> Any:
    """NumPy scalars to Python, NaN/inf to None (strict JSON), recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ------------------------------------------------------------------ markdown

def render_markdown(results: dict[str, Any]) -> str:
    from experiments.report_text import render

    return render(results)


def main_summary_line(results: dict[str, Any]) -> str:
    gen = results["generated"]
    return (f"wrote report ({'quick' if gen['quick'] else 'full'} mode) in "
            f"{gen['duration_s']:.0f} s")
