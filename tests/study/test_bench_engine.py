"""The benchmark engine and table (zeronet_study/bench/): how they time, refuse and report.

Timings themselves are never asserted (they are noisy); the method is.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import zeronet as zn
from zeronet_study.bench import cases, table
from zeronet_study.bench import engine as bench
from zeronet_study.bench.cases import Twin
from zeronet_study.bench.records import BenchRow


def counting_twin(log: list[str]) -> Twin:
    return Twin("count", "op", "float64", lambda: log.append("zeronet"),
                lambda: log.append("torch"), lambda: log.append("check"),
                {"floor": lambda: log.append("floor")})


def fake_clock(step: float = 1.0):
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_measure_checks_once_then_alternates_the_order_of_the_roles() -> None:
    log: list[str] = []
    twin = counting_twin(log)
    bench.measure(twin, 3, timer=fake_clock(), calls=2)
    bench.measure(twin, 1, timer=fake_clock(), calls=1)  # checked already: not again
    assert log.count("check") == 1
    timed = log[log.index("check") + 4:]  # after the check and the warm-up of each role
    assert timed[:6] == ["zeronet", "zeronet", "torch", "torch", "floor", "floor"]
    assert timed[6:12] == ["floor", "floor", "torch", "torch", "zeronet", "zeronet"]


def test_measure_reports_the_median_per_call_of_every_role() -> None:
    row = bench.measure(counting_twin([]), 5, timer=fake_clock(0.5), calls=4, total=True)
    assert row.median == {"zeronet": 0.125, "torch": 0.125, "floor": 0.125}  # 1 tick / 4 calls
    assert row.total["torch"] == 5 * 0.125
    assert (row.rounds, row.calls_per_round) == (5, 4)


def test_a_twin_whose_sides_differ_is_refused_before_timing(monkeypatch) -> None:
    """The twin check runs real steps: an SGD that does not update fails it."""
    monkeypatch.setattr(zn.optim.SGD, "_update", lambda self, data, grad, state: None)
    twin = cases.step_twin("float64", "sine", "sgd")
    with pytest.raises(AssertionError, match=r"0\.weight"):
        bench.measure(twin, 1, timer=fake_clock())


@pytest.mark.parametrize("make", [
    lambda: cases.linear_twins("float32", 50, 7, 3)[1],
    lambda: cases.relu_twin("float64", (20, 4)),
    lambda: cases.loss_twin("float32", "ce", (30, 5)),
    lambda: cases.optimizer_twin("float64", "adam", (3, 4, 2), "tiny"),
    lambda: cases.scaling_twin("float32", batch=8, width=32),
], ids=["linear", "relu", "cross-entropy", "adam", "scaling"])
def test_real_twins_agree(make) -> None:
    make().verify()


def row(name: str, group: str, dtype: str, **times: float) -> BenchRow:
    return BenchRow(name=name, group=group, dtype=dtype, median=times,
                    total=times if group == "run" else None)


ROWS = [row("MNIST epoch", "epoch", "float64", zeronet=1.1, torch=1.6, floor=1.0,
            **{"floor (784-wide products)": 0.9}),
        row("MNIST epoch", "epoch", "float32", zeronet=0.6, torch=1.0, floor=0.5,
            **{"floor (784-wide products)": 0.45}),
        row("sine full run", "run", "float64", zeronet=1.0, torch=4.0, floor=0.8)]


def test_targets_state_each_ratio_and_whether_it_is_met() -> None:
    found = {t.target: (round(t.measured, 6), t.met) for t in table.targets(ROWS)}
    assert found == {
        "MNIST epoch, float64: zeronet / floor <= 1.15": (1.1, True),
        "MNIST epoch, float32: zeronet / floor <= 1.15": (1.2, False),
        "full sine Adam run, float64: torch / zeronet >= 10.0": (4.0, False),
        "MNIST epoch: zeronet float64 / float32 >= 1.5": (round(1.1 / 0.6, 6), True),
    }


def test_table_shows_times_speedups_and_floor_ratios() -> None:
    cells = table.table(ROWS)
    assert cells[0] == ["operation", "dtype", "zeronet", "PyTorch", "PyTorch / zeronet",
                        "zeronet / floor"]
    assert cells[1] == ["MNIST epoch", "float64", "1.10 s", "1.60 s", "1.45",
                        "1.10 (784-wide products only: 1.22)"]
    assert cells[3][-2:] == ["4.00", "1.25"]
    text = table.table_text(ROWS)
    assert "MISSED  full sine Adam run, float64: torch / zeronet >= 10.0: 4.00" in text


@pytest.mark.parametrize(("seconds", "text"), [(2.5, "2.50 s"), (0.0123, "12.3 ms"),
                                               (4.56e-6, "4.56 us")])
def test_format_seconds(seconds: float, text: str) -> None:
    assert table.format_seconds(seconds) == text


class TickingTwin:
    """A twin on a fake clock: each call of a role advances it by that role's cost this round."""

    def __init__(self, torch_costs) -> None:
        self.now, self.round, self.torch_costs = 0.0, 0, torch_costs

    def clock(self) -> float:
        return self.now

    def zeronet(self) -> None:
        self.now += 1.0

    def torch(self) -> None:
        self.now += self.torch_costs(self.round)
        self.round += 1  # one torch call per round (calls=1)

    def twin(self) -> Twin:
        return Twin("tick", "op", "float64", self.zeronet, self.torch)


def test_a_stable_row_stops_after_its_fewest_rounds() -> None:
    ticking = TickingTwin(lambda r: 2.0)  # torch / zeronet = 2 in every round
    row = bench.measure(ticking.twin(), 15, timer=ticking.clock, calls=1, min_rounds=5,
                        ratio_ci=0.02)
    assert row.rounds == 5
    assert row.ratio_ci == {"torch": 0.0}
    assert row.median == {"zeronet": 1.0, "torch": 2.0}


def test_a_noisy_row_runs_until_it_is_stable_or_its_most_rounds() -> None:
    noisy = TickingTwin(lambda r: 2.0 if r % 2 else 3.0)  # ratios 3, 2, 3, 2, ...
    row = bench.measure(noisy.twin(), 9, timer=noisy.clock, calls=1, min_rounds=3,
                        ratio_ci=0.02)
    assert row.rounds == 9
    assert row.ratio_ci["torch"] > 0.02
    settling = TickingTwin(lambda r: 2.0 if r >= 2 else 5.0)  # two bad rounds, then steady
    row = bench.measure(settling.twin(), 30, timer=settling.clock, calls=1, min_rounds=3,
                        ratio_ci=0.5)
    assert 3 < row.rounds < 30
    assert row.ratio_ci["torch"] < 0.5


def test_without_a_stopping_rule_every_round_runs() -> None:
    ticking = TickingTwin(lambda r: 2.0)
    row = bench.measure(ticking.twin(), 7, timer=ticking.clock, calls=1)
    assert (row.rounds, row.ratio_ci) == (7, None)


def test_ratio_spread_is_students_t_on_the_logarithms() -> None:
    import math
    spread = bench.ratio_spread([2.0, 4.0], [1.0, 1.0])  # log ratios log 2, log 4
    sd = math.log(2) / math.sqrt(2)
    assert spread == pytest.approx(math.expm1(12.706 * sd / math.sqrt(2)), rel=1e-12)
    assert bench.ratio_spread([2.0], [1.0]) == math.inf
    assert bench.stable({"zeronet": [1.0, 1.0], "torch": [2.0, 2.0]}, 0.01)


def test_the_natural_loop_twin_is_the_tuned_loop_bit_for_bit(monkeypatch) -> None:
    """Its check trains an epoch of each; a natural loop that differs is refused."""
    monkeypatch.setattr(cases, "mnist_data", lambda dtype: (
        np.random.default_rng(0).random((3000, 784)).astype(dtype),
        np.random.default_rng(1).integers(0, 10, 3000), "random pixels"))
    twin = cases.natural_loop_twin("float32")
    twin.verify()
    assert list(twin.roles()) == ["zeronet", "tuned loop"]
    monkeypatch.setattr(cases.Net, "natural_step", lambda self, xb, yb: None)
    broken = cases.natural_loop_twin("float64")
    with pytest.raises(AssertionError, match=r"0\.weight"):
        broken.verify()


NATURAL = [row("MNIST epoch, natural loop", "epoch", dtype, zeronet=1.02, **{"tuned loop": 1.0})
           for dtype in ("float64", "float32")]
SINE = [row("sine epoch", "epoch", "float64", zeronet=1.2, torch=6.0, floor=1.0),
        row("sine epoch", "epoch", "float32", zeronet=1.3, torch=6.0, floor=1.0)]


def test_issue_13s_targets_come_with_the_natural_loops_row() -> None:
    old = {t.target for t in table.targets(ROWS + SINE)}
    assert not any("natural" in t or "784" in t or "straight-line" in t for t in old)
    found = {t.target: (round(t.measured, 6), t.met) for t in table.targets(ROWS + SINE + NATURAL)}
    assert found["MNIST epoch, float64: natural loop / tuned loop <= 1.03"] == (1.02, True)
    assert found["MNIST epoch, float64: zeronet / 784-wide products <= 1.3"] == (
        round(1.1 / 0.9, 6), True)
    assert found["MNIST epoch, float32: zeronet / 784-wide products <= 1.3"] == (
        round(0.6 / 0.45, 6), False)
    assert found["sine epoch, float64: zeronet / straight-line NumPy <= 1.25"] == (1.2, True)
    assert found["sine epoch, float32: zeronet / straight-line NumPy <= 1.25"] == (1.3, False)
    cells = table.table(NATURAL)
    assert cells[1][2:] == ["1.02 s", "-", "-", "1.02 x the tuned loop"]


def test_the_sine_epochs_checked_floor_is_shown_over_the_floor() -> None:
    rows = [row("sine epoch", "epoch", "float64", zeronet=1.6, torch=8.0, floor=1.0,
                **{cases.CHECKED: 1.3}), *NATURAL]
    assert table.table(rows)[1][-1] == "1.60 (straight-line with zeronet's checks: 1.30)"
    (sine,) = [t for t in table.targets(rows) if t.target.startswith("sine")]
    assert sine.also == {"straight-line with zeronet's checks / straight-line NumPy": 1.3}
    assert sorted(cases.sine_epoch_twin("float32").roles()) == sorted(
        ["zeronet", "torch", "floor", cases.CHECKED])
    assert cases.CHECKED not in cases.sine_run_twin("float32", 2).roles()
