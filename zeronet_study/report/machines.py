"""How much the machine moves the report's numbers: this run beside the report it replaces.

Some numbers depend on the machine (report section 3.2): times and speed
ratios, the whole-run float64 parity (the BLAS kernels' summation order) and
the last digits of the losses. One machine cannot measure by how much, so
``zeronet report`` compares itself with the previous report in its output
folder, which is usually the committed one, made elsewhere: :func:`compare`
puts both machines and the numbers that can move side by side in a
:class:`Comparison`, recorded in results.json.
"""

from __future__ import annotations

import re
from pathlib import Path

from zeronet_study.machine import Machine
from zeronet_study.report.results import ComparedValue, Comparison, Results, read


def kernels(machine: Machine) -> str:
    """The CPU, its vector instructions and the kernels of both BLAS libraries, in a line."""
    capability = machine.torch_cpu_capability
    if capability is None:  # reports before it was recorded: torch's build summary says it
        found = re.search(r"CPU capability usage: (\S+)", machine.torch_config)
        capability = found.group(1) if found else "?"
    kernel = next((p.get("architecture") for p in machine.threadpools or []
                   if p.get("internal_api") == "openblas"), None)
    features = ("CPU features " + " ".join(machine.cpu_features)
                if machine.cpu_features is not None else "CPU features not recorded")
    forced = (f", forced by OPENBLAS_CORETYPE={machine.env['OPENBLAS_CORETYPE']}"
              if machine.env.get("OPENBLAS_CORETYPE") else "")
    return (f"{machine.cpu_model} ({features}); PyTorch's kernels: {capability}; "
            f"OpenBLAS kernel: {kernel or '?'}{forced}; numpy {machine.versions['numpy']}, "
            f"torch {machine.versions['torch']}")


def read_previous(path: Path) -> Results | None:
    """The report in ``path`` (results.json) before it is replaced; None if none or unreadable."""
    if not path.is_file():
        return None
    try:
        return read(path)
    except (ValueError, TypeError, KeyError):  # another schema, or a broken file: not compared
        return None


def compare(previous: Results | None, now: Results) -> Comparison | None:
    """``now`` beside ``previous`` (None if there is no previous report)."""
    if previous is None:
        return None
    if previous.generated.quick != now.generated.quick:
        reason = "one of the two is a --quick run"
    elif previous.generated.threads != now.generated.threads:
        reason = "they ran with different thread counts"
    else:
        reason = ""
    values = [] if reason else _values(previous, now)
    return Comparison(previous_utc=previous.generated.utc,
                      previous_machine=kernels(previous.machine), machine=kernels(now.machine),
                      not_comparable=reason, values=values)


def _values(previous: Results, now: Results) -> list[ComparedValue]:
    values = [ComparedValue(label="whole report, seconds", kind="time",
                            previous=previous.generated.duration_s,
                            now=now.generated.duration_s)]
    for name, run in now.runs.items():
        before = previous.runs.get(name)
        if before is None:
            continue
        values.append(ComparedValue(
            label=f"`{name}`: final max |Δw|, zeronet vs PyTorch (section 2)", kind="sci",
            previous=before.parity.final_weight_diff, now=run.parity.final_weight_diff))
        values.append(ComparedValue(
            label=f"`{name}`: final test loss, zeronet", kind="loss",
            previous=before.frameworks["zeronet"].final.test_loss,
            now=run.frameworks["zeronet"].final.test_loss))
    if previous.bench is not None and now.bench is not None:
        earlier = {t.target: t for t in previous.bench.targets}
        for target in now.bench.targets:
            if (before := earlier.get(target.target)) is not None:
                values.append(ComparedValue(label=f"{target.target} (measured)", kind="ratio",
                                            previous=before.measured, now=target.measured))
                values.append(ComparedValue(label=f"{target.target}: met", kind="bool",
                                            previous=before.met, now=target.met))
    return values
