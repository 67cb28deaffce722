"""``zeronet report``: run everything, write ``report.md``, ``results.json`` and figures.

The output directory is replaced atomically (``zeronet_study.report.atomic``):
everything is built in a temporary directory beside it and swapped in only
when complete, so a run that fails (or is interrupted) leaves the previous
report as it was and no temporary directory behind.

Every number in ``report.md`` is read from the :class:`Results` that is
written as ``results.json``; report.md is rendered from that file read
back, so the two cannot disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from zeronet.data.sine import CSV_NAMES, SEED, generate_sine_csvs, sha256_of
from zeronet_study.bench import engine as bench
from zeronet_study.bench.records import BenchRecord
from zeronet_study.machine import describe
from zeronet_study.progress import (
    BENCH_SECONDS,
    RUN_SECONDS,
    SEED_CHECK_SECONDS,
    Part,
    RunProgress,
    training_seconds,
)
from zeronet_study.report import figures, machines, results, summaries, text
from zeronet_study.report.atomic import atomic_directory
from zeronet_study.report.results import FindingRecord, Results, SeedCheckRecord, SineDataRecord
from zeronet_study.report.tables import build_tables
from zeronet_study.runs import ablation as abl
from zeronet_study.runs.configs import GROUP_TABLES, RUNS, SEED_RESULTS, RunConfig, quick
from zeronet_study.runs.datasets import Dataset, mnist_dataset, sine_dataset
from zeronet_study.runs.loop import RunResult, train
from zeronet_study.runs.models import build_trainer
from zeronet_study.runs.seed_checks import run_seed_checks
from zeronet_study.runs.trainers import TorchTrainer
from zeronet_study.threads import limit as limit_threads

FIGURES = "figures"


def run_main(config: RunConfig, data: Dataset, *, progress: Part | None = None) -> RunResult:
    """One main run: zeronet and its PyTorch mirror, same weights, same batches, float64."""
    zeronet_trainer = build_trainer(config)
    torch_trainer = TorchTrainer.mirror_of(zeronet_trainer)
    return train(config, [zeronet_trainer, torch_trainer], data, progress=progress)


def build_report(out: str | Path = "reports", *, quick_mode: bool = False, threads: int = 1,
                 jobs: int | None = None, include_mnist: bool = True, progress: bool = True,
                 progress_file: TextIO | None = None, command: str = "zeronet report",
                 on_replaced: Callable[[], None] | None = None) -> Path:
    """Run the experiments and write the report into ``out`` (atomically); return ``out``.

    ``progress``: show the whole run's progress and time left on ``progress_file``
    (default stderr; see :mod:`zeronet_study.progress`). ``on_replaced()`` is
    called the moment the new report has replaced the previous one (see
    :func:`~zeronet_study.report.atomic.atomic_directory`, which also refuses a
    second run into the same ``out`` while one is live).
    """
    started = time.perf_counter()
    thread_info = limit_threads(threads)
    jobs = abl.default_jobs() if jobs is None else jobs
    runs = {c.name: (quick(c) if quick_mode else c) for c in RUNS
            if include_mnist or c.task != "mnist"}
    out = Path(out)
    with atomic_directory(out, on_replaced=on_replaced) as tmp:
        previous = machines.read_previous(out / "results.json")  # before it is replaced
        found = collect(tmp, runs, quick_mode=quick_mode, threads=threads, jobs=jobs,
                        progress=progress, progress_file=progress_file,
                        thread_info=thread_info)
        found.generated.command = command
        found.generated.duration_s = time.perf_counter() - started
        found.machine_comparison = machines.compare(previous, found)
        found.tables = build_tables(found)
        results.write(found, tmp / "results.json")
        write_markdown(tmp)
    return out


def write_markdown(directory: Path) -> None:
    """``directory``/report.md, rendered from ``directory``/results.json."""
    (directory / "report.md").write_text(text.render(results.read(directory / "results.json")))


def _steps(config: RunConfig, data: Dataset) -> int:
    return config.epochs * math.ceil(len(data.x_train) / config.batch_size)


def _untimed_left(cpu_seconds: float, timed_seconds: float, jobs: int, cases: int) -> float:
    """The untimed cases' estimated wall time once the timed work is done.

    ``jobs - 1`` workers run them during the timed work, all ``jobs`` after it.
    """
    workers = max(1, min(jobs, cases))
    done_meanwhile = (workers - 1) * timed_seconds
    return max(cpu_seconds - done_meanwhile, 0.1 * cpu_seconds) / workers


def timed_work(runs: dict[str, RunConfig], sine: Dataset, mnist: Dataset | None,
               figure: Callable[..., None], shown: RunProgress, bench_plan: bench.Plan, *,
               threads: int) -> tuple[dict[str, Any], BenchRecord]:
    """The main runs (both frameworks, timed) and the benchmarks, with their figures."""
    main_results: list[RunResult] = []
    records = {}
    for config in runs.values():
        data = mnist if config.task == "mnist" else sine
        assert data is not None
        with shown.part(config.name, config.epochs, "epochs") as bar:
            result = run_main(config, data, progress=bar)
        main_results.append(result)
        records[config.name] = summaries.run_record(result, data)
        figure(f"loss_{config.name}", figures.loss_curves, result)
        if config.task == "sine":
            figure(f"predictions_{config.name}", figures.predictions, result, data.x_test,
                   data.y_test)
        else:
            predicted = np.argmax(result.test_outputs[0], axis=1)
            figure("mnist_confusion", figures.confusion_matrix, data.y_test, predicted,
                   f"{config.title}: test-set confusion matrix (zeronet)")
            figure("mnist_misclassified", figures.misclassified, data.x_test, data.y_test,
                   predicted,
                   f"{config.title}: misclassified test digits (index: true→predicted, zeronet)")
    figure("weight_difference", figures.weight_difference, main_results)

    bench_stages = 4 * len(bench_plan.dtypes) + 1  # the messages engine.run says
    with shown.part("benchmarks", bench_stages, "stages") as bar:
        started: list[str] = []

        def stage(name: str) -> None:  # said as each stage starts: the previous one is done
            if started:
                bar.update(1)
            started.append(name)
            bar.set_postfix_str(name)

        timed = bench.run(bench_plan, threads=threads, progress=stage)
    figure("scaling", figures.scaling, timed.scaling,
           f"{timed.machine.cpu_model}, {threads} thread(s) per framework, {timed.timer}")
    return records, timed


def collect(tmp: Path, runs: dict[str, RunConfig], *, quick_mode: bool, threads: int,
            jobs: int, progress: bool, thread_info: dict[str, Any],
            progress_file: TextIO | None = None) -> Results:
    """Run everything into ``tmp``; return the results (figures are written as a side effect)."""
    (tmp / FIGURES).mkdir()
    sine_dir = tmp / "data"
    csv_paths = generate_sine_csvs(sine_dir)
    sine = sine_dataset(sine_dir)
    mnist = mnist_dataset() if any(c.task == "mnist" for c in runs.values()) else None
    generated = results.Generated(
        utc=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S"), quick=quick_mode,
        threads=threads, jobs=jobs, threads_in_effect=thread_info)
    machine = describe(threads)
    sine_data = SineDataRecord(seed=SEED, files={n: f"data/{n}" for n in CSV_NAMES},
                               sha256=sha256_of(csv_paths), n_train=len(sine.x_train),
                               n_test=len(sine.x_test))

    def figure(name: str, draw: Any, *args: Any) -> None:
        figs[name] = (draw(*args, tmp / FIGURES / f"{name}.png")).relative_to(tmp).as_posix()

    full = {c.name: c for c in RUNS}
    case_runs = {k: runs.get(k, quick(full[k]) if quick_mode else full[k]) for k in GROUP_TABLES}
    cases = abl.ablation_cases(case_runs) + abl.sensitivity_cases(case_runs, quick_mode)
    cases = [c for c in cases if mnist is not None or c.config.task != "mnist"]
    unique = abl.unique_cases(cases).values()
    bench_plan = bench.QUICK if quick_mode else bench.FULL
    parts = {config.name: RUN_SECONDS + training_seconds(
        config.task, _steps(config, mnist if config.task == "mnist" else sine),
        ("zeronet", "torch")) for config in runs.values()}
    parts["benchmarks"] = BENCH_SECONDS[quick_mode]
    parts["ablation and sensitivity"] = _untimed_left(sum(
        training_seconds(c.config.task, _steps(c.config, mnist if c.config.task == "mnist"
                                               else sine), ("zeronet",))
        for c in unique), sum(parts.values()), jobs, len(unique))
    parts["seed checks"] = SEED_CHECK_SECONDS
    shown = RunProgress(parts, enabled=progress, file=progress_file)

    figs: dict[str, str] = {}
    figure("sine_data", figures.sine_data, sine)
    # The ablation is not timed: its cases start now, on the cores the timing leaves free.
    with abl.Background(cases, sine_dir, jobs=jobs) as background:
        records, timed = timed_work(runs, sine, mnist, figure, shown, bench_plan, threads=threads)
        with shown.part("ablation and sensitivity", len(unique), "runs") as bar:
            entries = background.results(progress=bar)
    ablation = [e for e in entries if e.study == "ablation"]
    sensitivity = [e for e in entries if e.study != "ablation"]

    titles = {"sine-sgd": "sine, SGD (seed table 2-2)", "sine-adam": "sine, Adam (seed table 2-3)",
              "mnist-adam": "MNIST, Adam (seed table 2-6)"}
    seed_test = {group: SEED_RESULTS[table].test_loss for group, table in GROUP_TABLES.items()}
    figure("ablation", figures.ablation, ablation, seed_test, titles)
    figure("sensitivity", figures.sensitivity,
           figures.sensitivity_groups(sensitivity, seed_test))
    with shown.part("seed checks", 1, "checks"):
        checked = run_seed_checks()
    shown.close()
    seed_checks = [SeedCheckRecord(erratum=c.erratum, formula=c.formula, check=c.check,
                                   expected=list(c.expected), seconds=c.seconds,
                                   findings=[FindingRecord(kind=f.kind, tensor=f.tensor,
                                                           message=f.message)
                                             for f in c.findings])
                   for c in checked]
    found = Results(generated=generated, machine=machine, sine_data=sine_data, runs=records,
                    figures=figs, bench=dataclasses.replace(timed, machine=None),  # once, above
                    ablation=ablation, sensitivity=sensitivity,
                    sensitivity_summary=summaries.sensitivity_summary(sensitivity),
                    determinism=summaries.determinism_check(records, ablation),
                    seed_checks=seed_checks, tables={})  # build_report adds them
    return found
