"""The report's figures as a reader sees them: labelled axes, nothing hidden, no fake data.

Drawn with matplotlib's Agg backend and inspected through the artists'
positions on the canvas (no pixel comparison).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from zeronet_study.report import figures
from zeronet_study.runs.configs import RUNS
from zeronet_study.runs.loop import History, RunResult

RANGES = [(850, 1300), (0.07, 0.8), (0.3, 45), (0.09, 15), (0.19, 0.27), (1e-19, 1e-6),
          (5, 2000), (0.5, 3.2), (0.012, 0.03)]


def labels_in_view(ax: plt.Axes) -> list[plt.Text]:
    """The y tick labels a reader sees: non-empty, inside the axis' limits."""
    low, high = sorted(ax.get_ylim())
    ticks = [*ax.yaxis.get_major_ticks(), *ax.yaxis.get_minor_ticks()]
    return [t.label1 for t in ticks if t.label1.get_visible() and t.label1.get_text()
            and low <= t.get_loc() <= high]


@pytest.mark.parametrize(("low", "high"), RANGES)
def test_a_log_axis_shows_at_least_three_labels_that_do_not_collide(low: float,
                                                                       high: float) -> None:
    """...and that cover it: no stretch of more than half the axis without a label."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))  # about one panel of the report
    ax.plot([0, 1], [low, high])
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    figures._plain_log_labels(ax)
    fig.canvas.draw()
    shown = labels_in_view(ax)
    plt.close(fig)
    assert len(shown) >= figures.MIN_LABELS, [t.get_text() for t in shown]
    marks = np.log10([low, *sorted(float(t.get_text()) for t in shown), high])
    assert np.max(np.diff(marks)) <= 0.5 * (marks[-1] - marks[0]), [t.get_text() for t in shown]
    boxes = [t.get_window_extent() for t in shown]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), [t.get_text() for t in shown]


def fake_run(diff: list[float], epochs: int = 10) -> RunResult:
    config = RUNS[1]
    return RunResult(config, [History("zeronet"), History("pytorch")], diff,
                     [3.0] * len(diff), {}, [], [])


def test_weight_difference_keeps_the_legend_off_the_curves_and_zeros_off_the_scale(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The legend is outside every panel; Δw = 0 is not drawn as a value (there is no 0 on a
    log axis) but marked below the lowest value; the curve crossing 1e-9 is in view."""
    steps = np.arange(1, 2001)
    crossing = list(np.minimum(1e-16 * 1.05 ** steps, 2e-8))  # crosses 1e-9 near step 700
    zeros = [0.0 if k % 3 == 0 else 4e-16 for k in range(2000)]
    drawn = {}
    real_save = figures.Figure.savefig

    def keep(fig: figures.Figure, *args: object, **kwargs: object) -> None:
        drawn["fig"] = fig
        real_save(fig, *args, **kwargs)

    monkeypatch.setattr(figures.Figure, "savefig", keep)
    runs = [fake_run(zeros), fake_run(crossing), fake_run(zeros), fake_run(crossing)]  # as in
    figures.weight_difference(runs, tmp_path / "w.png")  # the report: zero init first
    fig = drawn["fig"]
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    (legend,) = fig.legends
    for ax in panels:
        assert not legend.get_window_extent().overlaps(ax.get_window_extent())
        assert ax.get_position().width > 0.3  # two panels a row, not squeezed by the layout
    zero_ax, curve = panels[:2]
    assert 1e-9 in [line.get_ydata()[0] for line in curve.lines if len(line.get_ydata())]
    low, high = curve.get_ylim()
    assert low < 1e-16
    assert high > 2e-8
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float)
                             for line in zero_ax.lines
                             if line.get_transform() == zero_ax.transData])
    low, _ = zero_ax.get_ylim()
    assert np.all(np.isnan(values) | (values > low))  # nothing drawn at the axis' bottom
    assert not np.any(values == 0)
    lowest = np.nanmin(values)  # no number on the axis beside the marks of Δw = 0
    assert all(float(label.get_text()) >= lowest / 1.01 for label in labels_in_view(zero_ax))
    (marks,) = [line for line in zero_ax.lines if line.get_marker() == "|"]
    assert len(marks.get_xdata()) == zeros.count(0.0)
    plt.close(fig)
