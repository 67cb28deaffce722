"""A functional network in the style of CS231n's layers.py / optim.py / solver.py.

Convention: every layer is a pair ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``; weights are ``w`` (in, out), biases
``b`` (out,); x is (N, features); ``softmax_loss`` takes class indices;
parameters live in a dict ``{"W1", "b1", "W2", ...}``; update rules have
optim.py's shape ``rule(w, dw, config) -> (next_w, config)`` with the state
(``m``, ``v``, ``t``, ``velocity``) in the config dict; a small ``Solver``
runs the training step. The adapters at the bottom tell the checker:
``layout="in_out"``, ``samples="rows"``, ``names={"W1": "0.weight", "b1":
"0.bias", "W2": "2.weight", ...}`` (a mapping), Adam ``state_names={"m":
"exp_avg", "v": "exp_avg_sq", "t": "step"}``. The whole-network adapter
returns ``(loss, grads, dx)``: CS231n's loss function does not hand back the
scores.

Everything keeps the dtype it is given (float32 in, float32 out).

Injectable bugs (names in ``bugs``; each switches the line marked ``# bug: <name>``):

=======================  ==================================================================
extra-1/N                ``affine_backward``: ``dw = x.T @ dout / N``, ``db = ... / N``
missing-1/N              ``softmax_loss``: no ``/ N`` on the loss nor on ``dx``;
                         ``mse_loss``: summed over the batch, ``dpred = 2 * diff / D``
factor                   ``mse_loss``: ``0.5 * mean`` (and its gradient ``diff / size``)
sign                     ``sgd``/``sgd_momentum``/``adam``: the step is added
                         (``w += lr * dw``, ``v = mu * v + lr * dw``, ``w + lr * mt / ...``)
transposed               ``affine_backward``: ``dw = dout.T @ x`` (torch's (out, in) formula)
relu-at-0                ``relu_backward``: ``dout * (x >= 0)``
ce-precedence            ``softmax_loss``: ``dx[np.arange(N), y] -= 1 / N`` (softmax - y/N)
softmax-overflow         ``softmax_loss``: ``probs = np.exp(x) / sum`` of the raw scores, and the
                         loss as ``-log(probs)``
input-mutated            ``softmax_loss``: ``x -= x.max(...)`` shifts the caller's scores;
                         ``mse_loss``: ``diff = pred; diff -= y``; ``relu_forward``:
                         ``np.maximum(x, 0, out=x)`` (all invisible inside ``loss``)
grad-mutated             ``relu_backward``: ``dx = dout; dx[x <= 0] = 0``
adam-bias-correction     ``adam``: ``mt = m / (1 - beta1)``, ``vt = v / (1 - beta2)``
grad-accumulated         ``Solver.step``: gradients summed into ``self.grad_sum``, never reset
init-fan                 ``init_params``: std ``sqrt(2 / fan_out)``
init-gain                ``init_params``: std ``sqrt(1 / fan_in)`` (gain 1)
init-distribution        ``init_params``: uniform with the same std instead of normal
init-zero                ``init_params``: ``W = np.zeros(...)``
=======================  ==================================================================
"""

from __future__ import annotations

import numpy as np

BUGS = frozenset({
    "extra-1/N", "missing-1/N", "factor", "sign", "transposed", "relu-at-0", "ce-precedence",
    "softmax-overflow", "input-mutated", "grad-mutated", "adam-bias-correction",
    "grad-accumulated", "init-fan", "init-gain", "init-distribution", "init-zero",
})
NO_BUGS: frozenset[str] = frozenset()


def _bugs(bugs) -> frozenset[str]:
    bugs = frozenset(bugs)
    if bugs - BUGS:
        raise ValueError(f"cs231n: unknown bugs {sorted(bugs - BUGS)}; known: {sorted(BUGS)}")
    return bugs


# ---------------------------------------------------------------- layers


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache, bugs=NO_BUGS):
    x, w, _ = cache
    N = x.shape[0]
    x2d = x.reshape(N, -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2d.T @ dout
    if "transposed" in bugs:
        dw = dout.T @ x2d  # bug: transposed
    db = np.sum(dout, axis=0)
    if "extra-1/N" in bugs:
        dw, db = dw / N, db / N  # bug: extra-1/N
    return dx, dw, db


def relu_forward(x, bugs=NO_BUGS):
    out = np.maximum(0, x)
    if "input-mutated" in bugs:
        out = np.maximum(x, 0, out=x)  # bug: input-mutated
    cache = x
    return out, cache


def relu_backward(dout, cache, bugs=NO_BUGS):
    x = cache
    if "grad-mutated" in bugs:
        dx = dout  # bug: grad-mutated (no copy)
        dx[x <= 0] = 0
        return dx
    if "relu-at-0" in bugs:
        return dout * (x >= 0)  # bug: relu-at-0
    return dout * (x > 0)


# ---------------------------------------------------------------- losses


def softmax_loss(x, y, bugs=NO_BUGS):
    """Scores x (N, C), labels y (N,) -> (mean cross-entropy, dL/dx)."""
    N = x.shape[0]
    if "softmax-overflow" in bugs:
        probs = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)  # bug: softmax-overflow
        log_probs = np.log(probs)
    else:
        if "input-mutated" in bugs:
            x -= np.max(x, axis=1, keepdims=True)  # bug: input-mutated
            shifted = x
        else:
            shifted = x - np.max(x, axis=1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        probs = np.exp(log_probs)
    loss = -np.sum(log_probs[np.arange(N), y])
    dx = probs.copy()
    if "ce-precedence" in bugs:
        dx[np.arange(N), y] -= 1 / N  # bug: ce-precedence
        return loss / N, dx
    dx[np.arange(N), y] -= 1
    if "missing-1/N" in bugs:
        return loss, dx  # bug: missing-1/N
    return loss / N, dx / N


def mse_loss(pred, y, bugs=NO_BUGS):
    """Mean squared error over every element -> (loss, dL/dpred)."""
    diff = pred - y
    if "input-mutated" in bugs:
        diff = pred  # bug: input-mutated
        diff -= y
    if "missing-1/N" in bugs:
        D = diff.shape[1]
        return np.sum(diff ** 2) / D, 2 * diff / D  # bug: missing-1/N
    if "factor" in bugs:
        return 0.5 * np.mean(diff ** 2), diff / diff.size  # bug: factor
    return np.mean(diff ** 2), 2 * diff / diff.size


# ---------------------------------------------------------------- the network


def init_params(dims, rng, scheme="kaiming", weight_scale=1e-2, dtype=np.float64,
                bugs=NO_BUGS):
    """{"W1": (dims[0], dims[1]), "b1": (dims[1],), ...}; "kaiming": N(0, 2 / fan_in)."""
    params = {}
    for i in range(len(dims) - 1):
        fan_in, fan_out = dims[i], dims[i + 1]
        std = weight_scale
        if scheme == "kaiming":
            std = np.sqrt(2.0 / fan_in)
            if "init-fan" in bugs:
                std = np.sqrt(2.0 / fan_out)  # bug: init-fan
            if "init-gain" in bugs:
                std = np.sqrt(1.0 / fan_in)  # bug: init-gain
        W = std * rng.standard_normal((fan_in, fan_out))
        if "init-distribution" in bugs:
            bound = np.sqrt(3.0) * std
            W = rng.uniform(-bound, bound, (fan_in, fan_out))  # bug: init-distribution
        if "init-zero" in bugs:
            W = np.zeros((fan_in, fan_out))  # bug: init-zero
        params[f"W{i + 1}"] = W.astype(dtype)
        params[f"b{i + 1}"] = np.zeros(fan_out, dtype=dtype)
    return params


def forward(params, X, bugs=NO_BUGS):
    """affine - relu - ... - affine; returns the scores and the caches."""
    num_layers = len([k for k in params if k.startswith("W")])
    caches = []
    h = X
    for i in range(1, num_layers + 1):
        h, cache = affine_forward(h, params[f"W{i}"], params[f"b{i}"])
        caches.append(cache)
        if i < num_layers:
            h, cache = relu_forward(h, bugs)
            caches.append(cache)
    return h, caches


def backward(dscores, caches, bugs=NO_BUGS):
    """grads {"W1": ..., "b1": ...} and dX from dL/dscores and forward's caches."""
    grads = {}
    num_layers = (len(caches) + 1) // 2
    dh = dscores
    for i in range(num_layers, 0, -1):
        if i < num_layers:
            dh = relu_backward(dh, caches.pop(), bugs)
        dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, caches.pop(), bugs)
    return grads, dh


def data_loss(scores, y, task, bugs=NO_BUGS):
    if task == "classification":
        return softmax_loss(scores, y, bugs)
    return mse_loss(scores, y, bugs)


def loss(params, X, y, task="classification", bugs=NO_BUGS):
    """(loss, grads), as a CS231n model's loss(X, y)."""
    scores, caches = forward(params, X, bugs)
    value, dscores = data_loss(scores, y, task, bugs)
    grads, _ = backward(dscores, caches, bugs)
    return value, grads


# ---------------------------------------------------------------- update rules (optim.py)


def sgd(w, dw, config=None, bugs=NO_BUGS):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    if "sign" in bugs:
        w += config["learning_rate"] * dw  # bug: sign
    else:
        w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None, bugs=NO_BUGS):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    if "sign" in bugs:
        v = config["momentum"] * v + config["learning_rate"] * dw  # bug: sign
    else:
        v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def adam(w, dw, config=None, bugs=NO_BUGS):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * dw ** 2
    mt = config["m"] / (1 - beta1 ** config["t"])
    vt = config["v"] / (1 - beta2 ** config["t"])
    if "adam-bias-correction" in bugs:
        mt, vt = config["m"] / (1 - beta1), config["v"] / (1 - beta2)  # bug: adam-bias-correction
    step = config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"])
    if "sign" in bugs:
        return w + step, config  # bug: sign
    return w - step, config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "adam": adam}


class Solver:
    """The training step of CS231n's Solver: loss, then one update per parameter."""

    def __init__(self, params, update_rule, optim_config, task, bugs=NO_BUGS):
        self.params = params
        self.update_rule = update_rule
        self.configs = {k: dict(optim_config) for k in params}
        self.task = task
        self.bugs = _bugs(bugs)
        self.grad_sum = {}

    def step(self, X, y):
        value, grads = loss(self.params, X, y, self.task, self.bugs)
        if "grad-accumulated" in self.bugs:  # bug: grad-accumulated (meant for micro-batches)
            for k in grads:
                self.grad_sum[k] = self.grad_sum.get(k, 0) + grads[k]
            grads = self.grad_sum
        for k, w in self.params.items():
            next_w, self.configs[k] = self.update_rule(w, grads[k], self.configs[k], self.bugs)
            self.params[k] = next_w
        return value


# ------------------------------------------------------------------------------------------
# Adapters: what this network's author hands to reference.compare_*.

LAYOUT, SAMPLES = "in_out", "rows"
LAYER_NAMES = {"w": "weight", "b": "bias"}  # an affine layer alone
STATE_NAMES = {"sgd": None, "sgd_momentum": None,  # velocity = -lr * torch's momentum_buffer
               "adam": {"m": "exp_avg", "v": "exp_avg_sq", "t": "step"}}
OPTIMIZERS = ("sgd", "sgd_momentum", "adam")


def network_names(n_linear):
    names = {}
    for k in range(1, n_linear + 1):
        names[f"W{k}"] = f"{2 * (k - 1)}.weight"
        names[f"b{k}"] = f"{2 * (k - 1)}.bias"
    return names


def make_network(sizes, task, bugs=NO_BUGS):
    """forward_backward(params, x, target) -> (loss, grads, grad_x)."""
    bugs = _bugs(bugs)

    def forward_backward(params, x, target):
        scores, caches = forward(params, x, bugs)
        value, dscores = data_loss(scores, target, task, bugs)
        grads, dx = backward(dscores, caches, bugs)
        return value, grads, dx
    return forward_backward


def make_layer(kind, bugs=NO_BUGS):
    """forward_backward(params, x, grad_out) -> (output, grads, grad_x) for "linear" or "relu"."""
    bugs = _bugs(bugs)

    def forward_backward(params, x, grad_out):
        if kind == "relu":
            out, cache = relu_forward(x, bugs)
            return out, {}, relu_backward(grad_out, cache, bugs)
        out, cache = affine_forward(x, params["w"], params["b"])
        dx, dw, db = affine_backward(grad_out, cache, bugs)
        return out, {"w": dw, "b": db}, dx
    return forward_backward


def make_loss(task, bugs=NO_BUGS):
    """forward_backward(output, target) -> (loss, grad_output)."""
    bugs = _bugs(bugs)

    def forward_backward(output, target):
        return data_loss(output, target, task, bugs)
    return forward_backward


def _config(name, hyper):
    config = {"learning_rate": hyper["lr"]}
    if name == "sgd_momentum":
        config["momentum"] = hyper["momentum"]
    if name == "adam":
        config |= {"beta1": hyper["beta1"], "beta2": hyper["beta2"], "epsilon": hyper["eps"]}
    return config


def make_optimizer(name, hyper, bugs=NO_BUGS):
    """(step(params, grads) rebinding params[k], state() or None)."""
    bugs = _bugs(bugs)
    rule = UPDATE_RULES[name]
    configs = {}

    def step(params, grads):
        for k in params:
            config = configs.setdefault(k, _config(name, hyper))
            params[k], configs[k] = rule(params[k], grads[k], config, bugs)

    def state():
        return {k: {"m": c["m"], "v": c["v"], "t": c["t"]} for k, c in configs.items()}
    return step, (state if name == "adam" else None)


def make_training(sizes, task, optimizer_name, hyper, bugs=NO_BUGS):
    """train_step(params, x, target) -> loss before the update; rebinds params[k]."""
    solver = None

    def train_step(params, x, target):
        nonlocal solver
        if solver is None:
            solver = Solver(params, UPDATE_RULES[optimizer_name],
                            _config(optimizer_name, hyper), task, bugs)
        solver.params = params
        return solver.step(x, target)
    return train_step


def make_init(torch_shape, seed, dtype=np.float64, bugs=NO_BUGS):
    """init() -> a fresh (in, out) W1 of init_params([in, out]); torch_shape is (out, in)."""
    out_dim, in_dim = torch_shape
    rng = np.random.default_rng(seed)

    def init():
        return init_params([in_dim, out_dim], rng, dtype=dtype, bugs=bugs)["W1"]
    return init
