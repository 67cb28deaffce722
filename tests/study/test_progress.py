"""``zeronet report``'s progress (zeronet_study/progress.py): the whole run and its time left."""

from __future__ import annotations

import io

import pytest

from zeronet_study.progress import RunProgress, clock_text, training_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_each_part_that_ends_says_the_time_left_for_the_whole_run() -> None:
    clock, out = Clock(), io.StringIO()
    run = RunProgress({"sine": 10.0, "bench": 30.0, "ablation": 60.0}, file=out, clock=clock)
    with run.part("sine", 4, "epochs") as part:
        for _ in range(4):
            clock.now += 5
            part.update(1)
    # 10 of 100 estimated seconds took 20 s: the other 90 will take about 180 s
    assert out.getvalue() == "zeronet report: sine done (1/3); 20s elapsed, about 3m00s left\n"
    with run.part("bench", 9, "stages") as part:
        part.update(2)  # ends before it said every stage: the part still counts in full
        clock.now += 40
    assert out.getvalue().splitlines()[-1] == ("zeronet report: bench done (2/3); 1m00s "
                                               "elapsed, about 1m30s left")
    with run.part("ablation", 3, "runs") as part:
        part.update(5)  # more than its total: counted up to the total
        clock.now += 30
    assert run.done == pytest.approx(100.0)
    assert out.getvalue().splitlines()[-1] == ("zeronet report: ablation done (3/3); 1m30s "
                                               "elapsed, about 0s left")
    run.close()
    assert "\r" not in out.getvalue()


def test_on_a_terminal_tqdm_draws_the_whole_run_and_the_part() -> None:
    out = Terminal()
    run = RunProgress({"sine-adam": 10.0, "bench": 10.0}, file=out)
    with run.part("sine-adam", 2000, "epochs") as part:
        part.set_postfix_str("zeronet: train 0.5")
        part.update(1000)
        part.bar.refresh()  # tqdm redraws at most every 0.1 s by itself
        run.bar.refresh()
        drawn = out.getvalue()
    run.close()
    assert "zeronet report:  25%|" in drawn
    assert " left" in drawn
    assert "sine-adam:  50%|" in drawn
    assert "1000/2000" in drawn
    assert "done (" not in out.getvalue()  # the bars say it; no log lines


def test_disabled_progress_writes_nothing() -> None:
    out = Terminal()
    run = RunProgress({"a": 1.0}, enabled=False, file=out)
    with run.part("a", 3, "epochs") as part:
        part.update(3)
    run.close()
    assert out.getvalue() == ""


def test_the_estimates_and_the_clock_text() -> None:
    assert training_seconds("sine", 100, ("zeronet", "torch")) == pytest.approx(0.075)
    assert training_seconds("mnist", 100, ("zeronet",)) > 10 * training_seconds(
        "sine", 100, ("zeronet",))
    assert [clock_text(s) for s in (0, 35.4, 260, 3720, -3)] == ["0s", "35s", "4m20s", "1h02m",
                                                                "0s"]
