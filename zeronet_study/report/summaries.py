"""The report's numbers, computed from the runs: parity, diagnostics, spreads, determinism."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

import zeronet as zn
from zeronet_study.report.results import (
    Diagnostics,
    FinalValues,
    FrameworkRecord,
    Parity,
    RunRecord,
    SensitivitySummary,
    SineBaseline,
    Spread,
    StepSeries,
    WeightDiffAt,
    summary_key,
)
from zeronet_study.runs.ablation import CaseResult
from zeronet_study.runs.configs import GROUP_TABLES, SEED_RESULTS
from zeronet_study.runs.datasets import Dataset
from zeronet_study.runs.loop import History, RunResult, max_abs
from zeronet_study.runs.models import build_model

#: The final weights of zeronet and PyTorch should differ by at most this (float64).
PARITY_TARGET = 1e-9


def _last(series: list[float]) -> float | None:
    return series[-1] if series else None


def framework_record(h: History) -> FrameworkRecord:
    """One framework's history as the report records it."""
    accuracy = bool(h.test_accuracy)
    return FrameworkRecord(
        train_loss=h.train_loss, train_loss_end=h.train_loss_end, test_loss=h.test_loss,
        epoch_time=h.epoch_time, total_time=float(sum(h.epoch_time)),
        diverged_at_step=h.diverged_at_step, diverged_loss=h.diverged_loss,
        train_accuracy=h.train_accuracy if accuracy else None,
        test_accuracy=h.test_accuracy if accuracy else None,
        final=FinalValues(train_loss=_last(h.train_loss), train_loss_end=_last(h.train_loss_end),
                          test_loss=_last(h.test_loss),
                          train_accuracy=_last(h.train_accuracy) if accuracy else None,
                          test_accuracy=_last(h.test_accuracy) if accuracy else None))


def run_record(result: RunResult, data: Dataset) -> RunRecord:
    """Everything the report states about one main run."""
    config = result.config
    parity, found = parity_summary(result), diagnostics(result, data)
    where = parity.final_weight_diff_at
    where.frozen = is_frozen(where.parameter, where.index, found.dead_relu_units)
    return RunRecord(config=config, seed_published=SEED_RESULTS.get(config.seed_table),
                     frameworks={h.name: framework_record(h) for h in result.histories},
                     steps=len(result.step_weight_diff),
                     batches_per_epoch=math.ceil(len(data.x_train) / config.batch_size),
                     parity=parity, diagnostics=found)


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


def _max_rel_curve_diff(a: Sequence[float], b: Sequence[float]) -> float | None:
    pairs = [(x, y) for x, y in zip(a, b, strict=True)
             if math.isfinite(x) and math.isfinite(y) and x != 0]
    return max((abs(x - y) / abs(x) for x, y in pairs), default=None)


def _first_step_above(series: Sequence[float], level: float) -> int | None:
    """1-based optimizer step at which ``series`` first exceeds ``level``."""
    for i, v in enumerate(series):
        if v > level:
            return i + 1
    return None


def _last_change(series: Sequence[float], rtol: float = 1e-3) -> int:
    """1-based step after which ``series`` stays within ``rtol`` of its final value."""
    final = series[-1]
    for i in range(len(series) - 1, -1, -1):
        if abs(series[i] - final) > rtol * abs(final):
            return i + 2
    return 1


def _argmax_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> WeightDiffAt:
    name = max(a, key=lambda k: float(np.max(np.abs(a[k] - b[k]))))
    d = np.abs(a[name] - b[name])
    index = np.unravel_index(int(np.argmax(d)), d.shape)
    return WeightDiffAt(parameter=name, index=[int(i) for i in index],
                        value=float(a[name][index]))


def step_series(diff: list[float], step_max: list[float], epochs: int) -> StepSeries:
    """The growth of the largest weight difference, recorded after every step."""
    eps = float(np.finfo(np.float64).eps)
    bpe = math.ceil(len(diff) / max(1, epochs))
    above_12, above_target = _first_step_above(diff, 1e-12), _first_step_above(diff, PARITY_TARGET)
    growth = (diff[-1] / diff[0]) if diff[0] > 0 else None
    jumps = [diff[i] / diff[i - 1] for i in range(1, len(diff))
             if diff[i - 1] > 0 and diff[i] >= 4 * diff[i - 1]]
    return StepSeries(
        epoch_weight_diff=[diff[min(len(diff), (e + 1) * bpe) - 1] for e in range(epochs)],
        first_step_weight_diff=diff[0], first_step_ulps=diff[0] / (eps * step_max[0]),
        max_step_weight_diff=max(diff), first_step_above_1e_12=above_12,
        first_step_above_target=above_target,
        steps_per_decade=((above_target - above_12) / 3 if above_12 and above_target
                          and above_target > above_12 else None),
        growth_factor=growth, last_change_step=_last_change(diff), jumps_4x=len(jumps),
        jump_share_of_log_growth=(sum(math.log(j) for j in jumps) / math.log(growth)
                                  if growth and growth > 1 else None))


def parity_summary(result: RunResult) -> Parity:
    """How far zeronet and PyTorch drifted apart over the run (float64)."""
    zn_h, pt_h = result.histories
    zn_final, pt_final = result.final_states[:2]
    final_diff = max(abs(a - b).max() for a, b in
                     zip(zn_final.values(), pt_final.values(), strict=True)).item()
    final_max = max_abs(zn_final)
    diff = result.step_weight_diff
    return Parity(
        max_train_loss_diff=_max_curve_diff(zn_h.train_loss, pt_h.train_loss),
        max_test_loss_diff=_max_curve_diff(zn_h.test_loss, pt_h.test_loss),
        max_train_loss_rel_diff=_max_rel_curve_diff(zn_h.train_loss, pt_h.train_loss),
        max_test_loss_rel_diff=_max_rel_curve_diff(zn_h.test_loss, pt_h.test_loss),
        final_weight_diff=final_diff, final_weight_max=final_max,
        final_weight_diff_at=_argmax_diff(zn_final, pt_final), target=PARITY_TARGET,
        final_weight_rel_diff=final_diff / final_max, target_met=final_diff <= PARITY_TARGET,
        steps=(step_series(diff, result.step_weight_max, len(zn_h.train_loss)) if diff
               else None))


def diagnostics(result: RunResult, data: Dataset) -> Diagnostics:
    """What moved from its initial value, and how many hidden ReLUs are dead at the end."""
    init, final = result.initial_state, result.final_states[0]
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
    sine = None
    if not data.classification:
        prediction = result.test_outputs[0].ravel()
        sine = SineBaseline(
            test_prediction_spread=float(np.ptp(prediction)),
            y_train_mean=float(np.mean(data.y_train)), y_train_variance=float(np.var(data.y_train)),
            y_test_mean_squared_deviation=float(np.mean((data.y_test - np.mean(data.y_train))
                                                        ** 2)))
    return Diagnostics(
        max_change_from_init={k: float(np.max(np.abs(final[k] - init[k]))) for k in init},
        dead_relu_units_per_layer=[len(d) for d in dead], dead_relu_units=dead,
        hidden_units_per_layer=list(result.config.hidden), sine=sine)


def sensitivity_summary(entries: Sequence[CaseResult]) -> dict[str, SensitivitySummary]:
    """min / median / max of the final numbers per (study, group, formulas)."""
    groups: dict[str, list[CaseResult]] = {}
    for e in entries:
        groups.setdefault(summary_key(e.study, e.group, e.formulas), []).append(e)
    out = {}
    for key, rows in groups.items():
        first = rows[0]
        seed = SEED_RESULTS[GROUP_TABLES[first.group]]
        spreads = {}
        for metric in ("train_loss", "test_loss", "test_accuracy"):
            given = [getattr(r, metric) for r in rows]
            values = [v for v in given if v is not None and math.isfinite(v)]
            if not values:
                continue
            published = getattr(seed, metric)
            better = (lambda v, s: v >= s) if metric == "test_accuracy" else (lambda v, s: v <= s)
            spreads[metric] = Spread(
                min=min(values), median=statistics.median(values), max=max(values), values=given,
                at_least_as_good_as_seed=(None if published is None
                                          else sum(better(v, published) for v in values)))
        out[key] = SensitivitySummary(study=first.study, group=first.group,
                                      formulas=first.formulas, runs=len(rows),
                                      diverged=sum(r.diverged_at_step is not None for r in rows),
                                      **spreads)
    return out


def determinism_check(runs: dict[str, RunRecord], ablation: Sequence[CaseResult],
                      ) -> dict[str, bool]:
    """Do the ablation's correct-formula runs reproduce the main zeronet runs exactly?"""
    out = {}
    for e in ablation:
        if e.formulas != "correct" or e.group not in runs:
            continue
        run = runs[e.group]
        if e.init != run.config.init:
            continue
        main = run.frameworks["zeronet"].final
        out[e.group] = main.train_loss == e.train_loss and main.test_loss == e.test_loss
    return out
