"""The benchmark engine of ``zeronet bench`` and the report: time every twin of ``cases``.

Method. Both frameworks get the same thread count (torch.set_num_threads and
threadpoolctl for NumPy's BLAS). Every twin is checked once (both sides agree)
and warmed up; then its roles (zeronet, torch, the floors) run in alternating
order, round after round, each round a fixed number of calls (chosen so that a
zeronet round takes ~20 ms). A role's time is the median over rounds of the
time per call; each ratio is a ratio of two such medians from the same run.
With one thread the clock is ``time.process_time`` (CPU time of this process,
blind to other processes on a shared machine), else ``time.perf_counter``.
The full sine run is the exception: each round is one epoch, and the run's
time is the sum over all its epochs (alternating frameworks epoch by epoch).

Stopping rule. A row runs at least ``min_rounds`` and at most ``rounds``
rounds, and stops as soon as it is stable (:func:`stable`): for every role
other than zeronet, the per-round ratios role / zeronet (both timed in the
same round) have a 95% confidence interval, Student's t on their logarithms,
narrower than ``ratio_ci`` (3%) on either side of their mean. A quiet
machine stops a row after ``min_rounds``; a noisy one gets up to ``rounds``,
as many as every row had before the rule. The full sine run always runs
all its epochs.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence

from zeronet_study.bench import cases
from zeronet_study.bench.cases import Twin
from zeronet_study.bench.records import (
    ROUND_SECONDS,
    SCALING_WIDTHS,
    WIDTH_SERIES_BATCH,
    BenchRecord,
    BenchRow,
    Plan,
)
from zeronet_study.bench.table import targets
from zeronet_study.machine import describe
from zeronet_study.threads import limit as limit_threads

#: The report's run: every table row, two dtypes, the scaling study; each row stops once
#: its ratios are known within 3% (at least 5 rounds, 3 for an epoch or a scaling point).
FULL = Plan(rounds=15, epoch_rounds=7, scaling_rounds=7, min_rounds=5, ratio_ci=0.03)
#: A smoke run (seconds, not minutes): float64 only, small shapes, few rounds.
QUICK = Plan(rounds=3, epoch_rounds=2, sine_epochs=20, batches=(1, 1024), widths=(16, 128),
             scaling_rounds=2, round_seconds=0.002, dtypes=("float64",), large=False,
             profile_epochs=1, min_rounds=2, ratio_ci=0.03)
#: The fewest rounds of an MNIST epoch row or a scaling point (each round is long, or a
#: point of a curve); capped by the plan's own minimum.
MIN_LONG_ROUNDS = 3
#: Student's t, 97.5% quantile, for 1..30 degrees of freedom (beyond: 2.0).
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def clock(threads: int) -> Callable[[], float]:
    return time.process_time if threads == 1 else time.perf_counter


def ratio_spread(role: Sequence[float], zeronet: Sequence[float]) -> float:
    """Relative half-width of the 95% confidence interval of role / zeronet over rounds.

    The per-round ratios are paired (both timed in one round, in alternating
    order); the interval is Student's t on their logarithms, turned back into
    a ratio: exp(t * s / sqrt(n)) - 1. Infinite with fewer than 2 rounds.
    """
    logs = [math.log(r / z) for r, z in zip(role, zeronet, strict=True) if r > 0 and z > 0]
    n = len(logs)
    if n < 2:
        return math.inf
    t = T_975[n - 2] if n - 2 < len(T_975) else 2.0
    return math.expm1(t * statistics.stdev(logs) / math.sqrt(n))


def stable(times: dict[str, list[float]], ratio_ci: float) -> bool:
    """True if every role's time relative to zeronet's is known within ``ratio_ci``."""
    return all(ratio_spread(t, times["zeronet"]) < ratio_ci
               for role, t in times.items() if role != "zeronet")


def measure(twin: Twin, rounds: int, *, timer: Callable[[], float],
            round_seconds: float = ROUND_SECONDS, calls: int | None = None,
            total: bool = False, min_rounds: int | None = None,
            ratio_ci: float | None = None) -> BenchRow:
    """Check, warm up and time ``twin``; return its row of results (seconds per call).

    ``rounds`` rounds, or fewer: with ``min_rounds`` and ``ratio_ci`` the row
    stops after round ``min_rounds`` or later, once :func:`stable`.
    ``total``: also report the sum over rounds (the full sine run).
    """
    twin.verify()
    roles = twin.roles()
    for fn in roles.values():
        fn()
    if calls is None:
        start = timer()
        twin.zeronet()
        calls = max(1, round(round_seconds / max(timer() - start, 1e-7)))
    times: dict[str, list[float]] = {role: [] for role in roles}
    names = list(roles)
    done = 0
    while done < rounds:
        for role in names if done % 2 == 0 else names[::-1]:
            fn = roles[role]
            start = timer()
            for _ in range(calls):
                fn()
            times[role].append((timer() - start) / calls)
        done += 1
        if min_rounds is not None and ratio_ci is not None and done >= min_rounds \
                and stable(times, ratio_ci):
            break
    spread = None
    if ratio_ci is not None:
        spread = {role: ratio_spread(t, times["zeronet"]) for role, t in times.items()
                  if role != "zeronet"}
    return BenchRow(name=twin.name, group=twin.group, dtype=twin.dtype, rounds=done,
                    calls_per_round=calls, **twin.info,
                    median={role: statistics.median(t) for role, t in times.items()},
                    min={role: min(t) for role, t in times.items()},
                    total={role: sum(t) for role, t in times.items()} if total else None,
                    ratio_ci=spread)


def run(plan: Plan = FULL, *, threads: int = 1,
        progress: Callable[[str], None] | None = None) -> BenchRecord:
    """Every measurement of the table, the targets and the scaling study."""
    thread_info = limit_threads(threads)
    timer = clock(threads)
    say = progress or (lambda _: None)
    stop = {"min_rounds": plan.min_rounds, "ratio_ci": plan.ratio_ci}
    long_stop = {**stop, "min_rounds": None if plan.min_rounds is None
                 else min(plan.min_rounds, MIN_LONG_ROUNDS)}
    rows = []
    for dtype in plan.dtypes:
        say(f"{dtype}: single operations")
        twins = cases.op_twins(dtype, large=plan.large) + [cases.step_twin(dtype, task, opt)
                                         for task, opt in (("sine", "sgd"), ("sine", "adam"),
                                                           ("mnist", "adam"))]
        twins.append(cases.sine_epoch_twin(dtype))
        rows += [measure(t, plan.rounds, timer=timer, round_seconds=plan.round_seconds, **stop)
                 for t in twins]
        say(f"{dtype}: MNIST epoch and its floors; the natural loop")
        rows.append(measure(cases.mnist_epoch_twin(dtype), plan.epoch_rounds, timer=timer,
                            calls=1, **long_stop))
        rows.append(measure(cases.natural_loop_twin(dtype), plan.epoch_rounds, timer=timer,
                            calls=1, **long_stop))
        say(f"{dtype}: full sine run, {plan.sine_epochs} epochs")
        rows.append(measure(cases.sine_run_twin(dtype, plan.sine_epochs), plan.sine_epochs,
                            timer=timer, calls=1, total=True))
    say("profile of the zeronet MNIST epoch")
    profiles = {dtype: epoch_profile(dtype, epochs=plan.profile_epochs, timer=timer)
                for dtype in plan.dtypes}
    scaling = []
    for dtype in plan.dtypes:
        say(f"{dtype}: scaling")
        points = [{"batch": b, "width": SCALING_WIDTHS[0]} for b in plan.batches]
        points += [{"batch": WIDTH_SERIES_BATCH, "width": w} for w in plan.widths
                   if {"batch": WIDTH_SERIES_BATCH, "width": w} not in points]
        scaling += [measure(cases.scaling_twin(dtype, **point), plan.scaling_rounds, timer=timer,
                            round_seconds=plan.round_seconds, **long_stop) for point in points]
    return BenchRecord(plan=plan, threads=threads, thread_info=thread_info,
                       timer=f"time.{timer.__name__}", machine=describe(threads), rows=rows,
                       scaling=scaling, mnist_epoch_profile=profiles, targets=targets(rows))


def epoch_profile(dtype: str, *, epochs: int = 3,
                  timer: Callable[[], float] = time.process_time) -> dict[str, float]:
    """Where a zeronet MNIST epoch spends its time: seconds per step in each stage.

    The seed's MNIST step, its stages timed one by one over ``epochs``
    epochs (after one warm-up epoch): the batch gather, each layer's forward
    and backward, the loss and its gradient, zero_grad and the optimizer
    step. The timer calls add a little to each stage; the profile tells
    where the time goes, the table how much there is.
    """
    x, y, _ = cases.mnist_data(dtype)
    net = cases.build_net(cases.MNIST_SIZES, dtype, "adam", 1e-3)
    layers = net.model.layers
    stages: dict[str, float] = {}
    steps = 0
    for epoch in range(epochs + 1):
        batches = iter(cases.epoch_loaders(x, y, cases.MNIST_BATCH))
        while True:
            times = [timer()]
            try:
                xb, yb = next(batches)
            except StopIteration:
                break
            times.append(timer())
            net.opt.zero_grad()
            times.append(timer())
            h = xb
            for layer in layers:
                h = layer.forward(h)
                times.append(timer())
            net.loss_fn(h, yb)
            times.append(timer())
            g = net.loss_fn.backward()
            times.append(timer())
            for i in range(len(layers) - 1, -1, -1):
                g = layers[i].backward(g, input_grad=i > 0)  # as Sequential.backward
                times.append(timer())
            net.opt.step()
            times.append(timer())
            if epoch == 0:
                continue
            steps += 1
            names = (["gather batch", "zero_grad"]
                     + [f"forward {i} {type(layer).__name__}" for i, layer in enumerate(layers)]
                     + ["loss", "loss gradient"]
                     + [f"backward {i} {type(layers[i]).__name__}"
                        for i in range(len(layers) - 1, -1, -1)]
                     + ["optimizer step"])
            for name, start, end in zip(names, times[:-1], times[1:], strict=True):
                stages[name] = stages.get(name, 0.0) + end - start
    return {name: total / steps for name, total in stages.items()}


