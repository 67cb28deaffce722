"""The benchmark table and its speed targets: as text (``zeronet bench``) and Markdown (the report).

Every ratio is computed here from the rows' times, so the text table, the
Markdown table and the targets read the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from zeronet_study.bench.records import BenchRecord, BenchRow, Target

#: Targets of issues 4 and 13, each a ratio of medians from one run.
TARGETS = {
    "mnist_floor": 1.15,  # MNIST epoch: zeronet / floor at most this, float64 and float32
    "sine_run_speedup": 10.0,  # full sine Adam run: torch / zeronet at least this
    "float32_speedup": 1.5,  # MNIST epoch: zeronet float64 / zeronet float32 at least this
    "mnist_wide_floor": 1.3,  # MNIST epoch: zeronet / its 784-wide products at most this
    "sine_floor": 1.25,  # sine epoch (10 steps): zeronet / straight-line NumPy at most this
    "natural_loop": 1.03,  # MNIST epoch: the natural loop / the tuned loop at most this
}
#: The sine epoch's floor with zeronet's checks (shown as that floor / the floor).
CHECKED = "straight-line with zeronet's checks"
#: The role the natural loop's row is compared with.
TUNED = "tuned loop"
WIDE = "floor (784-wide products)"


def speedup(row: BenchRow) -> float:
    """torch / zeronet of the medians: how many times faster zeronet is (below 1: slower)."""
    return row.median["torch"] / row.median["zeronet"]


def _row(rows: Sequence[BenchRow], group: str, dtype: str, name_start: str = "", *,
         natural: bool = False) -> BenchRow | None:
    """The first row of ``group`` and ``dtype`` named so; the natural loop's only if asked."""
    return next((r for r in rows if r.group == group and r.dtype == dtype
                 and r.name.startswith(name_start) and (TUNED in r.median) == natural), None)


def _at_most(name: str, ratio: float, limit: float) -> Target:
    return Target(f"{name} <= {limit}", ratio, ratio <= limit)


def targets(rows: Sequence[BenchRow]) -> list[Target]:
    """Each target of issues 4 and 13 with its measured ratio and whether it is met.

    Issue 13's targets are evaluated for the rows that record them (its
    natural-loop row; the 784-wide floor and the sine floor in a run that
    has that row), so an older record keeps the targets it was judged by.
    """
    found = []
    for dtype in ("float64", "float32"):
        epoch = _row(rows, "epoch", dtype, "MNIST")
        if epoch:
            times = epoch.median
            floor_ratio = times["zeronet"] / times["floor"]
            found.append(Target(
                f"MNIST epoch, {dtype}: zeronet / floor <= {TARGETS['mnist_floor']}",
                floor_ratio, floor_ratio <= TARGETS["mnist_floor"],
                {"zeronet / floor (784-wide products)":
                 times["zeronet"] / times["floor (784-wide products)"],
                 "torch / zeronet": speedup(epoch)}))
    for dtype in ("float64", "float32"):
        run_row = _row(rows, "run", dtype)
        if run_row:
            ratio = run_row.times["torch"] / run_row.times["zeronet"]
            found.append(Target(f"full sine Adam run, {dtype}: torch / zeronet >= "
                                f"{TARGETS['sine_run_speedup']}",
                                ratio, ratio >= TARGETS["sine_run_speedup"]))
    f64 = _row(rows, "epoch", "float64", "MNIST")
    f32 = _row(rows, "epoch", "float32", "MNIST")
    if f64 and f32:
        ratio = f64.median["zeronet"] / f32.median["zeronet"]
        found.append(Target(f"MNIST epoch: zeronet float64 / float32 >= "
                            f"{TARGETS['float32_speedup']}",
                            ratio, ratio >= TARGETS["float32_speedup"]))
    if not any(TUNED in r.median for r in rows):
        return found
    for dtype in ("float64", "float32"):  # issue 13
        natural, epoch = _row(rows, "epoch", dtype, "MNIST", natural=True), \
            _row(rows, "epoch", dtype, "MNIST")
        sine = _row(rows, "epoch", dtype, "sine epoch")
        if natural:
            found.append(_at_most(f"MNIST epoch, {dtype}: natural loop / tuned loop",
                                  natural.median["zeronet"] / natural.median[TUNED],
                                  TARGETS["natural_loop"]))
        if epoch:
            found.append(_at_most(f"MNIST epoch, {dtype}: zeronet / 784-wide products",
                                  epoch.median["zeronet"] / epoch.median[WIDE],
                                  TARGETS["mnist_wide_floor"]))
        if sine and "floor" in sine.median:
            also = ({"straight-line with zeronet's checks / straight-line NumPy":
                     sine.median[CHECKED] / sine.median["floor"]} if CHECKED in sine.median
                    else None)
            found.append(_at_most(f"sine epoch, {dtype}: zeronet / straight-line NumPy",
                                  sine.median["zeronet"] / sine.median["floor"],
                                  TARGETS["sine_floor"]))
            found[-1].also = also
    return found


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def table(rows: Sequence[BenchRow]) -> list[list[str]]:
    """Header and rows: operation, dtype, zeronet, PyTorch, torch / zeronet, zeronet / floor."""
    out = [["operation", "dtype", "zeronet", "PyTorch", "PyTorch / zeronet", "zeronet / floor"]]
    for r in rows:
        times = r.times
        floor = ""
        if "floor" in times:
            floor = f"{times['zeronet'] / times['floor']:.2f}"
        if WIDE in times:
            narrow = times["zeronet"] / times[WIDE]
            floor += f" (784-wide products only: {narrow:.2f})"
        if CHECKED in times:
            checked = times[CHECKED] / times["floor"]
            floor += f" (straight-line with zeronet's checks: {checked:.2f})"
        if TUNED in times:
            floor = f"{times['zeronet'] / times[TUNED]:.2f} x the tuned loop"
        torch_cells = ["-", "-"]
        if "torch" in times:
            torch_cells = [format_seconds(times["torch"]),
                           f"{times['torch'] / times['zeronet']:.2f}"]
        out.append([r.name, r.dtype, format_seconds(times["zeronet"]), *torch_cells, floor])
    return out


def markdown(rows: Sequence[BenchRow], found: Sequence[Target] | None = None) -> str:
    """The table and the targets (``found``, by default evaluated from ``rows``), in Markdown.

    The report passes the targets its record holds: they were evaluated
    from these rows when measured, by the targets of that time.
    """
    cells = table(rows)
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t.target} | {t.measured:.2f} | {'yes' if t.met else '**no**'} |"
              for t in (targets(rows) if found is None else found)]
    return "\n".join(lines) + "\n"


def table_text(rows: Sequence[BenchRow]) -> str:
    """The table as aligned plain text, then each target with its measured ratio."""
    cells = table(rows)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in cells]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("")
    lines += [f"{'met   ' if t.met else 'MISSED'}  {t.target}: {t.measured:.2f}"
              for t in targets(rows)]
    return "\n".join(lines) + "\n"


def text(results: BenchRecord) -> str:
    """What ``zeronet bench`` prints: the table, the targets and the machine."""
    m = results.machine
    machine = "" if m is None else (f"{m.cpu_model}, {results.threads} thread(s) per framework, "
                                    f"{results.timer}; numpy {m.versions['numpy']}, "
                                    f"torch {m.versions['torch']}\n")
    return table_text(results.rows) + "\n" + machine
