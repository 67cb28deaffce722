"""What the user's code hands back, checked once and turned into torch's shapes.

Every check takes the same kinds of results: a loss (a number), gradients by
the user's parameter names (in the user's layout), an array with the user's
sample axis (an output, dL/dx). Each function here raises a
:class:`~reference.calls.ResultError` naming the call and the value when
something cannot be compared, and returns it in torch's orientation otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reference.calls import ResultError, result_array
from reference.conventions import Conventions

__all__ = ["gradients", "loss_value", "sample_array"]


def loss_value(value: Any, call: str, dtype: np.dtype) -> np.ndarray:
    """The loss as a 0-d array of ``dtype``.

    Raises:
        ResultError: naming ``call``, if it is no number.
    """
    loss = result_array(value, f"{call}: loss", dtype)
    if loss.size != 1:
        raise ResultError(f"{call}: loss: expected a number, got an array of shape {loss.shape}")
    return loss.reshape(())


def gradients(grads: Any, conv: Conventions, call: str) -> dict[str, tuple[np.ndarray, bool]]:
    """torch name -> (the gradient in torch's shape, whether it came back transposed).

    Raises:
        ResultError: naming ``call``, if ``grads`` is no mapping, names other parameters
            than the model's (or leaves some out), or holds a shape that fits neither layout.
    """
    if not isinstance(grads, Mapping):
        raise ResultError(f"{call}: grads: expected a mapping of your parameter names to "
                          f"gradients, got {type(grads).__name__}")
    unknown = sorted(str(k) for k in grads if k not in conv.torch)
    missing = [u for u in conv.torch if u not in grads]
    if unknown or missing:
        raise ResultError(f"{call}: grads: expected one gradient for each of {list(conv.torch)}, "
                          f"got unknown names {unknown} and none for {missing}")
    return {torch_name: conv.from_user(torch_name, result_array(
        grads[user], f"{call}: grads[{user!r}]"), f"{call}: grads[{user!r}]")
        for user, torch_name in conv.torch.items()}


def sample_array(value: Any, shape: tuple[int, ...], conv: Conventions, call: str,
                 what: str) -> np.ndarray:
    """An output or dL/dx with the user's sample axis, as torch's (samples on rows).

    ``shape`` is what it must be in the user's orientation.

    Raises:
        ResultError: naming ``call`` and ``what``, if it is no array of that shape.
    """
    array = result_array(value, f"{call}: {what}")
    if array.shape != shape:
        raise ResultError(f"{call}: {what}: expected shape {shape} (samples={conv.samples!r}), "
                          f"got {array.shape}")
    return conv.samples_from_user(array)
