"""The checker against the mutation corpus: every bug named, every correct network clean.

Each case of ``corpus.cases.CASES`` is one from-scratch implementation (seed-like
classes, CS231n functions, column-major), one check and at most one injected bug.
The check must pass with no finding at all for the correct code, in float64 and
float32, and for a bug it must fail with the bug's kind as its first finding.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.corpus.cases import CASES

import reference

DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]


def case_id(case) -> str:
    return "-".join(str(p) for p in (case.implementation, case.check, case.task,
                                      case.build.variant, case.bug or "correct") if p)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_checker_names_the_injected_bug(case, dtype):
    report = case.build(dtype).call(reference)
    kinds = [f.kind for f in report.findings]
    if case.expected_first_kind is None:
        assert kinds == [], str(report)
        report.check()
        return
    assert kinds, f"the bug {case.bug} passed:\n{report}"
    assert kinds[0] == case.expected_first_kind, str(report)
    with pytest.raises(AssertionError, match=rf"^{case.expected_first_kind} at "):
        report.check()
