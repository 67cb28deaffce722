"""Single operations at the seed's shapes and one large layer, zeronet beside torch."""

from __future__ import annotations

import pytest
from conftest import twin_ids

from zeronet_study.bench.cases import op_twins

# A failed twin check stops a test before it times anything; pytest-benchmark then
# warns that the fixture went unused, which would add a second, misleading error.
pytestmark = pytest.mark.filterwarnings("ignore:Benchmark fixture was not used")

TWINS = op_twins("float64") + op_twins("float32")


@pytest.mark.parametrize("role", ["zeronet", "torch"])
@pytest.mark.parametrize("twin", TWINS, ids=twin_ids(TWINS))
def test_op(bench, twin, role: str) -> None:
    bench(twin, role)
