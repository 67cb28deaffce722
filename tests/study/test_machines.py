"""Which numbers depend on the machine, and by how much (report section 3.2).

A run compares itself with the report it replaces: both machines' kernels,
and the numbers that can move (the whole-run parity, the test losses, the
speed targets), in results.json and in a table of report.md.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch

from zeronet_study.machine import CPU_FEATURES, describe
from zeronet_study.records import from_json, to_json
from zeronet_study.report import build as report_module
from zeronet_study.report import machines, results, text
from zeronet_study.report.results import Comparison
from zeronet_study.report.tables import build_tables

COMMITTED = Path(__file__).parents[2] / "reports"


@pytest.fixture(scope="module")
def committed() -> results.Results:
    return results.read(COMMITTED / "results.json")


def on_another_machine(found: results.Results) -> results.Results:
    """``found`` as if run again on an AVX2 machine: MNIST parity moved, a target flipped."""
    other = copy.deepcopy(found)
    other.machine.cpu_model, other.machine.cpu_features = "Other CPU", ["avx", "fma", "avx2"]
    other.machine.torch_cpu_capability = "AVX2"
    other.runs["mnist-adam"].parity.final_weight_diff = 8.9e-12
    target = other.bench.targets[0]
    target.met, target.measured = not target.met, target.measured + 0.2
    other.generated.duration_s *= 3.5
    return other


def test_the_kernels_of_a_machine_are_named(committed: results.Results) -> None:
    machine = copy.deepcopy(committed.machine)
    machine.cpu_model, machine.cpu_features = "Some CPU", ["avx", "avx2"]
    machine.torch_cpu_capability, machine.env = "AVX2", {}
    for pool in machine.threadpools or []:
        if pool.get("internal_api") == "openblas":
            pool["architecture"] = "Haswell"
    line = machines.kernels(machine)
    assert line.startswith("Some CPU (CPU features avx avx2); PyTorch's kernels: AVX2; "
                           "OpenBLAS kernel: Haswell; ")
    machine.cpu_features, machine.env = None, {"OPENBLAS_CORETYPE": "Haswell"}  # older reports
    line = machines.kernels(machine)
    assert line.startswith("Some CPU (CPU features not recorded); ")
    assert "OpenBLAS kernel: Haswell, forced by OPENBLAS_CORETYPE=Haswell" in line


def test_a_run_beside_the_previous_report_says_how_much_moved(committed: results.Results) -> None:
    now = on_another_machine(committed)
    now.machine_comparison = machines.compare(committed, now)
    now.tables = build_tables(now)
    values = {v.label: v for v in now.machine_comparison.values}
    mnist = values["`mnist-adam`: final max |Δw|, zeronet vs PyTorch (section 2)"]
    assert (mnist.previous, mnist.now) == (committed.runs["mnist-adam"].parity.final_weight_diff,
                                           8.9e-12)
    report = text.render(now)
    assert "Other CPU (CPU features avx fma avx2); PyTorch's kernels: AVX2" in report
    assert "made " + committed.generated.utc + " UTC on AMD EPYC" in report
    lines = report.splitlines()
    (parity,) = [line for line in lines if line.startswith("| `mnist-adam`: final max \\|Δw\\|")]
    assert parity.endswith(f"| 8.900e-12 | ×{8.9e-12 / mnist.previous:.3g} |")
    verdicts = [line for line in lines if line.startswith("| ") and ": met |" in line]
    assert len(verdicts) == len(committed.bench.targets)
    assert sum(line.endswith("| **flipped** |") for line in verdicts) == 1
    assert from_json(Comparison, json.loads(json.dumps(to_json(now.machine_comparison)))) == \
        now.machine_comparison


def test_quick_and_full_runs_are_not_compared(committed: results.Results) -> None:
    now = on_another_machine(committed)
    now.generated.quick = True
    now.machine_comparison = machines.compare(committed, now)
    assert now.machine_comparison.values == []
    now.tables = build_tables(now)
    assert "is not compared with it: one of the two is a --quick run." in text.render(now)


def test_without_a_previous_report_the_text_says_how_to_measure_it(
        committed: results.Results, tmp_path: Path) -> None:
    assert machines.compare(None, committed) is None
    assert machines.read_previous(tmp_path / "results.json") is None
    (tmp_path / "results.json").write_text('{"schema": 1}')
    assert machines.read_previous(tmp_path / "results.json") is None
    first = copy.deepcopy(committed)  # a report that replaced none
    first.machine_comparison = None
    first.tables = build_tables(first)
    assert "By how much cannot be measured on one machine" in text.render(first)


def test_zeronet_report_compares_with_the_report_it_replaces(
        committed: results.Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "reports"
    shutil.copytree(COMMITTED, out)
    monkeypatch.setattr(report_module, "collect",
                        lambda tmp, runs, **kwargs: on_another_machine(committed))
    report_module.build_report(out, progress=False)
    written = results.read(out / "results.json")
    assert written.machine_comparison is not None
    assert written.machine_comparison.previous_utc == committed.generated.utc
    assert "machine-comparison" in written.tables
    assert "<!-- table:machine-comparison -->" in (out / "report.md").read_text()


def test_a_run_records_the_cpu_features_and_the_kernels_torch_runs() -> None:
    machine = describe(1)
    assert machine.torch_cpu_capability == torch.backends.cpu.get_cpu_capability()
    if Path("/proc/cpuinfo").is_file():
        assert machine.cpu_features is not None
        assert set(machine.cpu_features) <= set(CPU_FEATURES)
        assert "sse4_2" in machine.cpu_features  # every x86-64 CPU torch 2.13 runs on
