r"""compare_init: an initialisation judged by the distribution of the weights it draws.

torch's initialiser is run on an empty tensor while ``Tensor.uniform_`` /
``normal_`` / ``zero_`` / ``fill_`` are recorded, so the expected distribution
is known exactly: U(a, b), N(mu, sigma) or a constant. Running it on tensors
of other shapes shows how its scale depends on the fans (fan_in, fan_out,
their mean as in Xavier, or neither), and so its gain. From that follow the
catalogue's variants, each again an exact distribution:

* ``init-fan``: the formula with fan_out where torch uses fan_in, or the reverse
  (the seed's fig. 2-10 takes ``shape[1]`` of an (in, out) matrix);
* ``init-gain``: the formula with another gain, among 1, sqrt(2) (ReLU) and
  sqrt(1/3) (torch's Linear default, a = sqrt(5));
* ``init-distribution``: normal where uniform was expected, or the reverse, with
  the same standard deviation;
* ``init-zero``: every weight 0 (the seed's fig. 1-2).

The test. Your ``init()`` is called until n weights are drawn, and each
candidate distribution F is tested with the Kolmogorov-Smirnov statistic
D_n = sup |F_n - F|. By the Dvoretzky-Kiefer-Wolfowitz inequality with
Massart's constant, P(D_n > t / sqrt(n)) <= 2 exp(-2 t^2) for n i.i.d. draws
from F, whatever n; t = 2.90 makes that alpha = 1e-7. A candidate is kept if
D_n <= t / sqrt(n). n is chosen so that any two distinct candidates are at
KS distance Delta >= 2 t / sqrt(n) (more draws where they are close), so the
true one is kept and every other rejected except with probability alpha each.

Hence, for i.i.d. draws: **a correct initialisation gets a finding with
probability at most 1e-7 (false alarm), and a catalogued variant fails to be
named with probability at most 1e-7 per candidate, at most 6e-7 in all
(miss)** — both within one in a million. Two variants that give the same
distribution for this shape (fan ratios 2, 3, 6 and their inverses make a fan
variant equal a gain variant) are both named; a square shape, where fan_in =
fan_out, is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reference.calls import (
    ResultError,
    UserCodeError,  # noqa: F401  (its Raises: names it)
    call_user,
    result_array,
)
from reference.conventions import check_layout
from reference.network import check_callable
from reference.report import Finding, Report

__all__ = ["ALPHA", "compare_init"]

#: The error probability of each Kolmogorov-Smirnov decision (see the module docstring).
ALPHA = 1e-7
T = math.sqrt(math.log(2 / ALPHA) / 2)
#: More draws than this are refused: the candidates are then too close to tell apart.
MAX_DRAWS = 50_000_000
GAINS = {"1 (linear)": 1.0, "sqrt(2) (ReLU)": math.sqrt(2.0),
         "sqrt(1/3) (torch's Linear default, a = sqrt(5))": math.sqrt(1.0 / 3.0)}
CHECK = "compare_init"


@dataclass(frozen=True)
class Distribution:
    """U(-scale, scale) + center ("uniform"), N(center, scale) ("normal") or a constant."""

    family: str
    scale: float
    center: float = 0.0

    @property
    def std(self) -> float:
        return self.scale / math.sqrt(3.0) if self.family == "uniform" else self.scale

    def cdf(self, x: np.ndarray) -> np.ndarray:
        if self.family == "uniform":
            return np.clip((x - self.center + self.scale) / (2 * self.scale), 0.0, 1.0)
        z = torch.from_numpy((x - self.center) / (self.scale * math.sqrt(2.0)))
        return 0.5 * (1.0 + torch.special.erf(z).numpy())

    def same_as(self, other: Distribution) -> bool:
        return self.family == other.family and math.isclose(self.scale, other.scale,
                                                            rel_tol=1e-9) \
            and math.isclose(self.center, other.center, abs_tol=1e-12 * self.scale)

    def __str__(self) -> str:
        if self.family == "uniform":
            return f"U({self.center - self.scale:.6g}, {self.center + self.scale:.6g})"
        if self.family == "normal":
            return f"N({self.center:.6g}, {self.scale:.6g}^2)"
        return f"the constant {self.center:g}"


@contextmanager
def _recorded_fills(calls: list[tuple[str, tuple[Any, ...]]]) -> Iterator[None]:
    """Record every ``Tensor.uniform_/normal_/zero_/fill_`` call (torch.nn.init uses them)."""
    originals = {name: getattr(torch.Tensor, name) for name in
                 ("uniform_", "normal_", "zero_", "fill_")}

    def recorder(name: str) -> Callable[..., torch.Tensor]:
        def record(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            calls.append((name, args + tuple(v for k, v in kwargs.items() if k != "generator")))
            return originals[name](self, *args, **kwargs)
        return record

    try:
        for name in originals:
            setattr(torch.Tensor, name, recorder(name))
        yield
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def torch_distribution(torch_init: Callable[[torch.Tensor], Any],
                       shape: tuple[int, int]) -> Distribution:
    """The distribution ``torch_init`` fills a tensor of ``shape`` (out, in) from.

    Raises:
        ValueError: naming ``torch_init``, if it does not fill the tensor with exactly
            one uniform_/normal_/zero_/fill_ call.
    """
    calls: list[tuple[str, tuple[Any, ...]]] = []
    tensor = torch.empty(shape, dtype=torch.float64)
    with _recorded_fills(calls), torch.no_grad():
        torch_init(tensor)
    if len(calls) != 1:
        raise ValueError(f"torch_init: expected it to fill the tensor with one uniform_, normal_,"
                         f" zero_ or fill_ call (as torch.nn.init's kaiming_*, xavier_*, "
                         f"uniform_, normal_ and zeros_ do), got {[c[0] for c in calls]}")
    name, args = calls[0]
    if name == "uniform_":
        a, b = (float(v) for v in (args + (0.0, 1.0)[len(args):])[:2])
        return Distribution("uniform", (b - a) / 2, (a + b) / 2)
    if name == "normal_":
        mean, std = (float(v) for v in (args + (0.0, 1.0)[len(args):])[:2])
        return Distribution("normal", std, mean)
    return Distribution("constant", 0.0, 0.0 if name == "zero_" else float(args[0]))


@dataclass(frozen=True)
class Formula:
    """How torch's scale depends on the fans: scale = gain * k / sqrt(fan)."""

    mode: str                 # "fan_in", "fan_out", "mean of the fans" or "fixed"
    fan: float
    gain: float | None


def _formula(torch_init: Callable[[torch.Tensor], Any], shape: tuple[int, int],
             expected: Distribution) -> Formula:
    out_f, in_f = shape
    try:
        wider_in = torch_distribution(torch_init, (out_f, 2 * in_f)).scale / expected.scale
        wider_out = torch_distribution(torch_init, (2 * out_f, in_f)).scale / expected.scale
    except Exception:  # an initialiser for this shape only: no fan to vary
        return Formula("fixed", 0.0, None)
    half = 1 / math.sqrt(2.0)
    if math.isclose(wider_in, half, rel_tol=1e-9) and math.isclose(wider_out, 1.0, rel_tol=1e-9):
        mode, fan = "fan_in", float(in_f)
    elif math.isclose(wider_out, half, rel_tol=1e-9) and math.isclose(wider_in, 1.0,
                                                                       rel_tol=1e-9):
        mode, fan = "fan_out", float(out_f)
    elif math.isclose(wider_in, math.sqrt((in_f + out_f) / (2 * in_f + out_f)), rel_tol=1e-9):
        mode, fan = "mean of the fans", (in_f + out_f) / 2
    else:
        return Formula("fixed", 0.0, None)
    k = math.sqrt(3.0) if expected.family == "uniform" else 1.0
    return Formula(mode, fan, expected.scale * math.sqrt(fan) / k)


def _gain_name(gain: float) -> str:
    for name, value in GAINS.items():
        if math.isclose(gain, value, rel_tol=1e-9):
            return name
    return f"{gain:.6g}"


def _variants(expected: Distribution, formula: Formula,
              shape: tuple[int, int]) -> list[tuple[str, Distribution, str]]:
    """(kind, distribution, message) for each catalogued variant of torch's initialisation."""
    out_f, in_f = shape
    variants = []
    if formula.mode in ("fan_in", "fan_out"):
        other, other_fan = (("fan_out", out_f) if formula.mode == "fan_in" else ("fan_in", in_f))
        scale = expected.scale * math.sqrt(formula.fan / other_fan)
        variants.append(("init-fan", Distribution(expected.family, scale, expected.center), (
            f"the weights follow torch's formula with {other} = {other_fan} where it uses "
            f"{formula.mode} = {formula.fan:g} (the seed's fig. 2-10 takes shape[1] of an "
            f"(in, out) matrix, which is fan_out); use the input dimension.")))
    if formula.gain is not None:
        for name, gain in GAINS.items():
            if not math.isclose(gain, formula.gain, rel_tol=1e-9):
                dist = Distribution(expected.family, expected.scale * gain / formula.gain,
                                    expected.center)
                variants.append(("init-gain", dist, (
                    f"the weights follow torch's formula with gain {name} where it uses "
                    f"{_gain_name(formula.gain)}: the gain of another nonlinearity.")))
    if expected.family in ("uniform", "normal"):
        family = "normal" if expected.family == "uniform" else "uniform"
        scale = expected.std if family == "normal" else expected.std * math.sqrt(3.0)
        variants.append(("init-distribution", Distribution(family, scale, expected.center), (
            f"the weights are {family} with torch's standard deviation {expected.std:.6g}, "
            f"where torch draws them from the {expected.family} {expected}.")))
    return variants


def ks_distance(a: Distribution, b: Distribution) -> float:
    """sup_x |F_a(x) - F_b(x)|, evaluated on a grid, less its worst-case grid error."""
    width = 8 * max(a.std, b.std)
    points = 1_000_001
    x = np.linspace(min(a.center, b.center) - width, max(a.center, b.center) + width, points)
    edges = [d.center + s * d.scale for d in (a, b) if d.family == "uniform" for s in (-1, 1)]
    x = np.concatenate([x, np.array(edges)])
    density = max(1 / (2 * d.scale) if d.family == "uniform" else 1 / (d.scale * 2.5066)
                  for d in (a, b))
    step = 2 * width / (points - 1)
    return max(0.0, float(np.max(np.abs(a.cdf(x) - b.cdf(x)))) - density * step)


def ks_statistic(sample: np.ndarray, dist: Distribution) -> float:
    """D_n = sup |F_n - F| of a sample against a continuous distribution."""
    x = np.sort(sample.astype(np.float64).ravel())
    n = x.size
    f = dist.cdf(x)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def compare_init(init: Callable[[], Any], torch_init: Callable[[torch.Tensor], Any],
                 shape: tuple[int, int], *, layout: str = "out_in") -> Report:
    """Is your initialisation drawing from torch's distribution? Which variant, if not?

    ``init()`` returns a freshly drawn weight array in your layout (``layout``:
    (out, in), or (in, out) with "in_out"); it is called as often as the test
    needs. ``torch_init(tensor)`` fills a torch tensor in place, e.g.
    ``lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")``;
    ``shape`` is torch's (out, in). The decision rule and its error rates
    (false alarm and miss each at most 1e-7 per candidate) are in the module
    docstring; the notes of the report give n and each KS distance.

    Raises:
        ValueError: naming ``shape`` (not two positive sizes; square, where fan_in and
            fan_out cannot be told apart; or so close to square that more than
            MAX_DRAWS weights would be needed), ``layout`` or ``torch_init``.
        TypeError: naming ``init`` or ``torch_init`` (not callable).
        UserCodeError: ``init`` raised, or returned no array of the expected shape or
            the same values twice (ResultError).
    """
    check_callable(init, "init")
    check_callable(torch_init, "torch_init")
    layout = check_layout(layout)
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise ValueError(f"shape: expected torch's (out, in), two positive integers, "
                         f"got {shape!r}")
    shape = (int(shape[0]), int(shape[1]))
    if shape[0] == shape[1]:
        raise ValueError(f"shape: expected out != in, got the square {shape}: with fan_in = "
                         f"fan_out a swapped fan cannot be told apart; check a non-square layer")
    expected = torch_distribution(torch_init, shape)
    mine = shape[::-1] if layout == "in_out" else shape

    def draw(previous: np.ndarray | None) -> tuple[np.ndarray, bool]:
        value = result_array(call_user(CHECK, "init()", init), "init()")
        if value.shape not in (mine, mine[::-1]):
            raise ResultError(f"init(): expected an array of shape {mine} (layout={layout!r}), "
                              f"got {value.shape}")
        if previous is not None and value.shape == previous.shape \
                and np.array_equal(value, previous):
            raise ResultError("init(): returned the same values twice: it must draw fresh "
                              "values at each call (create its Generator once, outside init)")
        return value, value.shape != mine

    first, flipped = draw(None)
    findings = []
    if flipped:
        findings.append(Finding("transposed", "weight", (
            f"init() returns shape {first.shape}, the transpose of {mine}: the weights are in the "
            f"other layout; pass layout='{'out_in' if layout == 'in_out' else 'in_out'}' if "
            f"that is how you store them.")))
    if expected.family == "constant":
        if not np.all(first == expected.center):
            findings.append(Finding("mismatch", "weight", (
                f"torch fills the weights with {expected.center:g}; yours range over "
                f"[{first.min():.6g}, {first.max():.6g}].")))
        return Report({}, findings, [f"torch's initialisation: {expected}"], title=CHECK)
    if not np.any(first):
        findings.append(Finding("init-zero", "weight", (
            f"every weight is 0, where torch draws from {expected}: with all weights zero each "
            f"hidden ReLU outputs 0 and passes back 0, so no weight ever moves (the seed's "
            f"fig. 1-2); draw them at random.")))
        return Report({}, findings, [f"torch's initialisation: {expected}"], title=CHECK)

    formula = _formula(torch_init, shape, expected)
    candidates: list[tuple[list[tuple[str, str]], Distribution]] = [([], expected)]
    for kind, dist, message in _variants(expected, formula, shape):
        for names, known in candidates:
            if known.same_as(dist):
                names.append((kind, message))
                break
        else:
            candidates.append(([(kind, message)], dist))
    if candidates[0][0]:  # a variant equal to torch's own distribution: nothing to tell
        candidates[0] = ([], expected)
    delta = min(ks_distance(a[1], b[1]) for i, a in enumerate(candidates)
                for b in candidates[i + 1:]) if len(candidates) > 1 else 1.0
    needed = math.ceil((2 * T / delta) ** 2) if delta > 0 else MAX_DRAWS + 1
    if needed > MAX_DRAWS:
        raise ValueError(f"shape: {shape} is so close to square that {needed} weights would be "
                         f"needed to tell the variants apart (more than {MAX_DRAWS}); check "
                         f"another layer")
    samples = [first]
    total = first.size
    while total < needed:
        value, _ = draw(samples[-1])
        samples.append(value)
        total += value.size
    sample = np.concatenate([s.ravel() for s in samples])
    threshold = T / math.sqrt(sample.size)
    statistics = [ks_statistic(sample, dist) for _, dist in candidates]
    notes = [f"torch's initialisation: {expected} ({formula.mode}"
             + (f", gain {_gain_name(formula.gain)}" if formula.gain is not None else "") + ")",
             f"{sample.size} weights from {len(samples)} call(s) of init(); a distribution is "
             f"kept if its KS distance is at most {threshold:.3g} (alpha = {ALPHA:g} each); "
             + "; ".join(f"{'torch' if not names else '/'.join(k for k, _ in names)}: "
                         f"{d:.3g}" for (names, _), d in zip(candidates, statistics,
                                                            strict=True))]
    if statistics[0] <= threshold:
        return Report({}, findings, notes, title=CHECK)
    kept = [names for (names, _), d in zip(candidates[1:], statistics[1:], strict=True)
            if d <= threshold]
    if len(kept) == 1:
        for kind, message in kept[0]:
            alternatives = [k for k, _ in kept[0] if k != kind]
            also = (f" (for this shape it is the same distribution as {', '.join(alternatives)}"
                    f", so both are named)") if alternatives else ""
            findings.append(Finding(kind, "weight", message.rstrip(".") + also + "."))
    else:
        findings.append(Finding("mismatch", "weight", (
            f"the weights do not follow torch's {expected} (KS distance {statistics[0]:.3g}, "
            f"more than {threshold:.3g}) nor any catalogued variant: they range over "
            f"[{sample.min():.6g}, {sample.max():.6g}] with mean {sample.mean():.3g} and "
            f"standard deviation {sample.std():.6g} (torch's: {expected.std:.6g}).")))
    return Report({}, findings, notes, title=CHECK)
