"""``zeronet report`` and ``zeronet bench``: the study's plugin commands, and the thread count.

They are registered as entry points of ``zeronet.commands`` (pyproject.toml)
and run through ``zeronet.cli.main`` like the library's own ``train``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zeronet import cli
from zeronet_study import commands, threads
from zeronet_study.bench import engine
from zeronet_study.bench.records import BenchRecord, BenchRow, Plan, Target
from zeronet_study.machine import Machine, describe


def test_report_explains_missing_requirements(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.setenv(name, "1")
    monkeypatch.setattr(commands, "missing_requirements", lambda needed: ["matplotlib"])
    assert cli.main(["report", "--quiet"]) == 2
    assert capsys.readouterr().err == ("zeronet report: missing matplotlib; it needs PyTorch and "
                                       "matplotlib: pip install -e '.[report]' (from the root "
                                       "of your clone of zeronet-from-scratch)\n")


def test_report_rejects_a_bad_thread_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["report", "--threads", "0"])
    assert "--threads: expected a positive integer, got '0'" in capsys.readouterr().err


def test_importing_the_commands_loads_neither_torch_nor_matplotlib() -> None:
    """zeronet --help loads every plugin: loading the study's must stay cheap."""
    code = ("import sys, zeronet.cli, zeronet_study.commands; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'reference', 'jinja2') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_command_restarts_only_when_numpy_threads_cannot_be_set_otherwise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = threads.importlib.util.find_spec
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.setenv(name, "1")
    monkeypatch.delenv(threads.RESTART_GUARD, raising=False)
    assert not threads.needs_restart(1)  # threadpoolctl is installed here
    monkeypatch.setattr(threads.importlib.util, "find_spec",
                        lambda name: None if name == "threadpoolctl" else real_find_spec(name))
    assert not threads.needs_restart(1)  # the variables already say 1
    assert threads.needs_restart(2)
    monkeypatch.setenv(threads.RESTART_GUARD, "1")
    assert not threads.needs_restart(2)  # never twice


def test_a_restart_is_python_m_zeronet_with_the_same_arguments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    monkeypatch.setattr(threads, "needs_restart", lambda count: True)
    monkeypatch.setattr(threads.os, "execv", lambda path, argv: started.append(argv))
    monkeypatch.delenv(threads.RESTART_GUARD, raising=False)
    threads.restart_if_needed(2, ["bench", "--threads", "2"], console=False)
    assert started == []  # called from Python (main([...])): never replace the caller
    threads.restart_if_needed(2, ["bench", "--threads", "2"], console=True)
    assert started == [[sys.executable, "-m", "zeronet", "bench", "--threads", "2"]]
    assert all(threads.os.environ[name] == "2" for name in threads.THREAD_ENV_VARS)


def fake_bench_results(plan: Plan, *, threads: int, progress) -> BenchRecord:
    """What zeronet_study.bench.engine.run returns, in small: one row, one point, one target."""
    progress("float64: single operations")
    times = {"zeronet": 0.001, "torch": 0.003, "floor": 0.0008, "floor (784-wide products)": 0.0005}
    machine = Machine(cpu_model="Test CPU", logical_cpus=2, usable_cpus=2, platform="p",
                      python="3", versions={"numpy": "n", "torch": "t", "matplotlib": "m"},
                      threads_requested=threads, torch_num_threads=threads, env={},
                      numpy_blas={}, threadpools=None, torch_config="")
    return BenchRecord(
        plan=plan, threads=threads, thread_info={}, timer="time.process_time", machine=machine,
        rows=[BenchRow(name="MNIST epoch (60 batches of 1000, Adam)", group="epoch",
                       dtype="float64", median=times)],
        scaling=[BenchRow(name="Adam step, batch 1, width 16", group="scaling", dtype="float64",
                          batch=1, width=16, median=times)],
        mnist_epoch_profile={},
        targets=[Target("MNIST epoch, float64: zeronet / floor <= 1.15", 1.25, False)])


def test_bench_prints_the_table_and_writes_json_and_plot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(engine, "run", fake_bench_results)
    status = cli.main(["bench", "--quick", "--json", str(tmp_path / "bench.json"),
                       "--plot", str(tmp_path / "scaling.png")])
    assert status == 0
    out, err = capsys.readouterr()
    cells = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]
    assert cells[0] == ["operation", "dtype", "zeronet", "PyTorch", "PyTorch / zeronet",
                        "zeronet / floor"]
    assert cells[2] == ["MNIST epoch (60 batches of 1000, Adam)", "float64", "1 ms", "3 ms",
                        "3.00", "1.25 (784-wide products only: 2.00)"]
    assert "MISSED  MNIST epoch, float64: zeronet / floor <= 1.15: 1.25" in out
    assert err == "zeronet bench: float64: single operations\n"
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written["rows"][0]["median"]["floor"] == 0.0008
    assert written["machine"]["cpu_model"] == "Test CPU"
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "scaling.png"]


def without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if matplotlib were not installed: not found, and importing it fails."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a))
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_bench_without_matplotlib_prints_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.setenv(name, "1")
    monkeypatch.setattr(engine, "run", fake_bench_results)
    without_matplotlib(monkeypatch)
    assert cli.main(["bench", "--quick", "--json", str(tmp_path / "bench.json")]) == 0
    assert "MNIST epoch (60 batches of 1000, Adam)" in capsys.readouterr().out
    assert cli.main(["bench", "--quick", "--plot", str(tmp_path / "scaling.png")]) == 2
    assert capsys.readouterr().err == (
        "zeronet bench: missing matplotlib; it needs PyTorch, and matplotlib for --plot: pip "
        "install -e '.[report]' (from the root of your clone of zeronet-from-scratch)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]


def test_the_machine_is_described_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    without_matplotlib(monkeypatch)
    assert describe(1).versions["matplotlib"] == "not installed"


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "--threads", "0"], "zeronet bench: error: --threads: expected a positive "
                                  "integer, got '0'"),
    (["bench", "--json", "/no/such/dir/b.json"], "zeronet bench: error: --json: expected a "
                                                 "file in an existing directory"),
])
def test_bench_bad_arguments_are_one_line(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(message)


@pytest.mark.parametrize(("command", "kept"), [
    ("report", "the previous report in reports is unchanged"), ("bench", "nothing was written")])
def test_ctrl_c_names_what_was_kept(command: str, kept: str, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.setenv(name, "1")
    monkeypatch.setattr(commands, "requirements_missing", interrupted)
    assert cli.main([command]) == 130
    assert capsys.readouterr().err == f"zeronet {command}: interrupted; {kept}\n"


def test_a_bad_mnist_file_ends_the_report_in_lines_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from zeronet.data.mnist import MNIST_SHA256
    from zeronet_study.report import build
    from zeronet_study.runs import datasets
    for name in MNIST_SHA256:
        (tmp_path / name).write_bytes(b"not gzip at all")
    monkeypatch.setenv("ZERONET_DATA_DIR", str(tmp_path))
    with pytest.raises(datasets.MnistUnreadableError, match=str(tmp_path)):
        datasets.mnist_dataset()
    for name in threads.THREAD_ENV_VARS:
        monkeypatch.setenv(name, "1")
    monkeypatch.setattr(build, "build_report", lambda *a, **k: datasets.mnist_dataset())
    assert cli.main(["report", "--quiet", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zeronet report: SHA-256 mismatch for " + str(tmp_path))
    assert "Traceback" not in err
    assert err.endswith(f"The previous report in {tmp_path / 'r'} is unchanged.\n")


def test_a_bench_interrupted_while_drawing_names_the_json_it_wrote_and_leaves_no_plot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from zeronet_study.report import figures

    def interrupted_drawing(points: object, machine: str, file: object) -> None:
        file.write(b"\x89PNG half a figure")  # type: ignore[attr-defined]
        raise KeyboardInterrupt
    monkeypatch.setattr(engine, "run", fake_bench_results)
    monkeypatch.setattr(figures, "scaling", interrupted_drawing)
    (tmp_path / "scaling.png").write_bytes(b"the previous plot")
    assert cli.main(["bench", "--quick", "--json", str(tmp_path / "bench.json"),
                     "--plot", str(tmp_path / "scaling.png")]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"zeronet bench: interrupted; {tmp_path / 'bench.json'} written whole; "
        "nothing else was written")
    assert (tmp_path / "scaling.png").read_bytes() == b"the previous plot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "scaling.png"]
