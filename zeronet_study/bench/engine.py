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
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

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

#: The report's run: every table row, two dtypes, the scaling study (about 5 minutes).
FULL = Plan()
#: A smoke run (seconds, not minutes): float64 only, small shapes, few rounds.
QUICK = Plan(rounds=3, epoch_rounds=2, sine_epochs=20, batches=(1, 1024), widths=(16, 128),
             scaling_rounds=2, round_seconds=0.002, dtypes=("float64",), large=False,
             profile_epochs=1)


def clock(threads: int) -> Callable[[], float]:
    return time.process_time if threads == 1 else time.perf_counter


def measure(twin: Twin, rounds: int, *, timer: Callable[[], float],
            round_seconds: float = ROUND_SECONDS, calls: int | None = None,
            total: bool = False) -> BenchRow:
    """Check, warm up and time ``twin``; return its row of results (seconds per call).

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
    for r in range(rounds):
        for role in names if r % 2 == 0 else names[::-1]:
            fn = roles[role]
            start = timer()
            for _ in range(calls):
                fn()
            times[role].append((timer() - start) / calls)
    return BenchRow(name=twin.name, group=twin.group, dtype=twin.dtype, rounds=rounds,
                    calls_per_round=calls, **twin.info,
                    median={role: statistics.median(t) for role, t in times.items()},
                    min={role: min(t) for role, t in times.items()},
                    total={role: sum(t) for role, t in times.items()} if total else None)


def run(plan: Plan = FULL, *, threads: int = 1,
        progress: Callable[[str], None] | None = None) -> BenchRecord:
    """Every measurement of the table, the targets and the scaling study."""
    thread_info = limit_threads(threads)
    timer = clock(threads)
    say = progress or (lambda _: None)
    rows = []
    for dtype in plan.dtypes:
        say(f"{dtype}: single operations")
        twins = cases.op_twins(dtype, large=plan.large) + [cases.step_twin(dtype, task, opt)
                                         for task, opt in (("sine", "sgd"), ("sine", "adam"),
                                                           ("mnist", "adam"))]
        twins.append(cases.sine_epoch_twin(dtype))
        rows += [measure(t, plan.rounds, timer=timer, round_seconds=plan.round_seconds)
                 for t in twins]
        say(f"{dtype}: MNIST epoch and its floors")
        rows.append(measure(cases.mnist_epoch_twin(dtype), plan.epoch_rounds, timer=timer,
                            calls=1))
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
                            round_seconds=plan.round_seconds) for point in points]
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
                g = layers[i].backward(g, input_grad=i > 0)
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


