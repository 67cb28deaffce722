"""The report's figures, one look for all: same size, fonts, colours and labelling.

zeronet is always drawn as a wide, light solid line and PyTorch as a thin
dashed line on top of it, so where the two agree both stay visible. Titles
name the seed figure each plot corresponds to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator

from zeronet.data.sine import HIGH, LOW, target
from zeronet_study.bench.records import WIDTH_SERIES_BATCH, BenchRow
from zeronet_study.report.summaries import PARITY_TARGET
from zeronet_study.runs.ablation import CaseResult
from zeronet_study.runs.datasets import Dataset
from zeronet_study.runs.loop import RunResult

STYLE = {
    "figure.figsize": (7.5, 4.5),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.85,
}
FRAMEWORK_STYLE = {
    "zeronet": {"linestyle": "-", "linewidth": 3.0, "alpha": 0.45},
    "pytorch": {"linestyle": "--", "linewidth": 1.1, "alpha": 1.0},
}
FRAMEWORK_LABEL = {"zeronet": "zeronet", "pytorch": "PyTorch"}
SERIES_COLOR = {"train": "tab:blue", "test": "tab:orange", "true": "0.35"}


def _mantissa(value: float) -> int:
    """The leading digit of a positive tick value: 3 for 0.3, 300 and 3e-5."""
    return round(value / 10 ** math.floor(math.log10(value)))


#: A log axis shows at least this many labelled ticks, so that a reader can tell its scale.
MIN_LABELS = 3


def _in_view(low: float, high: float, mantissas: Sequence[int]) -> int:
    """How many values m * 10^k (m in ``mantissas``) lie in [low, high]."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    return sum(low <= m * 10.0**k <= high for k in decades for m in mantissas)


def _plain_log_labels(ax: Any, axis: str = "y") -> None:
    """Label a log axis with plain numbers, at least :data:`MIN_LABELS` of them in view.

    The powers of ten when there are enough; else also 3 times them (an axis of 1.5 decades
    or more); else 2, 3 and 5 times them; else, on an axis narrower than that, evenly spaced
    round numbers (900, 1000, 1100 ...), which on so short a log axis stay apart.
    """
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(plain)
    low, high = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    if low <= 0 or _in_view(low, high, (1,)) >= MIN_LABELS:
        target.set_minor_formatter(NullFormatter())
        return
    for mantissas in ((1, 3), (1, 2, 3, 5)):
        if (mantissas == (1, 3)) == (high / low >= 10**1.5) and \
                _in_view(low, high, mantissas) >= MIN_LABELS:
            target.set_minor_formatter(FuncFormatter(
                lambda v, _, keep=mantissas: f"{v:g}" if _mantissa(v) in keep[1:] else ""))
            return
    target.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    target.set_minor_locator(NullLocator())  # log-spaced minor ticks among them would mislead


Target = TypeVar("Target", Path, BinaryIO)


def _save(fig: Figure, path: Target) -> Target:
    """Draw ``fig`` as PNG into ``path`` (a file name, or an open binary file)."""
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _figure(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    with plt.rc_context(STYLE):
        return plt.subplots(nrows, ncols, **kwargs)


def sine_data(data: Dataset, path: Path) -> Path:
    """The sampled training and test points on the true curve (seed fig. 2-1)."""
    with plt.rc_context(STYLE):
        fig, ax = _figure()
        grid = np.linspace(LOW, HIGH, 2000)
        ax.plot(grid, [target(float(v)) for v in grid], color=SERIES_COLOR["true"], lw=1,
                label="y = 24 sin(3.2x) + 42 cos(2.3x)")
        ax.scatter(data.x_train.ravel(), data.y_train.ravel(), s=6, color=SERIES_COLOR["train"],
                   label=f"training points ({len(data.x_train)})")
        ax.scatter(data.x_test.ravel(), data.y_test.ravel(), s=22, marker="x",
                   color=SERIES_COLOR["test"], label=f"test points ({len(data.x_test)})")
        ax.set(xlabel="x", ylabel="y", title="Sine data, x ~ U(-2π, 2π), seed 42 (seed fig. 2-1)")
        ax.legend(loc="lower right")
        return _save(fig, path)


def loss_curves(result: RunResult, path: Path) -> Path:
    """Train and test loss per epoch, both frameworks overlaid, log y (seed figs. 2-7/2-11/2-18)."""
    config = result.config
    classification = bool(result.histories[0].test_accuracy)
    with plt.rc_context(STYLE):
        if classification:
            fig, (ax, ax_acc) = _figure(1, 2, figsize=(11, 4.5))
        else:
            fig, ax = _figure()
        for h in result.histories:
            epochs = np.arange(1, len(h.train_loss) + 1)
            style = dict(FRAMEWORK_STYLE[h.name])
            if len(epochs) <= 20:  # a few epochs (--quick): show the points
                style["marker"] = "o"
            name = FRAMEWORK_LABEL[h.name]
            ax.plot(epochs, h.train_loss, color=SERIES_COLOR["train"], **style,
                    label=f"train (batch mean), {name}")
            ax.plot(epochs, h.test_loss, color=SERIES_COLOR["test"], **style,
                    label=f"test, {name}")
            if classification:
                ax_acc.plot(epochs, h.train_accuracy, color=SERIES_COLOR["train"], **style,
                            label=f"train, {name}")
                ax_acc.plot(epochs, h.test_accuracy, color=SERIES_COLOR["test"], **style,
                            label=f"test, {name}")
        ax.set_yscale("log")
        _plain_log_labels(ax)
        loss_name = "cross-entropy" if config.loss == "ce" else "MSE"
        ax.set(xlabel="epoch", ylabel=f"{loss_name} loss (log scale)",
               title=f"{config.title}: loss (seed fig. {config.seed_loss_figure})")
        ax.legend()
        if classification:
            ax_acc.set(xlabel="epoch", ylabel="accuracy (%)",
                       title=f"{config.title}: accuracy")
            ax_acc.legend(loc="lower right")
        return _save(fig, path)


def predictions(result: RunResult, x_test: np.ndarray, y_test: np.ndarray, path: Path) -> Path:
    """True vs predicted values on the test points, sorted by x (seed figs. 2-8/2-12)."""
    config = result.config
    order = np.argsort(x_test.ravel())
    x = x_test.ravel()[order]
    with plt.rc_context(STYLE):
        fig, ax = _figure()
        grid = np.linspace(LOW, HIGH, 2000)
        ax.plot(grid, [target(float(v)) for v in grid], color=SERIES_COLOR["true"], lw=0.8,
                alpha=0.6, label="true function")
        ax.scatter(x, y_test.ravel()[order], s=18, color="black", zorder=3,
                   label="true value at test points")
        for h, out in zip(result.histories, result.test_outputs, strict=True):
            ax.plot(x, out.ravel()[order], color="tab:red" if h.name == "zeronet" else "tab:purple",
                    marker="o" if h.name == "zeronet" else None, markersize=3,
                    **FRAMEWORK_STYLE[h.name], label=f"predicted, {FRAMEWORK_LABEL[h.name]}")
        ax.set(xlabel="x", ylabel="y",
               title=f"{config.title}: test set (seed fig. {config.seed_prediction_figure})")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)
        return _save(fig, path)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, title: str, path: Path) -> Path:
    """Counts of (true, predicted) digit pairs on the test set."""
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (labels, predicted), 1)
    with plt.rc_context(STYLE):
        fig, ax = _figure(figsize=(6.5, 5.8))
        shown = np.log10(counts + 1)
        image = ax.imshow(shown, cmap="Blues")
        for i in range(10):
            for j in range(10):
                if counts[i, j]:
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7.5,
                            color="white" if shown[i, j] > 0.6 * shown.max() else "black")
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        ax.grid(False)
        ax.set(xlabel="predicted digit", ylabel="true digit", title=title)
        fig.colorbar(image, ax=ax, label="log10(count + 1)", shrink=0.85)
        return _save(fig, path)


def misclassified(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, title: str,
                  path: Path, count: int = 32) -> Path:
    """The first ``count`` misclassified test digits with their true and predicted labels."""
    wrong = np.flatnonzero(predicted != labels)[:count]
    cols = 8
    rows = max(1, math.ceil(len(wrong) / cols))
    with plt.rc_context(STYLE):
        fig, axes = _figure(rows, cols, figsize=(1.2 * cols, 1.45 * rows + 0.6), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, index in zip(axes.ravel(), wrong, strict=False):
            ax.imshow(images[index].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"#{index}: {labels[index]}→{predicted[index]}", fontsize=8)
        fig.suptitle(title, fontsize=11)
        return _save(fig, path)


def weight_difference(results: Sequence[RunResult], path: Path) -> Path:
    """max |w_zeronet - w_pytorch| after every optimizer step, one panel per run, log y.

    A log axis has no 0: steps where the weights are identical (Δw = 0 exactly) are marked
    by ticks along the bottom of the panel instead, below the lowest value drawn. The
    legend sits below the panels, where it covers no curve.
    """
    n = len(results)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    with plt.rc_context(STYLE):
        fig, axes = _figure(rows, cols, figsize=(11, 3.4 * rows + 0.7), squeeze=False)
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        for ax, result in zip(axes.ravel(), results, strict=False):
            steps = np.arange(1, len(result.step_weight_diff) + 1)
            diff = np.asarray(result.step_weight_diff, dtype=float)
            ulp = np.finfo(np.float64).eps * np.asarray(result.step_weight_max)
            zero = diff == 0
            shown = np.where(zero, np.nan, diff)  # a gap in the line where Δw = 0
            # a value between two zeros has no line to it: a dot
            alone = ~zero & (np.convolve(~zero, [1, 1, 1], mode="same") == 1)
            ax.plot(steps, shown, color="tab:red", lw=1)
            if alone.any():
                ax.plot(steps[alone], diff[alone], ".", color="tab:red", ms=2.5)
            ax.plot(steps, ulp, color="0.5", lw=1, ls=":")
            ax.axhline(PARITY_TARGET, color="black", lw=0.8, ls="--")
            if zero.any():  # ticks along the bottom, in axes coordinates
                ax.plot(steps[zero], np.full(int(zero.sum()), 0.025), "|", color="tab:red",
                        ms=5, mew=0.6, transform=ax.get_xaxis_transform())
            ax.set_yscale("log")
            lowest = min(float(diff[~zero].min()) if (~zero).any() else PARITY_TARGET,
                         float(ulp.min()))
            ax.set_ylim(lowest / 30, max(PARITY_TARGET * 10, float(diff.max()) * 30))
            _plain_log_labels(ax)
            plain = ax.yaxis.get_major_formatter()  # no number beside the ticks of Δw = 0
            ax.yaxis.set_major_formatter(FuncFormatter(
                lambda v, pos, low=lowest, fmt=plain: fmt(v, pos) if v >= low / 1.01 else ""))
            batches = math.ceil(len(steps) / max(1, result.config.epochs))
            ax.set(xlabel=f"optimizer step ({batches} per epoch)", ylabel="max |Δw| (log scale)",
                   title=result.config.title)
        handles = [Line2D([], [], color="tab:red", lw=1, label="max |Δw|, zeronet vs PyTorch"),
                   Line2D([], [], color="tab:red", ls="", marker="|", ms=7,
                          label="a step with Δw = 0 exactly (identical weights)"),
                   Line2D([], [], color="0.5", lw=1, ls=":",
                          label="2⁻⁵² · max |w| (one ulp of the largest weight)"),
                   Line2D([], [], color="black", lw=0.8, ls="--", label="1e-9 target")]
        fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8.5, frameon=False)
        fig.suptitle("Final-weight parity, float64: growth of the zeronet–PyTorch difference",
                     fontsize=12)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        fig.savefig(path)
        plt.close(fig)
        return path


def ablation(entries: Sequence[CaseResult], seed_values: dict[str, float],
             titles: dict[str, str], path: Path) -> Path:
    """Final test loss of each ablation variant beside the seed's published value.

    A dot plot, not bars: on a log axis a bar's length depends on where the
    axis happens to start, a dot's position does not.
    """
    groups = [g for g in titles if any(e.group == g for e in entries)]
    with plt.rc_context(STYLE):
        fig, axes = _figure(len(groups), 1, figsize=(9, 2.0 + 0.42 * len(entries)),
                            squeeze=False)
        for ax, group in zip(axes.ravel(), groups, strict=True):
            rows = [e for e in entries if e.group == group]
            finite = [e.test_loss for e in rows
                      if e.test_loss is not None and math.isfinite(e.test_loss)]
            low = min([*finite, seed_values[group]]) / 2
            high = max([*finite, seed_values[group]]) * 2
            ypos = np.arange(len(rows))
            for y, e in zip(ypos, rows, strict=True):
                value = e.test_loss
                ax.axhline(y, color="0.9", lw=0.8, zorder=0)
                if value is None or not math.isfinite(value):
                    ax.text(low * 1.05, y, f"diverged at step {e.diverged_at_step}",
                            va="center", fontsize=8, color="tab:red")
                else:
                    ax.plot(value, y, "o", ms=7, zorder=3,
                            color="tab:blue" if e.formulas == "correct" else "tab:gray")
            ax.set_xlim(low, high)
            ax.axvline(seed_values[group], color="tab:orange", lw=1.8)
            ax.set_yticks(ypos, [e.label for e in rows], fontsize=8)
            ax.invert_yaxis()
            ax.set_xscale("log")
            _plain_log_labels(ax, "x")
            ax.set(xlabel="final test loss (log scale)",
                   title=f"{titles[group]}; orange: seed's published {seed_values[group]:.4g}")
        fig.suptitle("Errata ablation: seed formulas switched back on (zeronet only)",
                     fontsize=12)
        fig.legend(handles=[
            Line2D([], [], color="tab:blue", ls="", marker="o", label="correct formulas"),
            Line2D([], [], color="tab:gray", ls="", marker="o",
                   label="with the seed's formula(s) named on the left"),
            Line2D([], [], color="tab:orange", lw=1.8, label="the seed's published value")],
            loc="lower center", ncol=3, fontsize=8.5, frameon=False)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        fig.savefig(path)
        plt.close(fig)
        return path


def sensitivity_groups(entries: Sequence[CaseResult],
                       seed_test: dict[str, float]) -> dict[str, dict[str, Any]]:
    """The panels of :func:`sensitivity`: per group a title, a label and final test losses."""
    spec: dict[str, dict[str, Any]] = {}
    adam_seeds = [e for e in entries if e.study == "seeds" and e.group == "sine-adam"]
    if adam_seeds:
        spec["sine-adam"] = {
            "title": "sine, Adam: seeds & data samples",
            "ylabel": "final test MSE (log scale)", "seed_value": seed_test["sine-adam"],
            "series": {
                "correct,\nseeds": [e.test_loss for e in adam_seeds if e.formulas == "correct"],
                "seed formulas,\nseeds": [e.test_loss for e in adam_seeds
                                          if e.formulas == "seed-all"],
                "correct,\ndata samples": [e.test_loss for e in entries if e.study == "data"],
            }}
    sgd = [e for e in entries if e.group == "sine-sgd"]
    if sgd:
        spec["sine-sgd"] = {
            "title": "sine, SGD: seeds", "ylabel": "final test MSE (log scale)",
            "seed_value": seed_test["sine-sgd"],
            "series": {"seed Kaiming +\nextra 1/N": [e.test_loss for e in sgd]}}
    mnist = [e for e in entries if e.group == "mnist-adam"]
    if mnist:
        spec["mnist-adam"] = {
            "title": "MNIST, Adam: seeds", "ylabel": "final test cross-entropy (log scale)",
            "seed_value": seed_test["mnist-adam"],
            "series": {"correct,\nseeds": [e.test_loss for e in mnist]}}
    return spec


def sensitivity(groups: dict[str, dict[str, Any]], path: Path) -> Path:
    """Final test loss of repeated runs (one dot per seed or data sample) vs the seed's value."""
    names = list(groups)
    with plt.rc_context(STYLE):
        fig, axes = _figure(1, len(names), figsize=(4.2 * len(names), 4.4), squeeze=False)
        for ax, name in zip(axes.ravel(), names, strict=True):
            spec = groups[name]
            for x, values in enumerate(spec["series"].values()):
                finite = [v for v in values if v is not None and math.isfinite(v)]
                jitter = np.linspace(-0.12, 0.12, len(finite)) if len(finite) > 1 else [0.0]
                ax.scatter(x + np.asarray(jitter), finite, s=26, zorder=3)
                if finite:
                    ax.hlines(np.median(finite), x - 0.25, x + 0.25, color="black", lw=1.2)
            ax.axhline(spec["seed_value"], color="tab:orange", lw=1.5,
                       label=f"seed's published ({spec['seed_value']:.4g})")
            ax.set_xticks(range(len(spec["series"])), list(spec["series"]), fontsize=8.5)
            ax.set_xlim(-0.6, len(spec["series"]) - 0.4)
            ax.set_yscale("log")
            _plain_log_labels(ax)
            ax.set(ylabel=spec["ylabel"], title=spec["title"])
            ax.legend(loc="best")
        fig.suptitle("Run-to-run spread of the last-epoch numbers (dots: runs; bar: median)",
                     fontsize=12)
        return _save(fig, path)


def scaling(points: Sequence[BenchRow], machine: str, path: Target) -> Target:
    r"""Time per Adam training step against batch size and hidden width, both frameworks, log-log.

    ``points``: rows of ``zeronet_study.bench.engine.measure`` for ``scaling_twin``\ s
    (each with its batch, width, dtype and median seconds per role).
    """
    dtype_color = {"float64": "tab:blue", "float32": "tab:orange"}
    with plt.rc_context(STYLE):
        fig, axes = _figure(1, 2, figsize=(11, 4.2))
        for ax, (axis, fixed, label) in zip(
                axes, (("batch", {"width": 16}, "batch size (hidden width 16)"),
                       ("width", {"batch": WIDTH_SERIES_BATCH},
                        f"hidden width (batch {WIDTH_SERIES_BATCH})")), strict=True):
            for dtype, color in dtype_color.items():
                chosen = sorted((p for p in points if p.dtype == dtype
                                 and all(getattr(p, k) == v for k, v in fixed.items())),
                                key=lambda p: getattr(p, axis))
                if not chosen:
                    continue
                xs = [getattr(p, axis) for p in chosen]
                for role, framework in (("zeronet", "zeronet"), ("torch", "pytorch")):
                    ax.plot(xs, [p.median[role] * 1e3 for p in chosen], marker="o", ms=3,
                            color=color, label=f"{FRAMEWORK_LABEL[framework]}, {dtype}",
                            **FRAMEWORK_STYLE[framework])
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set(xlabel=label, ylabel="ms per training step (log scale)")
            _plain_log_labels(ax, "y")
            if ax.lines:
                ax.legend(loc="upper left")
        fig.suptitle(f"MNIST net 784-w-w-w-w-10, one Adam step: zeronet and PyTorch\n{machine}",
                     fontsize=10)
        return _save(fig, path)
