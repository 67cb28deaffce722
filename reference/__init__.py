"""The PyTorch mirror of zeronet: same models in torch, weights both ways, comparisons."""

from reference.compare import (
    Report,
    assert_close,
    check_layer,
    check_loss,
    check_model,
    check_optimizer,
    compare_gradients,
    compare_optimizer,
    default_tolerance,
)
from reference.mirror import from_torch, mirror, mirror_loss, mirror_optimizer, torch_dtype

__all__ = [
    "Report",
    "assert_close",
    "check_layer",
    "check_loss",
    "check_model",
    "check_optimizer",
    "compare_gradients",
    "compare_optimizer",
    "default_tolerance",
    "from_torch",
    "mirror",
    "mirror_loss",
    "mirror_optimizer",
    "torch_dtype",
]
