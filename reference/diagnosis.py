"""From "these tensors differ" to "this is the bug": the findings of one comparison.

A finding is named only when a known buggy variant reproduces the user's
numbers to the comparison's tolerance; anything else is a ``mismatch`` that
says where the first wrong tensor is and what the tensors after it show.

Two kinds of explanation are tried, alone and together:

* a **variant** of the whole computation (torch's numbers with one formula
  swapped, e.g. softmax - y/N for the cross-entropy gradient), which must
  reproduce every tensor at once;
* a **constant ratio** per tensor against torch's (or the variant's) values:
  1/N (``extra-1/N``), N (``missing-1/N``), -1 (``sign``), any other constant
  (``factor``), or the transpose (``transposed``).

A ratio is fitted by least squares, c = <a, e> / <e, e>, and accepted only if
a = c e holds element-wise at the tolerance; an arbitrary c also needs at
least two non-zero elements (one number always has "a ratio"), while the
named ratios 1/N, N and -1 may explain a scalar such as the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reference.report import Finding
from reference.tolerance import close_scaled, errors, largest, tensor_scale

__all__ = ["Tensor", "Variant", "diagnose", "exp_can_fail", "finite_findings", "in_report_order",
           "mutation_findings"]


@dataclass(frozen=True)
class Tensor:
    """One compared tensor, both sides in torch's shape and orientation.

    ``role`` says what it is ("output", "loss", "grad", "grad_x", "grad_output",
    "param", "state"); ``layer`` where to look for it ("layer 2 (W3, b3)");
    ``other_layout`` that it came back in the transposed shape (and was
    transposed back); ``ratio`` whether a constant-ratio explanation applies.
    """

    name: str
    actual: np.ndarray
    expected: np.ndarray
    role: str
    layer: str = ""
    other_layout: bool = False
    ratio: bool = True


@dataclass(frozen=True)
class Variant:
    """A known bug, as the values it would give each tensor (by name) and its message."""

    kind: str
    values: dict[str, np.ndarray]
    message: str


@dataclass(frozen=True)
class _Explained:
    kind: str          # "ok", a finding kind, or "" for unexplained
    ratio: float = 1.0


_OK = _Explained("ok")
_UNEXPLAINED = _Explained("")


class _Context:
    """The tolerance and the sizes the ratio names refer to."""

    def __init__(self, rtol: float, atol: float, n: int, d: int | None) -> None:
        self.rtol, self.atol, self.n, self.d = rtol, atol, n, d

    def close(self, actual: np.ndarray, expected: np.ndarray) -> bool:
        return actual.shape == expected.shape and bool(
            close_scaled(actual, expected, self.rtol, self.atol).all())

    def named_ratios(self) -> list[tuple[str, float]]:
        named = [("sign", -1.0)]
        if self.n > 1:
            named = [("extra-1/N", 1.0 / self.n), ("missing-1/N", float(self.n)), *named]
        return named

    def usual_factors(self) -> list[tuple[float, str]]:
        """(ratio, why it arises) for the constant factors learners' code usually has."""
        n, d = self.n, self.d
        hints = [(0.5, "0.5 is a missing 2 in the squared error's derivative, "
                       "d(z - y)^2/dz = 2 (z - y) (compare seed eq. 1-25 with fig. 1-10)"),
                 (2.0, "2 is an extra 2, e.g. the derivative of (z - y)^2 taken for a loss "
                       "of 0.5 (z - y)^2")]
        if d is not None and d > 1:
            hints += [(float(n * d), f"N*D = {n * d} is a sum over all elements where torch's "
                                     "loss averages over them"),
                      (n * d / 2, f"N*D/2 = {n * d / 2:g} is the derivative of 0.5*sum (seed "
                                  "eq. 1-5) where torch's loss is the mean"),
                      (float(d), f"D = {d} is a mean over the N samples only where torch's "
                                 "MSELoss averages over all N*D elements"),
                      (1.0 / d, f"1/D = 1/{d} is an extra division by the number of outputs")]
        elif n > 1:
            hints += [(n / 2, f"N/2 = {n / 2:g} is the derivative of 0.5*sum (seed eq. 1-5) "
                              "where torch's loss is the mean")]
        return hints

    def snapped(self, c: float) -> tuple[float, str]:
        """``c``, or the usual factor it equals to 1e-5, and why that factor arises."""
        for value, hint in self.usual_factors():
            if abs(c - value) <= 1e-5 * abs(value):
                return value, f"; {hint}"
        return c, ""


def _ratio(t: Tensor, base: np.ndarray, ctx: _Context) -> _Explained | None:
    """The constant-ratio explanation of ``t`` against ``base``, if one holds."""
    a = t.actual.astype(np.float64)
    e = base.astype(np.float64)
    if a.shape != e.shape or not (np.isfinite(a).all() and np.isfinite(e).all()):
        return None
    for kind, value in ctx.named_ratios():
        if close_scaled(a, value * e, ctx.rtol, ctx.atol).all():
            return _Explained(kind, value)
    informative = int(np.count_nonzero(np.abs(e) > ctx.atol * tensor_scale(e)))
    if informative < 2:  # one number always has "a ratio": only a usual factor explains it
        for value, _ in ctx.usual_factors():
            if close_scaled(a, value * e, ctx.rtol, ctx.atol).all():
                return _Explained("factor", value)
        return None
    c = float(np.vdot(a, e) / np.vdot(e, e))
    if not np.isfinite(c) or c == 0 or abs(c - 1) < 1e-9:
        return None
    if close_scaled(a, c * e, ctx.rtol, ctx.atol).all():
        return _Explained("factor", ctx.snapped(c)[0])
    return None


def _explain(t: Tensor, base: np.ndarray, ctx: _Context) -> _Explained:
    if ctx.close(t.actual, base):
        return _Explained("transposed") if t.other_layout else _OK
    if t.other_layout:
        return _UNEXPLAINED
    if t.actual.ndim == 2 and t.actual.shape[0] == t.actual.shape[1] > 1 \
            and t.role in ("grad", "param", "state") and ctx.close(t.actual.T, base):
        return _Explained("transposed")
    if t.ratio:
        found = _ratio(t, base, ctx)
        if found is not None:
            return found
    return _UNEXPLAINED


def _names(tensors: Sequence[Tensor]) -> str:
    names = [t.name for t in tensors]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _ratio_message(kind: str, c: float, group: list[Tensor], ctx: _Context, beyond: str) -> str:
    subject = f"{_names(group)} {'is' if len(group) == 1 else 'are each'}"
    theirs = f"what the {beyond} bug alone gives" if beyond else "torch's"
    if kind == "extra-1/N":
        return (f"{subject} exactly 1/N of {theirs} (N = {ctx.n}): the gradient was divided by "
                f"the batch size again after the loss had already averaged over it (seed "
                f"fig. 1-4); remove that extra / N.")
    if kind == "missing-1/N":
        return (f"{subject} N = {ctx.n} times {theirs}: a sum over the batch where torch's loss "
                f"averages (or a gradient missing the loss's 1/N); divide by N, or compare "
                f"against torch's loss with reduction='sum'.")
    if kind == "sign":
        return (f"{subject} exactly -1 times {theirs}: the code hands back delta = -dE/dh "
                f"(seed eq. 1-7) where the gradient dE/dh is expected, or adds the step instead "
                f"of subtracting it; flip the sign.")
    if kind == "transposed":
        how = ("came back in the transposed shape" if all(t.other_layout for t in group)
               else "equal torch's values transposed")
        return (f"{subject} torch's {'value' if group[0].role == 'param' else 'gradient'} "
                f"transposed ({how}): it is in the other weight layout; pass the layout your "
                f"code uses (layout='in_out' for W as (in, out)), or transpose it.")
    return f"{subject} {c:.6g} times {theirs}, a constant factor{ctx.snapped(c)[1]}."


def _where_wrong(t: Tensor) -> str:
    a, e = t.actual, t.expected
    if a.shape != e.shape:
        return f" (shape {a.shape}, torch's {e.shape})"
    bad = ~np.isfinite(a) & np.isfinite(e)
    if bad.any():
        return f" ({int(bad.sum())} NaN/inf entries where torch's are finite)"
    return f" (max rel err {largest(errors(a, e)[1]):.3g})"


def _mismatch(tensors: Sequence[Tensor], index: int, status: dict[str, _Explained]) -> str:
    t = tensors[index]
    after = tensors[index + 1:]
    wrong_after = [u for u in after if status[u.name] is not _OK]
    what = f"{t.name} differs from torch's{_where_wrong(t)}"
    if t.role == "output":
        return (f"{what}: the forward pass is wrong, and everything computed from it differs "
                f"too; look at the forward of each layer first.")
    if t.role == "loss":
        return f"{what} while the output agrees: look at the loss function's forward."
    if t.role == "grad_output":
        return f"{what} while the loss agrees: look at the loss's backward (dL/doutput)."
    if t.role in ("grad", "grad_x"):
        look = t.layer or "the layer"
        if not wrong_after:
            if t.role == "grad_x":
                return (f"{what} while every parameter gradient agrees: look at the gradient "
                        f"that {look} passes back (dL/dx = G W).")
            return (f"{what} while every other tensor agrees: look at how {look} computes this "
                    f"gradient in its backward.")
        first_grad = all(u.role not in ("grad", "grad_x") for u in tensors[:index])
        if first_grad:
            return (f"{what}, and so are {len(wrong_after)} of the {len(after)} tensors after it "
                    f"in backward order, while the loss agrees: the gradient of the loss "
                    f"(dL/doutput) or the backward of {look} is wrong.")
        return (f"{what}; the tensors before it in backward order agree and {len(wrong_after)} "
                f"of the {len(after)} after it differ too: the error enters in the backward of "
                f"{look}.")
    return f"{what}."


def _findings_for(tensors: Sequence[Tensor], explained: dict[str, _Explained],
                  ctx: _Context, beyond: str) -> list[Finding]:
    """Ratio/transposed findings (grouped when consecutive) and a mismatch for the rest."""
    findings: list[Finding] = []
    group: list[Tensor] = []
    key: tuple[str, float] | None = None

    def flush() -> None:
        if group and key is not None:
            findings.append(Finding(key[0], group[0].name,
                                    _ratio_message(key[0], key[1], group, ctx, beyond)))

    for t in tensors:
        e = explained[t.name]
        if e.kind in ("ok", ""):
            continue
        k = (e.kind, round(e.ratio, 9))
        if k != key:
            flush()
            group, key = [], k
        group.append(t)
    flush()
    unexplained = [i for i, t in enumerate(tensors) if explained[t.name] is _UNEXPLAINED]
    if unexplained:
        i = unexplained[0]
        findings.append(Finding("mismatch", tensors[i].name, _mismatch(tensors, i, explained)))
    return findings


def diagnose(tensors: Sequence[Tensor], *, rtol: float, atol: float, n: int,
             d: int | None = None, variants: Sequence[Variant] = ()) -> list[Finding]:
    """The findings that explain which of ``tensors`` differ (none if all agree).

    ``tensors`` are in backward order; ``n`` is the batch size (for 1/N),
    ``d`` the number of outputs (for the MSE ratios). A variant is chosen
    only if, with per-tensor ratios on top, it explains every tensor; among
    complete explanations the one with the fewest findings wins, torch's own
    numbers (no variant) first on a tie.
    """
    ctx = _Context(rtol, atol, n, d)
    findings: list[Finding] = []
    for t in tensors:
        if t.actual.dtype != t.expected.dtype:
            findings.append(Finding("mismatch", t.name, (
                f"{t.name} has dtype {t.actual.dtype} where torch's is {t.expected.dtype}: "
                f"the code does not keep the model's dtype (a {t.actual.dtype} array or "
                f"constant enters the computation).")))
    status = {t.name: _explain(t, t.expected, ctx) for t in tensors}
    if all(s is _OK for s in status.values()):
        return findings
    if status[tensors[0].name] is _UNEXPLAINED and tensors[0].role == "output":
        return [*findings, Finding("mismatch", tensors[0].name, _mismatch(tensors, 0, status))]

    best: tuple[int, list[Finding]] | None = None
    correct_complete = all(s is not _UNEXPLAINED for s in status.values())
    if correct_complete:
        best = (len(_findings_for(tensors, status, ctx, "")), _findings_for(tensors, status,
                                                                             ctx, ""))
    for variant in variants:
        base = {t.name: variant.values.get(t.name, t.expected) for t in tensors}
        vstatus = {t.name: _explain(t, base[t.name], ctx) for t in tensors}
        if any(s is _UNEXPLAINED for s in vstatus.values()):
            continue
        first = next(t.name for t in tensors if status[t.name] is not _OK)
        extra = _findings_for(tensors, vstatus, ctx, variant.kind)
        same = [f for f in extra if f.kind == variant.kind]  # e.g. the loss scaled as well
        message = variant.message + "".join(f" Also: {f.message}" for f in same)
        chosen = [Finding(variant.kind, first, message),
                  *(f for f in extra if f.kind != variant.kind)]
        if best is None or len(chosen) < best[0]:
            best = (len(chosen), chosen)
    if best is None:
        best = (0, _findings_for(tensors, status, ctx, ""))
    return findings + best[1]


def mutation_findings(changed: Sequence[tuple[str, int, int]], kind: str,
                      call: str) -> list[Finding]:
    """``input-mutated`` / ``grad-mutated`` findings for arrays the user's code changed."""
    out = []
    for name, count, size in changed:
        if kind == "grad-mutated":
            message = (f"{call} changed the incoming gradient {name} ({count} of {size} elements "
                       f"differ after the call): in-place masking (seed fig. 1-8); return "
                       f"grad * mask as a new array and leave the caller's alone.")
        else:
            message = (f"{call} changed its input {name} ({count} of {size} elements differ "
                       f"after the call): in-place arithmetic on the input; work on a copy.")
        out.append(Finding(kind, name, message))
    return out


def exp_can_fail(logits: np.ndarray) -> bool:
    """Whether a raw ``exp`` of these logits overflows, or a softmax of them underflows to 0.

    exp overflows above log(max) (~709.8 in float64, ~88.7 in float32); a
    probability underflows to 0, and its log to -inf, once a logit lies more
    than -log(smallest subnormal) (~744 / ~103) below its row's largest.
    """
    if logits.ndim != 2 or not logits.size or logits.dtype.kind != "f":
        return False
    info = np.finfo(logits.dtype)
    spread = float(np.max(logits.max(axis=1) - logits.min(axis=1)))
    return float(logits.max()) > np.log(info.max) or spread > -np.log(info.smallest_subnormal)


def finite_findings(tensors: Sequence[Tensor], *, overflow: bool,
                    where: str) -> list[Finding]:
    """Findings for tensors that are NaN/inf where torch's are finite (finiteness-only checks).

    With ``overflow`` (a cross-entropy on large logits) the first one is a
    ``softmax-overflow``, else a ``mismatch`` naming where it first appears.
    """
    for t in tensors:
        bad = ~np.isfinite(t.actual.astype(np.float64)) & np.isfinite(t.expected)
        if t.actual.shape == t.expected.shape and bad.any():
            short = t.name.rpartition(": ")[2]
            if overflow:
                return [Finding("softmax-overflow", t.name, (
                    f"at logits this large ({where}) {short} has {int(bad.sum())} NaN/inf "
                    f"entries where torch's are finite: the softmax exponentiates the raw "
                    f"logits (seed figs. 1-9, 1-11), or the loss takes the log of an underflowed "
                    f"softmax; subtract each row's max before exp, or use log-sum-exp."))]
            return [Finding("mismatch", t.name, (
                f"NaN/inf first appears in {short} ({int(bad.sum())} entries, {where}) where "
                f"torch's values are finite."))]
    return []


def in_report_order(mutated: Sequence[Finding],
                    per_batch: Sequence[Sequence[Finding]]) -> list[Finding]:
    """Mutations first, then the user's batch's findings, then each probe's new ones.

    A probe exists to show what the user's batch cannot, so a probe's finding
    of a kind already found is left out; so is a mutation already reported
    for the same input on an earlier batch.
    """
    ordered: list[Finding] = []
    seen_inputs: set[tuple[str, str]] = set()
    for f in mutated:
        key = (f.kind, f.tensor.rpartition(": ")[2])
        if key not in seen_inputs:
            seen_inputs.add(key)
            ordered.append(f)
    kinds: set[str] = set()
    for findings in per_batch:
        ordered += [f for f in findings if f.kind not in kinds]
        kinds |= {f.kind for f in findings}
    return ordered
