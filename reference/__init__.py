"""The PyTorch side: zeronet's torch mirror, and a checker for anyone's from-scratch network.

* ``mirror``, ``from_torch``, ``mirror_loss``, ``mirror_optimizer``: the same
  model, loss or optimizer in torch, with identical weights;
* ``compare_gradients``, ``compare_layer``, ``compare_loss``,
  ``compare_optimizer``, ``compare_training``, ``compare_init``: check any
  implementation against torch in its own conventions; each returns a
  ``Report`` whose failures are diagnosed as ``Finding``\\ s (docs/check-your-network.md);
* ``check_model``, ``check_layer``, ``check_loss``, ``check_optimizer``: the
  same checks run on zeronet objects (the parity suite);
* ``assert_close``, ``default_tolerance``: the element-wise rule underneath.
"""

from reference.calls import ResultError, UserCodeError
from reference.checks.gradients import compare_gradients
from reference.checks.init import compare_init
from reference.checks.layer import compare_layer
from reference.checks.loss import compare_loss
from reference.checks.optimizer import compare_optimizer
from reference.checks.training import compare_training
from reference.mirror import from_torch, mirror, mirror_loss, mirror_optimizer, torch_dtype
from reference.report import KINDS, Difference, Finding, Report
from reference.tolerance import assert_close, default_tolerance, to_numpy
from reference.zeronet_checks import check_layer, check_loss, check_model, check_optimizer

__all__ = [
    "KINDS",
    "Difference",
    "Finding",
    "Report",
    "ResultError",
    "UserCodeError",
    "assert_close",
    "check_layer",
    "check_loss",
    "check_model",
    "check_optimizer",
    "compare_gradients",
    "compare_init",
    "compare_layer",
    "compare_loss",
    "compare_optimizer",
    "compare_training",
    "default_tolerance",
    "from_torch",
    "mirror",
    "mirror_loss",
    "mirror_optimizer",
    "to_numpy",
    "torch_dtype",
]
