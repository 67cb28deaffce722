"""The ablation's worker pool (``zeronet_study.runs.ablation.Background``): while the report
times, one core is left to the timing; then every core runs cases; results keep their order."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from helpers import workers

from zeronet_study.runs.ablation import Background, Case
from zeronet_study.runs.configs import RUNS

SINE = next(c for c in RUNS if c.name == "sine-adam")


def cases(n: int) -> list[Case]:
    return [Case("seeds", "sine-adam", f"case {k}", dataclasses.replace(SINE, model_seed=k))
            for k in range(n)]


def count(marks: Path, kind: str) -> int:
    return sum(1 for p in marks.iterdir() if p.name.startswith(kind))


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.fixture
def marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    monkeypatch.setenv("ZERONET_TEST_MARKS", str(folder))  # spawned workers inherit it
    return folder


def test_while_timing_one_core_stays_free_then_all_run(marks: Path, tmp_path: Path) -> None:
    todo = cases(12)
    at_once = [0]
    deadline = time.monotonic() + 60  # workers start slowly on a loaded machine
    with Background(todo, tmp_path, jobs=3, runner=workers.marked_case) as background:
        while (max(at_once) < 2 or count(marks, "end") < 6) and time.monotonic() < deadline:
            at_once.append(count(marks, "start") - count(marks, "end"))
            time.sleep(0.01)  # while the caller times: jobs - 1 = 2 at once
        # handed to a worker (started) comes before the worker marks its start
        assert count(marks, "start") <= background.started() <= count(marks, "end") + 2
        found = background.results()
        assert background.started() == 12
    assert max(at_once) == 2
    assert [r.label for r in found] == [c.label for c in todo]  # the order of the cases
    assert [r.test_loss for r in found] == [float(k) for k in range(12)]
    assert count(marks, "end") == 12


def test_after_the_timing_every_worker_runs(marks: Path, tmp_path: Path) -> None:
    at_once: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            at_once.append(count(marks, "start") - count(marks, "end"))
            time.sleep(0.01)

    with Background(cases(5), tmp_path, jobs=2, runner=workers.marked_case) as background:
        wait_for(lambda: count(marks, "start") == 1)
        time.sleep(workers.SECONDS / 3)
        assert count(marks, "start") == 1  # one worker while timing
        sampler = threading.Thread(target=sample)
        sampler.start()
        background.results()
        done.set()
        sampler.join()
    assert max(at_once) == 2  # then both


def test_a_failing_case_raises_and_drops_the_cases_not_started(marks: Path,
                                                               tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="injected failure"), \
            Background(cases(8), tmp_path, jobs=2, runner=workers.failing_first_case) as bg:
        bg.results()
    assert count(marks, "start") == count(marks, "end") <= 2  # the rest never started


def test_one_job_runs_the_cases_here_once_asked(marks: Path, tmp_path: Path) -> None:
    with Background(cases(2), tmp_path, jobs=1, runner=workers.marked_case) as background:
        time.sleep(0.2)
        assert count(marks, "start") == 0  # nothing early: no core to spare
        found = background.results()
    assert [r.label for r in found] == ["case 0", "case 1"]
