"""Move models, losses and optimizers between zeronet and PyTorch.

Weights travel through ``state_dict``: zeronet already stores them in torch's
layout and under torch's keys, so a mirror is the same architecture plus
a copy of every array.
"""

from __future__ import annotations

import numpy as np
import torch

import zeronet as zn

_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_NUMPY_DTYPES = {v: k for k, v in _TORCH_DTYPES.items()}


def torch_dtype(dtype: np.dtype | type) -> torch.dtype:
    """The torch dtype of a float32/float64 NumPy dtype."""
    return _TORCH_DTYPES[np.dtype(dtype)]


def _model_dtype(model: zn.nn.Module) -> np.dtype:
    dtypes = {p.dtype for p in model.parameters()}
    if len(dtypes) != 1:
        raise TypeError(f"model: expected parameters of one dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop()


def mirror(model: zn.nn.Sequential) -> torch.nn.Sequential:
    """A ``torch.nn.Sequential`` with the same layers, weights and dtype as ``model``.

    Raises:
        TypeError: naming ``model`` (or ``model[i]``), if it is not a Sequential of Linear
            and ReLU layers whose parameters share one dtype.
    """
    if not isinstance(model, zn.nn.Sequential):
        raise TypeError(f"model: expected a zeronet.nn.Sequential, got {type(model).__name__}")
    layers = []
    for i, layer in enumerate(model):
        if isinstance(layer, zn.nn.Linear):
            layers.append(torch.nn.Linear(layer.in_features, layer.out_features,
                                          bias=layer.bias is not None))
        elif isinstance(layer, zn.nn.ReLU):
            layers.append(torch.nn.ReLU())
        else:
            raise TypeError(f"model[{i}]: expected Linear or ReLU, got {type(layer).__name__}")
    torch_model = torch.nn.Sequential(*layers).to(torch_dtype(_model_dtype(model)))
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    return torch_model


def from_torch(torch_model: torch.nn.Sequential) -> zn.nn.Sequential:
    """The zeronet model equal to ``torch_model`` (Linear/ReLU layers only).

    Raises:
        TypeError: naming ``torch_model`` (or ``torch_model[i]``), if it is not a
            Sequential of Linear and ReLU layers with float32 or float64 parameters of
            one dtype.
        ValueError: naming ``torch_model[i]`` (a Linear with 0 features) or
            ``torch_model`` (NaN/inf weights).
    """
    if not isinstance(torch_model, torch.nn.Sequential):
        raise TypeError(f"torch_model: expected a torch.nn.Sequential, "
                        f"got {type(torch_model).__name__}")
    dtypes = {p.dtype for p in torch_model.parameters()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _NUMPY_DTYPES:
        raise TypeError(f"torch_model: expected float32 or float64 parameters of one dtype, "
                        f"got {sorted(map(str, dtypes))}")
    dtype = _NUMPY_DTYPES[dtypes.pop()]
    rng = np.random.default_rng(0)  # placeholder weights, overwritten below
    layers: list[zn.nn.Module] = []
    for i, layer in enumerate(torch_model):
        if isinstance(layer, torch.nn.Linear):
            if layer.in_features < 1 or layer.out_features < 1:  # torch allows 0 features
                raise ValueError(f"torch_model[{i}]: expected at least one input and output "
                                 f"feature, got {layer}")
            layers.append(zn.nn.Linear(layer.in_features, layer.out_features,
                                       bias=layer.bias is not None, dtype=dtype, rng=rng))
        elif isinstance(layer, torch.nn.ReLU):
            layers.append(zn.nn.ReLU())
        else:
            raise TypeError(f"torch_model[{i}]: expected Linear or ReLU, "
                            f"got {type(layer).__name__}")
    model = zn.nn.Sequential(*layers)
    try:
        model.load_state_dict({k: v.detach().cpu().numpy()
                               for k, v in torch_model.state_dict().items()})
    except ValueError as err:  # NaN/inf weights
        raise ValueError(f"torch_model: {err}") from err
    return model


def mirror_loss(loss_fn: zn.nn.MSELoss | zn.nn.CrossEntropyLoss) -> torch.nn.Module:
    """The torch loss configured like ``loss_fn``.

    Raises:
        TypeError: naming ``loss_fn``, if it is not a zeronet MSELoss or CrossEntropyLoss.
    """
    if isinstance(loss_fn, zn.nn.MSELoss):
        return torch.nn.MSELoss(reduction=loss_fn.reduction)
    if isinstance(loss_fn, zn.nn.CrossEntropyLoss):
        return torch.nn.CrossEntropyLoss(reduction=loss_fn.reduction)
    raise TypeError(f"loss_fn: expected MSELoss or CrossEntropyLoss, got {type(loss_fn).__name__}")


def mirror_optimizer(optimizer: zn.optim.Optimizer,
                     torch_params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The torch optimizer with ``optimizer``'s hyper-parameters over ``torch_params``.

    ``foreach=False`` pins torch to the single-tensor code path whose order of
    operations zeronet follows (it is also torch's CPU default).

    Raises:
        TypeError: naming ``optimizer``, if it is not a zeronet SGD or Adam, or
            ``torch_params``, if it is not a list or tuple of tensors.
        ValueError: naming ``torch_params``, if their number or shapes differ from the
            optimizer's parameters.
    """
    if not isinstance(optimizer, (zn.optim.Adam, zn.optim.SGD)):
        raise TypeError(f"optimizer: expected zeronet.optim.Adam or SGD, "
                        f"got {type(optimizer).__name__}")
    if not isinstance(torch_params, (list, tuple)) \
            or not all(isinstance(p, torch.Tensor) for p in torch_params):
        raise TypeError(f"torch_params: expected a list of torch tensors, "
                        f"got {type(torch_params).__name__}")
    shapes = [tuple(p.shape) for p in torch_params]
    if shapes != [p.shape for p in optimizer.params]:
        raise ValueError(f"torch_params: expected shapes {[p.shape for p in optimizer.params]} "
                         f"(the optimizer's parameters), got {shapes}")
    if isinstance(optimizer, zn.optim.Adam):
        h = optimizer.hyperparameters
        betas = (float(h["betas"][0]), float(h["betas"][1]))  # torch refuses ints: (0, 0.9)
        return torch.optim.Adam(torch_params, lr=h["lr"], betas=betas, eps=h["eps"],
                                weight_decay=h["weight_decay"], amsgrad=h["amsgrad"],
                                foreach=False)
    h = optimizer.hyperparameters
    return torch.optim.SGD(torch_params, lr=h["lr"], momentum=h["momentum"],
                           dampening=h["dampening"], weight_decay=h["weight_decay"],
                           nesterov=h["nesterov"], foreach=False)
