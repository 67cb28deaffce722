"""``zeronet bench``: time every twin of experiments/bench_cases.py; print the table and targets.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from experiments import bench_cases as cases
from experiments.bench_cases import Twin

ROUND_SECONDS = 0.02
#: The batch size of the scaling study's width series (one of the batch series' sizes).
WIDTH_SERIES_BATCH = 1024
#: Targets of issue 4, each a ratio of medians from one run.
TARGETS = {
    "mnist_floor": 1.15,  # MNIST epoch: zeronet / floor at most this, float64 and float32
    "sine_run_speedup": 10.0,  # full sine Adam run: torch / zeronet at least this
    "float32_speedup": 1.5,  # MNIST epoch: zeronet float64 / zeronet float32 at least this
}


@dataclass(frozen=True)
class Plan:
    """How much to measure: the default run, or a quick smoke run (not a result)."""

    rounds: int = 15
    epoch_rounds: int = 7
    sine_epochs: int = 2000
    batches: Sequence[int] = cases.SCALING_BATCHES
    widths: Sequence[int] = cases.SCALING_WIDTHS
    scaling_rounds: int = 5
    round_seconds: float = ROUND_SECONDS
    dtypes: Sequence[str] = ("float64", "float32")
    large: bool = True  # the operations on 4096-row arrays
    profile_epochs: int = 3  # epochs of the MNIST stage profile


#: A smoke run (seconds, not minutes): float64 only, small shapes, few rounds.
QUICK = Plan(rounds=3, epoch_rounds=2, sine_epochs=20, batches=(1, 1024), widths=(16, 128),
             scaling_rounds=2, round_seconds=0.002, dtypes=("float64",), large=False,
             profile_epochs=1)


def clock(threads: int) -> Callable[[], float]:
    return time.process_time if threads == 1 else time.perf_counter


def measure(twin: Twin, rounds: int, *, timer: Callable[[], float],
            round_seconds: float = ROUND_SECONDS, calls: int | None = None,
            total: bool = False) -> dict[str, Any]:
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
    row: dict[str, Any] = {"name": twin.name, "group": twin.group, "dtype": twin.dtype,
                           "rounds": rounds, "calls_per_round": calls, **twin.info,
                           "median": {role: statistics.median(t) for role, t in times.items()},
                           "min": {role: min(t) for role, t in times.items()}}
    if total:
        row["total"] = {role: sum(t) for role, t in times.items()}
    return row


def speedup(row: dict[str, Any], key: str = "median") -> float:
    """torch / zeronet: how many times faster zeronet is (below 1: slower)."""
    return row[key]["torch"] / row[key]["zeronet"]


def run(plan: Plan = Plan(), *, threads: int = 1,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every measurement of the table, the targets and the scaling study, as one dict."""
    from experiments.machine import describe
    from experiments.report import configure_threads

    thread_info = configure_threads(threads)
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
        points = [{"batch": b, "width": cases.SCALING_WIDTHS[0]} for b in plan.batches]
        points += [{"batch": WIDTH_SERIES_BATCH, "width": w} for w in plan.widths
                   if {"batch": WIDTH_SERIES_BATCH, "width": w} not in points]
        scaling += [measure(cases.scaling_twin(dtype, **point), plan.scaling_rounds, timer=timer,
                            round_seconds=plan.round_seconds) for point in points]
    return {"plan": plan.__dict__ | {"batches": list(plan.batches), "widths": list(plan.widths),
                                     "dtypes": list(plan.dtypes)},
            "threads": threads, "thread_info": thread_info, "timer": f"time.{timer.__name__}",
            "machine": describe(threads), "rows": rows, "scaling": scaling,
            "mnist_epoch_profile": profiles,
            "targets": targets(rows)}


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


def _row(rows: list[dict[str, Any]], group: str, dtype: str,
         name_start: str = "") -> dict[str, Any] | None:
    return next((r for r in rows if r["group"] == group and r["dtype"] == dtype
                 and r["name"].startswith(name_start)), None)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of issue 4 with its measured ratio and whether it is met."""
    found = []
    for dtype in ("float64", "float32"):
        epoch = _row(rows, "epoch", dtype, "MNIST")
        if epoch:
            times = epoch["median"]
            floor_ratio = times["zeronet"] / times["floor"]
            found.append({"target": f"MNIST epoch, {dtype}: zeronet / floor <= "
                                    f"{TARGETS['mnist_floor']}",
                          "measured": floor_ratio, "met": floor_ratio <= TARGETS["mnist_floor"],
                          "also": {"zeronet / floor (784-wide products)":
                                   times["zeronet"] / times["floor (784-wide products)"],
                                   "torch / zeronet": speedup(epoch)}})
    for dtype in ("float64", "float32"):
        run_row = _row(rows, "run", dtype)
        if run_row:
            ratio = run_row["total"]["torch"] / run_row["total"]["zeronet"]
            found.append({"target": f"full sine Adam run, {dtype}: torch / zeronet >= "
                                    f"{TARGETS['sine_run_speedup']}",
                          "measured": ratio, "met": ratio >= TARGETS["sine_run_speedup"]})
    f64, f32 = _row(rows, "epoch", "float64", "MNIST"), _row(rows, "epoch", "float32", "MNIST")
    if f64 and f32:
        ratio = f64["median"]["zeronet"] / f32["median"]["zeronet"]
        found.append({"target": f"MNIST epoch: zeronet float64 / float32 >= "
                                f"{TARGETS['float32_speedup']}",
                      "measured": ratio, "met": ratio >= TARGETS["float32_speedup"]})
    return found


# ------------------------------------------------------------------ output

def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def table(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Header and rows: operation, dtype, zeronet, PyTorch, torch / zeronet, zeronet / floor."""
    out = [["operation", "dtype", "zeronet", "PyTorch", "PyTorch / zeronet", "zeronet / floor"]]
    for r in rows:
        times = r["total"] if "total" in r else r["median"]
        floor = ""
        if "floor" in times:
            floor = f"{times['zeronet'] / times['floor']:.2f}"
        if "floor (784-wide products)" in times:
            narrow = times["zeronet"] / times["floor (784-wide products)"]
            floor += f" (784-wide products only: {narrow:.2f})"
        out.append([r["name"], r["dtype"], format_seconds(times["zeronet"]),
                    format_seconds(times["torch"]), f"{times['torch'] / times['zeronet']:.2f}",
                    floor])
    return out


def markdown(results: dict[str, Any]) -> str:
    """The table and the targets, in Markdown."""
    rows = table(results["rows"])
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']:.2f} | {'yes' if t['met'] else '**no**'} |"
              for t in targets(results["rows"])]
    return "\n".join(lines) + "\n"


def table_text(rows: list[dict[str, Any]]) -> str:
    """The table as aligned plain text, then each target with its measured ratio."""
    cells = table(rows)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in cells]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("")
    lines += [f"{'met   ' if t['met'] else 'MISSED'}  {t['target']}: {t['measured']:.2f}"
              for t in targets(rows)]
    return "\n".join(lines) + "\n"


def text(results: dict[str, Any]) -> str:
    """What ``zeronet bench`` prints: the table, the targets and the machine."""
    m = results["machine"]
    return (table_text(results["rows"])
            + f"\n{m['cpu_model']}, {results['threads']} thread(s) per framework, "
              f"{results['timer']}; numpy {m['versions']['numpy']}, "
              f"torch {m['versions']['torch']}\n")
