"""Compare an implementation's numbers with PyTorch's, element by element.

The functions here take plain NumPy arrays (or torch tensors) and plain
callables, so they check *any* from-scratch implementation, not only zeronet:

* :func:`assert_close` compares two arrays and, on failure, says where and by
  how much they differ.
* :func:`default_tolerance` gives the (rtol, atol) used when none is passed.
* :func:`compare_gradients` runs a torch model forward and backward and
  compares the output, loss, every dL/dparameter and dL/dx with yours.
* :func:`compare_optimizer` feeds the same gradients to your optimizer and to
  a torch optimizer and compares the parameters and the optimizer state.
* :func:`check_layer`, :func:`check_loss`, :func:`check_model` and
  :func:`check_optimizer` do the same for zeronet objects.

Every comparison returns a :class:`Report`: one :class:`Difference` per
compared tensor, with its max abs/rel error; ``report.check()`` asserts them
all at the default (or given) tolerance, and ``print(report)`` is a table.

Example: your own two-layer network against ``torch.nn`` (no zeronet)::

    import numpy as np, torch
    from reference.compare import compare_gradients

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
    report = compare_gradients(forward_backward, net, x, y, torch.nn.MSELoss())
    print(report)       # max abs / rel difference of each tensor
    report.check()      # AssertionError naming the tensor and the worst element

Tolerances: an element passes when ``|actual - expected| <= atol + rtol *
|expected|`` (torch.testing's rule). Shapes and dtypes must match exactly:
nothing is broadcast or cast behind your back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor | float | int
#: ``forward_backward(params, x, target)`` for :func:`compare_gradients`; returns
#: ``(loss, grads, grad_x)`` or ``(output, loss, grads, grad_x)``.
ForwardBackward = Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray], tuple]

__all__ = [
    "Difference", "Report", "assert_close", "check_layer", "check_loss", "check_model",
    "check_optimizer", "compare", "compare_gradients", "compare_optimizer",
    "default_tolerance", "to_numpy", "torch_forward_backward",
]


def default_tolerance(dtype: np.dtype | type | torch.dtype) -> tuple[float, float]:
    """The (rtol, atol) used for ``dtype`` when a comparison is given none.

    float64: (1e-12, 1e-12). Both frameworks round each operation to
    nearest, so two float64 results differ only by the rounding of
    reordered sums (numpy's OpenBLAS and torch's MKL block matmuls
    differently; torch fuses a*b+c into one FMA in ``add_``/``addcdiv_``).
    A sum of K terms of size S then differs by about sqrt(K) * 1.1e-16 * S:
    for K up to 10^4 that is ~1e-14 * S, so rtol = 1e-12 leaves a margin of
    100 for every element not hit by cancellation. An element that cancels
    to near zero keeps the *absolute* error of its terms, which rtol cannot
    cover; atol = 1e-12 covers it for terms of order 1. For data of another
    scale S pass ``atol=1e-12 * S``. Measured on zeronet (tests/test_parity_*):
    one forward/backward pass differs by at most 6e-15 * (1 + |expected|),
    200 SGD/Adam steps by at most 3e-15 * (1 + |expected|).

    float32: (1.3e-6, 1e-5), torch.testing.assert_close's defaults, which
    allow ~10 ulp (float32 ulp = 1.2e-7) of a result of order 1.

    float16: (1e-3, 1e-5), torch.testing's. Integer and bool: exact.

    Raises:
        TypeError: naming ``dtype``, if it is not a float, integer or bool dtype.
    """
    try:
        if isinstance(dtype, torch.dtype):
            dtype = torch.empty((), dtype=dtype).numpy().dtype
        dtype = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError) as err:  # bfloat16, "x", ",": named below
        raise TypeError(f"dtype: expected a float, integer or bool dtype, got {dtype!r}") from err
    if dtype == np.float64:
        return 1e-12, 1e-12
    if dtype == np.float32:
        return 1.3e-6, 1e-5
    if dtype == np.float16:
        return 1e-3, 1e-5
    if dtype.kind in "iub":
        return 0.0, 0.0
    raise TypeError(f"dtype: expected a float, integer or bool dtype, got {dtype}")


def to_numpy(value: ArrayLike, name: str = "value") -> np.ndarray:
    """``value`` as a NumPy array: torch tensors are detached and copied to the CPU.

    Python floats become float64, ints int64 and bools bool (0-d arrays).

    Raises:
        TypeError: naming ``name`` (default "value"), if it is none of these, or has no
            NumPy equivalent (a bfloat16 tensor, an int beyond int64).
    """
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy().copy()
        if isinstance(value, bool):
            return np.asarray(value, dtype=np.bool_)
        if isinstance(value, int):
            return np.asarray(value, dtype=np.int64)
        if isinstance(value, float):
            return np.asarray(value, dtype=np.float64)
        if isinstance(value, (np.ndarray, np.generic)):
            return np.array(value, copy=True)
    except (TypeError, OverflowError) as err:
        raise TypeError(f"{name}: expected a value with a NumPy equivalent, got {value!r:.80}"
                        f" ({err})") from err
    raise TypeError(f"{name}: expected a numpy array, torch tensor or Python number, "
                    f"got {type(value).__name__}")


def _errors(actual: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise |a - e| and |a - e| / |e|: 0 where a == e, inf where only e == 0."""
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    with np.errstate(all="ignore"):
        same = a == e  # also equal infinities; NaN is never equal, its error is NaN
        abs_err = np.where(same, 0.0, np.abs(a - e))
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(e))
    return abs_err, rel_err


def _max(errors: np.ndarray) -> float:
    """The largest error; NaN if any is NaN (a NaN must never hide behind a max)."""
    return float(np.max(errors, initial=0.0))


def _fmt(value: float) -> str:
    return f"{value:.17g}"


def assert_close(actual: ArrayLike, expected: ArrayLike, *, rtol: float | None = None,
                 atol: float | None = None, name: str = "", equal_nan: bool = False) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` element-wise.

    ``actual`` and ``expected`` are NumPy arrays, torch tensors or Python
    numbers; they must have the same shape and dtype (no broadcasting, no
    casting). ``rtol`` and ``atol`` default to :func:`default_tolerance` of
    the dtype. NaN equals NaN only with ``equal_nan=True``; infinities must
    match exactly.

    The AssertionError names ``name``, the shape and dtype, the number of
    mismatched elements, the worst one (index, both values, its abs and rel
    error, relative to what was allowed) and the tolerances.

    Raises:
        AssertionError: the values are not close, or differ in shape or dtype.
        TypeError: naming ``actual`` or ``expected`` (not an array, tensor or number;
            or of a dtype with no tolerance: complex, object, str).
        ValueError: naming ``rtol, atol``, if either is not a number >= 0 (NaN, "1e-6").
    """
    if not all(t is None or (isinstance(t, (int, float, np.integer, np.floating))
               and not isinstance(t, bool) and t >= 0) for t in (rtol, atol)):  # not NaN
        raise ValueError(f"rtol, atol: expected numbers >= 0, got rtol={rtol!r}, atol={atol!r}")
    label = name or "value"
    a, e = to_numpy(actual, "actual"), to_numpy(expected, "expected")
    if a.shape != e.shape:
        raise AssertionError(f"{label}: shape mismatch: actual {a.shape} vs expected {e.shape} "
                             f"(no broadcasting)")
    if a.dtype != e.dtype:
        raise AssertionError(f"{label}: dtype mismatch: actual {a.dtype} vs expected {e.dtype} "
                             f"(cast one side explicitly if that is intended)")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"actual, expected: expected a float, integer or bool dtype, "
                        f"got {a.dtype}")
    default_rtol, default_atol = default_tolerance(a.dtype)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    abs_err, rel_err = _errors(a, e)
    with np.errstate(all="ignore"):
        allowed = atol + rtol * np.abs(e.astype(np.float64))
        finite = np.isfinite(a) & np.isfinite(e)
        close = np.where(finite, abs_err <= allowed, a == e)  # inf must equal inf exactly
        if equal_nan:
            close |= np.isnan(a) & np.isnan(e)
        bad = ~close
        if not bad.any():
            return
        excess = np.where(bad, abs_err / allowed, -1.0)
        excess[bad & np.isnan(excess)] = np.inf
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    index = tuple(int(i) for i in worst)
    raise AssertionError(
        f"{label}: {int(bad.sum())} of {a.size} elements not close "
        f"(shape {a.shape}, dtype {a.dtype}; rule |actual - expected| <= atol + rtol*|expected| "
        f"with rtol={rtol:g}, atol={atol:g})\n"
        f"  worst at index {index}: actual={_fmt(a[worst])}, expected={_fmt(e[worst])}, "
        f"abs err {abs_err[worst]:.3g}, rel err {rel_err[worst]:.3g}, "
        f"allowed {allowed[worst]:.3g}\n"
        f"  over all elements: max abs err {_max(abs_err):.3g}, max rel err {_max(rel_err):.3g}"
    )


@dataclass(frozen=True)
class Difference:
    """One compared tensor: both values and their largest differences."""

    name: str
    actual: np.ndarray
    expected: np.ndarray

    @property
    def max_abs(self) -> float:
        """max |actual - expected| (inf for a shape mismatch)."""
        if self.actual.shape != self.expected.shape:
            return float("inf")
        return _max(_errors(self.actual, self.expected)[0])

    @property
    def max_rel(self) -> float:
        """max |actual - expected| / |expected| over elements (0/0 counts as 0)."""
        if self.actual.shape != self.expected.shape:
            return float("inf")
        return _max(_errors(self.actual, self.expected)[1])

    def check(self, rtol: float | None = None, atol: float | None = None) -> None:
        """:func:`assert_close` on this tensor."""
        assert_close(self.actual, self.expected, rtol=rtol, atol=atol, name=self.name)


@dataclass(frozen=True)
class Report:
    """The differences of every tensor one comparison looked at, by name."""

    differences: dict[str, Difference]

    def __getitem__(self, name: str) -> Difference:
        return self.differences[name]

    def __iter__(self):
        return iter(self.differences.values())

    @property
    def max_abs(self) -> float:
        return max((d.max_abs for d in self), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((d.max_rel for d in self), default=0.0)

    def check(self, rtol: float | None = None, atol: float | None = None) -> None:
        """Assert every tensor close; the error lists each one that is not."""
        failures = []
        for difference in self:
            try:
                difference.check(rtol, atol)
            except AssertionError as err:
                failures.append(str(err))
        if failures:
            raise AssertionError(f"{len(failures)} of {len(self.differences)} tensors differ:\n"
                                 + "\n".join(failures) + f"\n{self}")

    def __str__(self) -> str:
        rows = [f"{'tensor':<32} {'shape':<14} {'dtype':<8} {'max abs':>10} {'max rel':>10}"]
        for d in self:
            rows.append(f"{d.name:<32} {d.expected.shape!s:<14} {d.expected.dtype!s:<8} "
                        f"{d.max_abs:>10.3g} {d.max_rel:>10.3g}")
        return "\n".join(rows)


def compare(actual: Mapping[str, ArrayLike], expected: Mapping[str, ArrayLike]) -> Report:
    """A :class:`Report` of ``actual[k]`` against ``expected[k]``; the keys must match.

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
    return Report({k: Difference(k, to_numpy(actual[k], f"actual[{k!r}]"),
                                 to_numpy(v, f"expected[{k!r}]"))
                   for k, v in expected.items()})


def _torch_target(target: np.ndarray) -> torch.Tensor:
    """Class indices become int64 (what torch's losses take); floats keep their dtype."""
    if np.asarray(target).dtype.kind in "iu":
        return torch.from_numpy(np.asarray(target, dtype=np.int64))
    return torch.from_numpy(np.array(target, copy=True))


def torch_forward_backward(torch_model: torch.nn.Module, x: np.ndarray, target: np.ndarray,
                           loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                           ) -> dict[str, np.ndarray]:
    """torch's output, loss, dL/dparameter and dL/dx for one batch, as NumPy arrays.

    Keys: ``"output"``, ``"loss"``, ``"grad[<name>]"`` for each named
    parameter, ``"grad_x"``. Uses ``torch.autograd.grad``, so the model's
    ``.grad`` fields are left untouched.
    """
    named = list(torch_model.named_parameters())
    xt = torch.from_numpy(np.array(x, copy=True)).requires_grad_(True)
    output = torch_model(xt)
    loss = loss_fn(output, _torch_target(target))
    grads = torch.autograd.grad(loss, [xt, *(p for _, p in named)])
    result = {"output": to_numpy(output), "loss": to_numpy(loss)}
    result |= {f"grad[{n}]": to_numpy(g) for (n, _), g in zip(named, grads[1:], strict=True)}
    result["grad_x"] = to_numpy(grads[0])
    return result


def compare_gradients(forward_backward: ForwardBackward, torch_model: torch.nn.Module,
                      x: np.ndarray, target: np.ndarray,
                      loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Report:
    """Compare your forward and backward pass with torch's on one batch.

    ``forward_backward(params, x, target)`` gets ``params`` = NumPy copies of
    ``torch_model.state_dict()`` (keys like ``"0.weight"``, in the model's
    dtype and torch's (out, in) weight layout) and returns either
    ``(loss, grads, grad_x)`` or ``(output, loss, grads, grad_x)``, with
    ``grads`` a mapping of the same keys to dL/dparameter, and ``grad_x`` =
    dL/dx or None to skip it. ``loss_fn`` is the torch loss (e.g.
    ``torch.nn.CrossEntropyLoss()``); integer targets are passed to it as
    int64 class indices.

    The report's names are ``output``, ``loss``, ``grad[<key>]``, ``grad_x``.
    The loss is compared as a 0-d array in the model's dtype.

    Raises:
        TypeError: naming ``forward_backward``, if it returns something else (grads not
            a mapping, a loss that is no number, entries that are no arrays).
        ValueError: naming ``forward_backward``, if its grads have other names than the
            model's parameters.
    """
    params = {k: to_numpy(v) for k, v in torch_model.state_dict().items()}
    result = forward_backward(params, x, target)
    if not isinstance(result, tuple) or len(result) not in (3, 4):
        raise TypeError("forward_backward: expected it to return (loss, grads, grad_x) or "
                        f"(output, loss, grads, grad_x), got {type(result).__name__} "
                        f"of length {len(result) if isinstance(result, tuple) else '-'}")
    output, loss, grads, grad_x = result if len(result) == 4 else (None, *result)
    expected = torch_forward_backward(torch_model, x, target, loss_fn)
    dtype = expected["loss"].dtype
    if not isinstance(grads, Mapping):
        raise TypeError(f"forward_backward: expected grads to be a mapping of name -> array, "
                        f"got {type(grads).__name__}")
    try:
        actual: dict[str, ArrayLike] = {"loss": np.asarray(loss, dtype=dtype)}
    except (TypeError, ValueError) as err:
        raise TypeError(f"forward_backward: expected a number for the loss, "
                        f"got {loss!r:.80}") from err
    if output is not None:
        actual["output"] = output
    else:
        del expected["output"]
    actual |= {f"grad[{k}]": v for k, v in grads.items()}
    if grad_x is not None:
        actual["grad_x"] = grad_x
    else:
        del expected["grad_x"]
    try:
        return compare(actual, expected)
    except (TypeError, ValueError) as err:  # other gradient names, or no arrays
        raise type(err)(f"forward_backward: returned {err}") from err


def _state_value(value: Any) -> np.ndarray:
    """An optimizer state entry as an array; "step" counters compare as float64."""
    array = to_numpy(value) if not isinstance(value, np.ndarray) else value
    return array.astype(np.float64) if array.ndim == 0 else array


def compare_optimizer(step: Callable[[dict[str, np.ndarray], dict[str, np.ndarray | None]], None],
                      make_torch_optimizer: Callable[[list[torch.nn.Parameter]],
                                                     torch.optim.Optimizer],
                      params: Mapping[str, np.ndarray],
                      grads: Sequence[Mapping[str, np.ndarray | None]], *,
                      state: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
                      ) -> Report:
    """Feed the same gradients to your optimizer and torch's; compare where they end.

    ``params`` are the starting values (copied for each side). For each
    mapping in ``grads`` (same keys; None means "no gradient this step")
    your ``step(params, grads)`` updates its own copy of ``params`` in place,
    and torch's optimizer, built by ``make_torch_optimizer(list_of_params)``
    in the order of ``params``, takes one ``step()`` with ``p.grad`` set.

    ``state()``, if given, returns your per-parameter state after the last
    step, ``{param_name: {"exp_avg": array, "step": 3, ...}}`` with torch's
    key names; each entry is compared with torch's ``optimizer.state[p]``
    (scalars such as "step" as float64). Report names: ``param[<name>]``
    and ``state[<name>].<key>``.

    Raises:
        ValueError: naming ``grads[i]`` (keys other than those of ``params``) or
            ``state()`` (a parameter or state key torch does not have).
    """
    mine = {k: to_numpy(v) for k, v in params.items()}
    theirs = {k: torch.nn.Parameter(torch.from_numpy(to_numpy(v))) for k, v in params.items()}
    optimizer = make_torch_optimizer(list(theirs.values()))
    for i, g in enumerate(grads):
        if set(g) != set(params):
            raise ValueError(f"grads[{i}]: expected the keys {sorted(params)}, got {sorted(g)}")
        step(mine, {k: None if v is None else to_numpy(v) for k, v in g.items()})
        for k, p in theirs.items():
            p.grad = None if g[k] is None else torch.from_numpy(to_numpy(g[k]))
        optimizer.step()
    actual: dict[str, ArrayLike] = {f"param[{k}]": v for k, v in mine.items()}
    expected: dict[str, ArrayLike] = {f"param[{k}]": p for k, p in theirs.items()}
    if state is not None:
        for name, entries in state().items():
            if name not in theirs:
                raise ValueError(f"state(): expected parameter names {sorted(theirs)}, "
                                 f"got {name!r}")
            torch_state = optimizer.state[theirs[name]]
            for key, value in entries.items():
                if key not in torch_state:
                    raise ValueError(f"state()[{name!r}]: torch keeps no {key!r}; "
                                     f"it keeps {sorted(torch_state)}")
                actual[f"state[{name}].{key}"] = _state_value(value)
                expected[f"state[{name}].{key}"] = _state_value(torch_state[key])
    return compare(actual, expected)


# ---------------------------------------------------------------- zeronet adapters

def _zn_forward_backward(model: Any, loss_fn: Any, input_grad: bool) -> ForwardBackward:
    """``forward_backward`` for :func:`compare_gradients` that runs a zeronet model."""
    def forward_backward(params: dict[str, np.ndarray], x: np.ndarray,
                         target: np.ndarray) -> tuple:
        model.zero_grad()
        output = model(x)
        loss = loss_fn(output, target)
        grad_x = model.backward(loss_fn.backward(), input_grad=input_grad)
        if not input_grad and grad_x is not None:
            raise AssertionError(f"backward(input_grad=False) returned {type(grad_x).__name__}, "
                                 f"expected None")
        grads = {name: p.grad for name, p in model.named_parameters()}
        return output, loss, grads, grad_x
    return forward_backward


def check_model(model: Any, x: np.ndarray, target: np.ndarray, loss_fn: Any, *,
                input_grad: bool = True) -> Report:
    """A zeronet Sequential + loss against its torch mirror on one batch.

    The model's gradients are cleared first and hold this batch's afterwards.
    With ``input_grad=False`` zeronet must return None for dL/dx (asserted)
    and only the output, loss and parameter gradients are compared.
    """
    from reference.mirror import mirror, mirror_loss

    return compare_gradients(_zn_forward_backward(model, loss_fn, input_grad), mirror(model),
                             x, target, mirror_loss(loss_fn))


def check_layer(layer: Any, x: np.ndarray, grad_out: np.ndarray, *,
                input_grad: bool = True) -> Report:
    """A zeronet layer against torch's for the upstream gradient ``grad_out``.

    Backpropagating ``grad_out`` = dL/dy is the gradient of the loss
    L = sum(y * grad_out), which is what torch is given. Report names:
    ``output``, ``grad[weight]``, ``grad[bias]``, ``grad_x`` (and ``loss``).
    """
    import zeronet as zn
    from reference.mirror import torch_dtype

    if isinstance(layer, zn.nn.Linear):
        torch_layer = torch.nn.Linear(layer.in_features, layer.out_features,
                                      bias=layer.bias is not None, dtype=torch_dtype(x.dtype))
        torch_layer.load_state_dict({k: torch.from_numpy(v)
                                     for k, v in layer.state_dict().items()})
    elif isinstance(layer, zn.nn.ReLU):
        torch_layer = torch.nn.ReLU()
    else:
        raise TypeError(f"layer: expected zeronet.nn.Linear or ReLU, got {type(layer).__name__}")

    class Upstream:  # L = sum(y * grad_out), so that dL/dy = grad_out
        def __call__(self, y: np.ndarray, g: np.ndarray) -> float:
            return float(np.sum(y * g))

        def backward(self) -> np.ndarray:
            return grad_out

    return compare_gradients(_zn_forward_backward(layer, Upstream(), input_grad), torch_layer,
                             x, grad_out, lambda y, g: (y * g).sum())


def check_loss(loss_fn: Any, output: np.ndarray, target: np.ndarray) -> Report:
    """A zeronet loss against torch's: names ``loss`` and ``grad_x`` (= dL/doutput)."""
    from reference.mirror import mirror_loss

    def forward_backward(params: dict, x: np.ndarray, target: np.ndarray) -> tuple:
        return loss_fn(x, target), {}, loss_fn.backward()

    return compare_gradients(forward_backward, torch.nn.Identity(), output, target,
                             mirror_loss(loss_fn))


def check_optimizer(make_optimizer: Callable[[list[Any]], Any],
                    params: Mapping[str, np.ndarray],
                    grads: Sequence[Mapping[str, np.ndarray | None]]) -> Report:
    """A zeronet optimizer against its torch mirror, fed the same gradients.

    ``make_optimizer(list_of_zeronet_parameters)`` builds the optimizer
    (e.g. ``lambda ps: zn.optim.Adam(ps, lr=0.01, amsgrad=True)``). The report
    covers every parameter and every state entry; zeronet and torch must
    keep the same state keys for each parameter (AssertionError otherwise).
    """
    import zeronet as zn
    from reference.mirror import mirror_optimizer

    zn_params = {k: zn.nn.Parameter(to_numpy(v)) for k, v in params.items()}
    optimizer = make_optimizer(list(zn_params.values()))
    torch_optimizer: list[torch.optim.Optimizer] = []

    def step(values: dict[str, np.ndarray], g: dict[str, np.ndarray | None]) -> None:
        for k, p in zn_params.items():
            p.grad = g[k]
        optimizer.step()
        for k, p in zn_params.items():
            values[k] = p.data

    def make_torch(torch_params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        torch_optimizer.append(mirror_optimizer(optimizer, torch_params))
        return torch_optimizer[0]

    def state() -> dict[str, dict[str, Any]]:
        states = dict(zip(zn_params, optimizer.state, strict=True))
        torch_params = torch_optimizer[0].param_groups[0]["params"]
        for (name, mine), p in zip(states.items(), torch_params, strict=True):
            theirs = {k for k, v in torch_optimizer[0].state[p].items() if v is not None}
            if set(mine) != theirs:
                raise AssertionError(f"state[{name}]: zeronet keeps {sorted(mine)}, "
                                     f"torch keeps {sorted(theirs)}")
        return copy.deepcopy(states)

    return compare_optimizer(step, make_torch, params, grads, state=state)
