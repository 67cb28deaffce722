"""The report pipeline: every file written, tables equal to results.json, replaced atomically.

The pipeline runs once in --quick mode (a few epochs per run) and is shared
by the tests that read its output. MNIST parts run only when
$ZERONET_DATA_DIR is set. The committed reports/report.md must be what the
code renders from the committed reports/results.json.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
from helpers.mnist import configured_dir
from helpers.sine_files import SINE_SHA256

from zeronet import cli
from zeronet.data.sine import CSV_NAMES, sha256_of
from zeronet_study.records import from_json, to_json
from zeronet_study.report import build as report_module
from zeronet_study.report import results as results_module
from zeronet_study.report import text
from zeronet_study.report.atomic import atomic_directory
from zeronet_study.report.results import Table
from zeronet_study.report.tables import table_cells

HAS_MNIST = configured_dir() is not None
COMMITTED = Path(__file__).parents[2] / "reports"


# ------------------------------------------------------------------ the report

PROGRESS: dict[str, str] = {}  # what the quick report's progress printed


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quick") / "reports"
    log = io.StringIO()  # not a terminal: one line per part
    report_module.build_report(out, quick_mode=True, jobs=1, include_mnist=HAS_MNIST,
                               progress=True, progress_file=log)
    PROGRESS["log"] = log.getvalue()
    return out


def test_the_report_says_the_time_left_for_the_whole_run_as_each_part_ends(
        quick_report: Path) -> None:
    results = json.loads((quick_report / "results.json").read_text())
    parts = [*results["runs"], "benchmarks", "ablation and sensitivity", "seed checks"]
    lines = PROGRESS["log"].splitlines()
    assert [line.split(" done (")[0] for line in lines] == [f"zeronet report: {p}" for p in parts]
    for k, line in enumerate(lines, start=1):
        assert re.search(rf" done \({k}/{len(parts)}\); \S+ elapsed, about \S+ left$", line), line
    assert lines[-1].endswith("about 0s left")


def test_quick_report_writes_every_file_and_no_temp_dir(quick_report: Path) -> None:
    results = json.loads((quick_report / "results.json").read_text())
    assert (quick_report / "report.md").read_text().startswith("# zeronet vs PyTorch")
    expected = {"sine_data", "weight_difference", "ablation", "sensitivity",
                *(f"loss_{n}" for n in results["runs"])}
    if HAS_MNIST:
        expected |= {"mnist_confusion", "mnist_misclassified"}
    assert expected <= set(results["figures"])
    for path in results["figures"].values():
        assert (quick_report / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert results["sine_data"]["sha256"] == SINE_SHA256
    assert sha256_of({n: quick_report / "data" / n for n in CSV_NAMES}) == SINE_SHA256
    assert ("mnist-adam" in results["runs"]) == HAS_MNIST
    assert sorted(p.name for p in quick_report.parent.iterdir()) == ["reports"]


def _markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """table id -> body rows (cells as strings), from the <!-- table:ID --> markers."""
    tables = {}
    for match in re.finditer(r"<!-- table:(\S+) -->\n\*\*.*\*\*\n\n((?:\|.*\|\n)+)", text):
        rows = [re.split(r"(?<!\\)\|", line.strip()[1:-1])
                for line in match.group(2).splitlines()]
        tables[match.group(1)] = [[c.strip().replace("\\|", "|") for c in row]
                                  for row in rows[2:]]
    return tables


def test_report_tables_show_exactly_the_numbers_in_results_json(quick_report: Path) -> None:
    results = json.loads((quick_report / "results.json").read_text())
    shown = _markdown_tables((quick_report / "report.md").read_text())
    assert set(shown) == set(results["tables"])
    for table_id, table in results["tables"].items():
        assert shown[table_id] == table_cells(from_json(Table, table)), table_id
        for row, cells in zip(table["rows"], shown[table_id], strict=True):
            for value, cell in zip(row["values"], cells[1:], strict=True):
                if isinstance(value, float):
                    # '.6g' keeps 6 digits, '.2f'/'.3f' keep 2-3 decimals
                    expected = pytest.approx(value, rel=1e-5, abs=0.006)
                    assert float(cell) == expected, (table_id, cell)
    # ... and the results tables hold the runs' last-epoch values.
    for name, run in results["runs"].items():
        rows = {r["label"]: r["values"] for r in results["tables"][f"results-{name}"]["rows"]}
        assert rows["test_loss"][1:] == [run["frameworks"][fw]["final"]["test_loss"]
                                         for fw in ("zeronet", "pytorch")]


def test_results_json_reads_back_into_the_records_it_was_written_from(quick_report: Path) -> None:
    """read() then to_json() gives results.json back, key for key and number for number."""
    written = json.loads((quick_report / "results.json").read_text())
    assert to_json(results_module.read(quick_report / "results.json")) == written


def test_report_md_is_rendered_from_results_json(quick_report: Path) -> None:
    found = results_module.read(quick_report / "results.json")
    assert text.render(found) == (quick_report / "report.md").read_text()


def test_the_committed_report_is_what_the_code_renders_from_its_results_json() -> None:
    """reports/report.md cannot fall behind the code: rendered again, it comes out the same."""
    found = results_module.read(COMMITTED / "results.json")
    assert text.render(found) == (COMMITTED / "report.md").read_text()


def test_failure_mid_run_leaves_the_previous_report_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.md").write_text("previous report\n")
    calls = []
    real_run_main = report_module.run_main

    def failing_run_main(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        return real_run_main(*args, **kwargs)

    monkeypatch.setattr(report_module, "run_main", failing_run_main)
    with pytest.raises(RuntimeError, match="injected failure"):
        report_module.build_report(out, quick_mode=True, jobs=1, include_mnist=False,
                                   progress=False)
    assert len(calls) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]
    assert [p.name for p in out.iterdir()] == ["report.md"]
    assert (out / "report.md").read_text() == "previous report\n"


# ------------------------------------------------------------------ interrupted and repeated runs

def _cli_env() -> dict[str, str]:
    """The environment for a ``python -m zeronet`` child importing this checkout."""
    root = str(Path(cli.__file__).parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


QUICK_REPORT = [sys.executable, "-m", "zeronet", "report", "--quick", "--no-mnist",
                "--jobs", "1", "--quiet", "--out", "reports"]


def _interrupted_quick_report(cwd: Path) -> tuple[int, str]:
    """Start a quick report in ``cwd``, send SIGINT once it is writing; (status, stderr)."""
    child = subprocess.Popen(QUICK_REPORT, cwd=cwd, env=_cli_env(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(cwd.glob(".reports.tmp-*/figures")):  # the run is writing
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, err


def test_ctrl_c_during_a_report_leaves_the_previous_one_and_no_temp_dir(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.md").write_text("previous report\n")
    for _ in range(3):  # a run that finished before the signal arrived proves nothing: again
        status, err = _interrupted_quick_report(tmp_path)
        if not (status == 0 and "zeronet report: wrote" in err):
            break
    # 130, or killed by SIGINT when the interrupt passed through C code that re-raises it
    # at exit (CPython's unhandled_keyboard_interrupt); a shell shows 130 for both.
    assert status in (130, -signal.SIGINT), err
    assert err.splitlines()[-1] == ("zeronet report: interrupted; the previous report in "
                                    "reports is unchanged")
    assert "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]
    assert [p.name for p in out.iterdir()] == ["report.md"]
    assert (out / "report.md").read_text() == "previous report\n"


def _previous_report(tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.md").write_text("previous report\n")
    return out


def _assert_previous_report_kept(out: Path) -> None:
    assert [p.name for p in out.parent.iterdir()] == ["reports"]
    assert (out / "report.md").read_text() == "previous report\n"


def test_a_ctrl_c_dropped_in_a_weakref_callback_is_raised_again_at_once(tmp_path: Path) -> None:
    out = _previous_report(tmp_path)

    class Thing:
        pass

    def callback(ref: object) -> None:  # Python reports and drops what this raises
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    refs = []

    def write_report_while_a_weakref_callback_gets_a_ctrl_c() -> None:
        with atomic_directory(out):
            thing = Thing()
            refs.append(weakref.ref(thing, callback))
            del thing  # the callback runs now
            time.sleep(5)  # the resent interrupt ends this at once

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt) as info:
        write_report_while_a_weakref_callback_gets_a_ctrl_c()
    assert time.monotonic() - started < 2
    assert info.value.args == ()  # not the end-of-run check's KeyboardInterrupt
    assert refs[0]() is None
    _assert_previous_report_kept(out)


def test_keyboard_interrupt_mid_run_leaves_the_previous_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.md").write_text("previous report\n")

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "run_main", interrupted)
    with pytest.raises(KeyboardInterrupt):
        report_module.build_report(out, quick_mode=True, jobs=1, include_mnist=False,
                                   progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]
    assert (out / "report.md").read_text() == "previous report\n"


def strip_timings(results: dict) -> dict:
    """``results`` without its wall-clock fields, each removed by name (KeyError if renamed).

    Timings: when and how long the report ran, every run's per-epoch and total
    training time, the speed table, the cost_time row of each results table, and
    in the benchmarks every measured time, the calls per round (calibrated from a
    timing), the rounds and the ratios' spread (the stopping rule reads the times),
    the profile and each target's measured ratio and verdict; and the
    seconds each seed-formula check took, in its records and its table.
    """
    results = json.loads(json.dumps(results))
    del results["generated"]["utc"], results["generated"]["duration_s"]
    for run in results["runs"].values():
        for framework in run["frameworks"].values():
            del framework["epoch_time"], framework["total_time"]
    del results["tables"]["speed"]
    for name in results["runs"]:
        rows = results["tables"][f"results-{name}"]["rows"]
        (cost,) = [row for row in rows if row["label"] == "cost_time(s)"]
        del cost["values"][1:]  # zeronet's and PyTorch's; the seed's published time stays
    bench = results["bench"]
    for row in bench["rows"] + bench["scaling"]:
        del row["median"], row["min"], row["calls_per_round"], row["rounds"]
        row.pop("total", None)  # only the full sine run has one
        row.pop("ratio_ci", None)  # not the full sine run
    del bench["mnist_epoch_profile"]
    for target in bench["targets"]:
        del target["measured"], target["met"]
        target.pop("also", None)
    for check in results["seed_checks"]:
        del check["seconds"]
    for row in results["tables"]["seed-checks"]["rows"]:
        del row["values"][-1]  # the seconds column
    return results


def test_two_report_runs_write_identical_results_apart_from_timings(tmp_path: Path) -> None:
    results = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        subprocess.run(QUICK_REPORT, cwd=tmp_path / name, env=_cli_env(), check=True,
                       capture_output=True, timeout=600)
        results.append(json.loads((tmp_path / name / "reports" / "results.json").read_text()))
    first, second = (strip_timings(r) for r in results)
    assert first["runs"]  # something was compared
    assert first == second
    assert results[0]["generated"]["duration_s"] != results[1]["generated"]["duration_s"]
