"""The checker finds the seed's errata from the numbers alone (the report's section 5)."""

from __future__ import annotations

import pytest

from zeronet_study.runs.seed_checks import run_seed_checks

CHECKS = run_seed_checks(batch=200)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: f"{c.erratum}: {c.formula}")
def test_each_seed_formula_is_found_as_its_erratum(check):
    assert check.found, f"{check.formula}: expected {check.expected}, found {check.kinds}"


def test_the_errata_the_issue_names_are_all_covered():
    covered = {e.strip() for c in CHECKS for e in c.erratum.split(",")}
    assert {"a", "b", "c", "d", "e", "g", "m"} <= covered
