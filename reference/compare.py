"""Compare anyone's from-scratch numbers with PyTorch's: the checks, in one place.

The checks take plain NumPy arrays and plain callables, so they check *any*
implementation, in its own conventions (weights as (in, out), samples as
columns, its own parameter names: see :mod:`reference.conventions`), and
return a :class:`~reference.report.Report` whose failures come with a
diagnosis (:class:`~reference.report.Finding`):

* :func:`compare_gradients`: one forward and backward pass of a whole network;
* :func:`compare_layer`: one layer alone, for an upstream gradient;
* :func:`compare_loss`: one loss function, value and dL/doutput;
* :func:`compare_optimizer`: an optimizer fed the same gradients as torch's;
* :func:`compare_training`: k whole training steps;
* :func:`compare_init`: an initialisation, by the distribution it draws;
* :func:`compare`: two mappings of arrays, name by name (no diagnosis).

Example: your own two-layer network against ``torch.nn`` (no zeronet)::

    import numpy as np, torch
    import reference

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 3)).double()

    def forward_backward(p, x, y):          # p: {"0.weight": ..., "2.bias": ...}
        h = x @ p["0.weight"].T + p["0.bias"]
        a = np.maximum(h, 0)
        out = a @ p["2.weight"].T + p["2.bias"]
        loss = np.mean((out - y) ** 2)
        g = 2 * (out - y) / out.size        # dL/dout
        grads = {"2.weight": g.T @ a, "2.bias": g.sum(0)}
        g = (g @ p["2.weight"]) * (h > 0)   # dL/dh
        grads |= {"0.weight": g.T @ x, "0.bias": g.sum(0)}
        return out, loss, grads, g @ p["0.weight"]

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    report = reference.compare_gradients(forward_backward, net, x, y, torch.nn.MSELoss())
    print(report)       # findings (none here), then each tensor's max abs / rel difference
    report.check()      # AssertionError whose first lines are the findings

Tolerances: an element passes when ``|actual - expected| <= atol + rtol *
|expected|`` (torch.testing's rule), at :func:`default_tolerance` of the
dtype unless ``rtol``/``atol`` are given.
"""

from __future__ import annotations

from collections.abc import Mapping

from reference.checks.gradients import compare_gradients
from reference.checks.init import compare_init
from reference.checks.layer import compare_layer
from reference.checks.loss import compare_loss
from reference.checks.optimizer import compare_optimizer
from reference.checks.training import compare_training
from reference.report import Difference, Finding, Report
from reference.tolerance import ArrayLike, assert_close, default_tolerance, to_numpy

__all__ = [
    "Difference", "Finding", "Report", "assert_close", "compare", "compare_gradients",
    "compare_init", "compare_layer", "compare_loss", "compare_optimizer", "compare_training",
    "default_tolerance", "to_numpy",
]


def compare(actual: Mapping[str, ArrayLike], expected: Mapping[str, ArrayLike]) -> Report:
    """A :class:`Report` of ``actual[k]`` against ``expected[k]``; the keys must match.

    Each tensor is held to the default tolerance of its dtype; the report has
    a ``mismatch`` finding for each tensor that is not close.

    Raises:
        ValueError: naming ``actual``, if its keys are not those of ``expected``.
        TypeError: naming ``actual`` or ``expected`` (not a mapping) or ``actual[key]``
            or ``expected[key]`` (not an array, tensor or number).
    """
    for arg, value in (("actual", actual), ("expected", expected)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{arg}: expected a mapping of name -> array, "
                            f"got {type(value).__name__}")
    missing = [k for k in expected if k not in actual]
    unexpected = [k for k in actual if k not in expected]
    if missing or unexpected:
        raise ValueError(f"actual: expected the keys {list(expected)}, "
                         f"missing {missing}, unexpected {unexpected}")
    differences = {k: Difference(k, to_numpy(actual[k], f"actual[{k!r}]"),
                                 to_numpy(v, f"expected[{k!r}]"))
                   for k, v in expected.items()}
    findings = [Finding("mismatch", k, f"{k} differs from the expected values "
                        f"(max abs err {d.max_abs:.3g}, max rel err {d.max_rel:.3g}).")
                for k, d in differences.items() if not d.close]
    return Report(differences, findings, title="compare")
