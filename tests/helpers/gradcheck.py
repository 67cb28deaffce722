"""Central finite differences of a scalar objective; analytic gradients checked against them.

Step and tolerance. The central difference (L(p + h) - L(p - h)) / 2h is off
by h^2 |L'''| / 6 (truncation) plus about eps |L| / h (rounding of the two
evaluations of L). With h = 1e-6 in float64 the truncation term is <= 1e-13
for the O(1) curvatures here (and exactly 0 where L is at most quadratic in
a single parameter: Linear, ReLU, MSE, and any ReLU net under MSE), while the
rounding term is about 2.2e-10 |L|. So each comparison uses
atol = 100 eps max(1, |L|) / h (the rounding term with 100x headroom for the
rounding inside sums) and rtol = 1e-6. A real backward error (a missing
1/N, a transpose, a wrong sign) is off by O(|grad|), six orders above this.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

H = 1e-6
RTOL = 1e-6
EPS = np.finfo(np.float64).eps


def numerical_grad(objective: Callable[[], float], array: np.ndarray) -> np.ndarray:
    """Central differences of ``objective()`` w.r.t. each entry of ``array``, perturbed in place."""
    grad = np.empty_like(array)
    for idx in np.ndindex(array.shape):
        original = array[idx]
        array[idx] = original + H
        plus = objective()
        array[idx] = original - H
        minus = objective()
        array[idx] = original
        grad[idx] = (plus - minus) / (2 * H)
    return grad


def gradcheck(objective: Callable[[], float], pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Assert each (array, analytic gradient) pair matches finite differences of ``objective``."""
    atol = 100 * EPS * max(1.0, abs(objective())) / H
    for array, analytic in pairs:
        np.testing.assert_allclose(analytic, numerical_grad(objective, array), rtol=RTOL, atol=atol)
