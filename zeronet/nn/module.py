"""Parameters, the Module base class and Sequential.

A module owns its parameters and the activations it cached in the forward
pass; it owns no optimizer state (that lives in ``zeronet.optim``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from zeronet._checks import FLOAT_DTYPES, expect_array, float_array

#: What a second ``backward`` after one forward pass raises (RuntimeError), after the
#: name of the layer or loss: torch frees the graph at the first backward and refuses
#: the second, where accumulating again would silently double the gradients.
SECOND_BACKWARD = ("backward called twice after one forward: call forward again "
                   "(torch: Trying to backward through the graph a second time)")


class Parameter:
    """A trainable array and the gradient accumulated into it.

    ``grad`` is None until the first backward pass writes it, and backward
    passes add into it (``+=``), exactly as ``torch.Tensor.grad`` behaves.

    Raises:
        TypeError: naming ``data``, if it is not a float32 or float64 ndarray.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray) -> None:
        if not isinstance(data, np.ndarray) or data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"data: expected a float32 or float64 ndarray, "
                            f"got {type(data).__name__} {getattr(data, 'dtype', '')}")
        self.data = data
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def accumulate(self, grad: np.ndarray) -> None:
        """Add ``grad`` into ``self.grad``; the first call takes ``grad`` itself.

        Callers pass a freshly computed array they do not reuse.

        Raises:
            TypeError: naming ``grad``, if not an ndarray of the parameter's dtype.
            ValueError: naming ``grad``, if not of the parameter's shape (never broadcast).
        """
        expect_array(grad, self.data.shape, self.data.dtype, "grad")
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def zero_grads(params: Iterable[Parameter], set_to_none: bool = True) -> None:
    """Clear the gradients of ``params``: to None (torch's default) or to zeros in place."""
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        else:
            p.grad.fill(0)


class Module:
    """Base class: a callable with ``backward`` and named parameters.

    Subclasses implement ``forward``, ``backward`` and, if they hold
    parameters, ``named_parameters``.
    """

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``forward(x)`` with NumPy's overflow and invalid-value warnings off.

        A layer reports non-finite results itself, as an exception naming the
        input (``Linear`` checks its output), so a warning printed first
        would only repeat it; and under ``-W error`` it would replace the
        exception. A Sequential calls its layers' ``forward`` directly, under
        its own ``__call__``, so the switch happens once per model call.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Accumulate parameter gradients; return dL/dx (None if not ``input_grad``)."""
        raise NotImplementedError

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Parameter]]:
        return []

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads(self.parameters(), set_to_none)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters, keyed like torch's ``state_dict``."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, object]) -> None:
        """Copy ``state_dict`` into the parameters, in the model's dtype.

        Keys and shapes must match exactly; values may be NumPy arrays or
        anything ``np.asarray`` accepts (CPU torch tensors included). Every
        value is checked before any parameter is written, so a bad state
        dict leaves the model untouched.

        Raises:
            TypeError: naming ``state_dict`` (not a mapping) or ``state_dict[key]`` (not
                an array of a float dtype, e.g. a ragged list or a tensor requiring grad).
            ValueError: naming ``state_dict`` (keys differ) or ``state_dict[key]`` (shape
                differs, or NaN/inf).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of name -> array, "
                            f"got {type(state_dict).__name__}")
        params = dict(self.named_parameters())
        missing = sorted(params.keys() - state_dict.keys())
        unexpected = sorted(state_dict.keys() - params.keys())
        if missing or unexpected:
            raise ValueError(f"state_dict: expected keys {sorted(params)}, "
                             f"missing {missing}, unexpected {unexpected}")
        arrays = {}
        for name, p in params.items():
            try:
                value = np.asarray(state_dict[name])
            except (TypeError, ValueError, RuntimeError) as err:  # ragged lists, grad tensors
                raise TypeError(f"state_dict[{name!r}]: expected an array, got "
                                f"{type(state_dict[name]).__name__} ({err})") from err
            if value.shape != p.shape:
                raise ValueError(f"state_dict[{name!r}]: expected shape {p.shape}, "
                                 f"got {value.shape}")
            if value.dtype.kind != "f":
                raise TypeError(f"state_dict[{name!r}]: expected a float array, "
                                f"got dtype {value.dtype}")
            with np.errstate(over="ignore"):  # 1e300 into float32: inf, refused just below
                cast = value.astype(p.dtype, copy=False)
            arrays[name] = float_array(cast, f"state_dict[{name!r}]")
        for name, p in params.items():
            np.copyto(p.data, arrays[name])

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Sequential(Module):
    """Layers applied in order; ``backward`` runs them in reverse (seed fig. 1-12).

    Parameter names are ``"<index>.<name>"``, as in ``torch.nn.Sequential``.

    Raises:
        TypeError: naming ``layers[i]``, if it is not a zeronet Module.
    """

    def __init__(self, *layers: Module) -> None:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"layers[{i}]: expected a zeronet.nn.Module, "
                                f"got {type(layer).__name__}")
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Each layer applied to the previous one's output.

        Raises:
            TypeError, ValueError: what a layer raises for its input, naming ``x``.
        """
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = False) -> np.ndarray | None:
        """Backpropagate ``grad_out`` = dL/d(output) through every layer; dL/dx if asked.

        The model's input is data, and as in torch (where a tensor's
        ``requires_grad`` is False unless set) its gradient is computed only
        when asked: by default the first layer skips dL/dx, one matrix
        product per step (for the seed's MNIST net as large as the first
        layer's weight gradient), and this returns None. ``input_grad=True``
        returns dL/dx. A single layer's ``backward`` (``Linear``, ``ReLU``)
        returns dL/dx by default instead: a chain written by hand, as in the
        seed (``for layer in reversed(layers): grad = layer.backward(grad)``,
        figs. 1-4, 1-8, 1-12), passes it on to the layer before.

        Raises:
            RuntimeError: a second ``backward`` after one forward pass (from the last
                layer, as torch refuses it), or one before any.
        """
        layers = self.layers
        if not layers:  # the identity: dL/dx is dL/d(output)
            return grad_out if input_grad else None
        grad = grad_out
        for i in range(len(layers) - 1, 0, -1):
            grad = layers[i].backward(grad)
        return layers[0].backward(grad, input_grad=input_grad)

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Parameter]]:
        return [item for i, layer in enumerate(self.layers)
                for item in layer.named_parameters(f"{prefix}{i}.")]

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
