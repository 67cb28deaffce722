"""What a check returns: the tensors it compared and, for each failure, a diagnosis.

A :class:`Report` holds one :class:`Difference` per compared tensor (both
values, the tolerance they were held to) and a list of :class:`Finding`: a
named bug class, the tensor where it shows and one sentence saying what the
numbers show and where to look. A correct implementation gets no finding;
``report.check()`` raises an AssertionError whose first lines are the
findings, and ``print(report)`` shows the findings, the notes (what the check
could not see) and the per-tensor table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from reference.tolerance import (
    assert_close,
    checked_tolerance,
    close_elements,
    errors,
    largest,
    tensor_scale,
)

#: Every kind a :class:`Finding` can have (the vocabulary is fixed).
KINDS = (
    "extra-1/N", "missing-1/N", "factor", "sign", "transposed", "relu-at-0", "ce-precedence",
    "softmax-overflow", "input-mutated", "grad-mutated", "adam-bias-correction",
    "grad-accumulated", "init-fan", "init-gain", "init-zero", "init-distribution", "mismatch",
)


@dataclass(frozen=True)
class Finding:
    """One diagnosed failure: ``kind`` (one of :data:`KINDS`), the tensor, and why."""

    kind: str
    tensor: str
    message: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.kind} at {self.tensor}: {self.message}"


@dataclass(frozen=True)
class Difference:
    """One compared tensor: both values, the tolerance they are held to, their differences.

    With ``finite_only`` the values are not compared, only their finiteness:
    ``actual`` must be finite wherever ``expected`` is (the large-logit probe,
    where correct code may round or clip differently from torch). ``transposed``
    marks a tensor the user's code handed back in the transposed shape: its
    values are compared transposed back, and it fails however close they are.
    """

    name: str
    actual: np.ndarray
    expected: np.ndarray
    rtol: float | None = None
    atol: float | None = None
    finite_only: bool = False
    transposed: bool = False

    @property
    def max_abs(self) -> float:
        """max |actual - expected| (inf for a shape mismatch)."""
        if self.actual.shape != self.expected.shape:
            return float("inf")
        return largest(errors(self.actual, self.expected)[0])

    @property
    def max_rel(self) -> float:
        """max |actual - expected| / |expected| over elements (0/0 counts as 0)."""
        if self.actual.shape != self.expected.shape:
            return float("inf")
        return largest(errors(self.actual, self.expected)[1])

    @property
    def close(self) -> bool:
        """True if the tensor passes at its own tolerance (shape and dtype must match)."""
        if self.transposed or self.actual.shape != self.expected.shape \
                or self.actual.dtype != self.expected.dtype:
            return False
        if self.finite_only:
            return bool(np.all(np.isfinite(self.actual) | ~np.isfinite(self.expected)))
        rtol, atol = checked_tolerance(self.rtol, self.atol, self.expected.dtype)
        return bool(close_elements(self.actual, self.expected, rtol, atol).all())

    @classmethod
    def held_to(cls, name: str, actual: np.ndarray, expected: np.ndarray, rtol: float,
                atol: float, **flags: bool) -> Difference:
        """The tensor held to ``rtol`` and ``atol`` times its scale (see ``tensor_scale``)."""
        return cls(name, actual, expected, rtol, atol * tensor_scale(expected), **flags)

    def check(self, rtol: float | None = None, atol: float | None = None) -> None:
        """:func:`~reference.tolerance.assert_close` on this tensor (finiteness if finite_only)."""
        if self.transposed:
            raise AssertionError(f"{self.name}: handed back in the transposed shape "
                                 f"{self.expected.shape[::-1]}, expected {self.expected.shape}")
        if self.finite_only:
            if not self.close:
                raise AssertionError(f"{self.name}: non-finite where torch's values are finite")
            return
        assert_close(self.actual, self.expected, name=self.name,
                     rtol=self.rtol if rtol is None else rtol,
                     atol=self.atol if atol is None else atol)


@dataclass
class Report:
    """The tensors one check compared, by name, and the findings that explain its failures.

    ``findings`` is empty exactly when the check passed. ``notes`` say what
    the check could not see (e.g. a single optimizer step cannot tell Adam's
    1 - beta from 1 - beta^t); they are not failures.
    """

    differences: dict[str, Difference]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    title: str = "comparison"

    def __getitem__(self, name: str) -> Difference:
        return self.differences[name]

    def __iter__(self) -> Iterator[Difference]:
        return iter(self.differences.values())

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def max_abs(self) -> float:
        return max((d.max_abs for d in self), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((d.max_rel for d in self), default=0.0)

    def check(self, rtol: float | None = None, atol: float | None = None) -> None:
        """Raise AssertionError if the check failed; its first lines are the findings.

        With ``rtol``/``atol`` every tensor is held to that tolerance instead
        of its own, and each one that is not close is listed after the findings.
        """
        failures = []
        if rtol is not None or atol is not None:
            for difference in self:
                try:
                    difference.check(rtol, atol)
                except AssertionError as err:
                    failures.append(str(err))
        if self.findings or failures:
            lines = [str(f) for f in self.findings]
            if failures:
                lines.append(f"{len(failures)} of {len(self.differences)} tensors differ:")
                lines += failures
            raise AssertionError("\n".join(lines) + f"\n\n{self}")

    def __str__(self) -> str:
        status = "passed" if self.passed else f"{len(self.findings)} finding(s)"
        lines = [f"{self.title}: {status}"]
        lines += [f"  {finding}" for finding in self.findings]
        lines += [f"  note: {note}" for note in self.notes]
        if not self.differences:
            return "\n".join(lines)
        width = max([len(d.name) for d in self] + [6])
        lines.append(f"{'tensor':<{width}}  {'shape':<14} {'dtype':<8} {'max abs':>10} "
                     f"{'max rel':>10}  ok")
        for d in self:
            ok = "yes" if d.close else "NO"
            if d.finite_only:
                ok += " (finiteness only)"
            if d.transposed:
                ok += " (transposed shape)"
            lines.append(f"{d.name:<{width}}  {d.expected.shape!s:<14} {d.expected.dtype!s:<8} "
                         f"{d.max_abs:>10.3g} {d.max_rel:>10.3g}  {ok}")
        return "\n".join(lines)
