"""Checkpoints: a model, its optimizer and its data loader's position in one ``.npz`` file.

Layout of the file (no pickle: ``np.load(path, allow_pickle=False)`` reads it):

* ``model/<name>``: each parameter, keyed as in ``Module.state_dict()``
  (``model/0.weight``, ...), in the model's dtype;
* ``optimizer/state/<index>/<key>``: each array of the optimizer's per-parameter
  state (``optimizer/state/0/exp_avg``, ...);
* ``meta``: a 0-d unicode array holding one JSON document with everything
  else: the format name and version, the optimizer's class, param_groups and
  scalar state (Adam's ``step``), the loader's state (its generator's
  ``bit_generator.state``) and the caller's progress counters.

Files are written atomically (a temporary file in the same directory, flushed
to disk, then ``os.replace``), so a failure or Ctrl-C while saving leaves the
previous checkpoint as it was and no temporary file behind. Loading checks
the whole file against the model, optimizer and loader before changing any
of them.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zeronet._files import atomic_file
from zeronet.data.loader import DataLoader
from zeronet.nn.module import Module
from zeronet.optim.optimizer import Optimizer

FORMAT = "zeronet-checkpoint"
VERSION = 1
META_KEY = "meta"
MODEL_PREFIX = "model/"
OPTIMIZER_PREFIX = "optimizer/state/"
#: The longest str value a checkpoint's progress may hold.
MAX_TEXT = 200


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded into the given model, optimizer or loader."""


def save_checkpoint(path: str | os.PathLike[str], model: Module,
                    optimizer: Optimizer | None = None, *, loader: DataLoader | None = None,
                    progress: Mapping[str, int | float] | None = None) -> Path:
    """Write ``model`` (and ``optimizer``, ``loader``, ``progress``) to ``path``, atomically.

    ``progress`` holds the caller's counters and settings (e.g. ``{"epoch": 2,
    "step": 37, "optimizer": "adam"}``): string keys; int, finite float or short
    str values (at most ``MAX_TEXT`` characters). :func:`load_checkpoint` returns
    it; :func:`read_progress` reads it alone, before a model exists.
    Returns ``path`` as a ``Path``. The file is written exactly at ``path``
    (no suffix is added).
    """
    path = Path(path)
    if not isinstance(model, Module):
        raise TypeError(f"model: expected a zeronet.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a zeronet.optim.Optimizer, "
                        f"got {type(optimizer).__name__}")
    if loader is not None and not isinstance(loader, DataLoader):
        raise TypeError(f"loader: expected a zeronet.data.DataLoader, got {type(loader).__name__}")
    arrays = {MODEL_PREFIX + name: value for name, value in model.state_dict().items()}
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                            "progress": _checked_progress(progress, "progress")}
    meta["optimizer"] = None if optimizer is None else _optimizer_meta(optimizer, arrays)
    meta["loader"] = None if loader is None else loader.state_dict()
    try:
        arrays[META_KEY] = np.array(json.dumps(meta, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{path}: optimizer, loader or progress state is not JSON-serialisable "
                        f"(no pickle is used): {exc}") from None
    _atomic_savez(path, arrays)
    return path


def _optimizer_meta(optimizer: Optimizer, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Put the optimizer's state arrays into ``arrays``; return the rest as JSON-able values."""
    state_dict = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    array_keys: dict[str, list[str]] = {}
    for index, entry in state_dict["state"].items():
        scalars[str(index)], array_keys[str(index)] = {}, []
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"{OPTIMIZER_PREFIX}{index}/{key}"] = value
                array_keys[str(index)].append(key)
            else:
                scalars[str(index)][key] = value.item() if isinstance(value, np.generic) else value
    return {"class": type(optimizer).__name__, "param_groups": state_dict["param_groups"],
            "scalar_state": scalars, "array_state": array_keys}


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez into ``path``, whole or not at all (see :func:`zeronet._files.atomic_file`)."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"{path}: directory {directory} does not exist")
    with atomic_file(path) as file:
        np.savez(file, **arrays)


def load_checkpoint(path: str | os.PathLike[str], model: Module,
                    optimizer: Optimizer | None = None, *,
                    loader: DataLoader | None = None) -> dict[str, int | float | str]:
    """Restore ``model`` (and ``optimizer``, ``loader``) from ``path``; return the progress.

    Everything is checked first: the format and version, that the model's
    parameter names, shapes and dtypes match the file exactly (no casting),
    that the values are finite, that the optimizer is of the class that wrote
    the file with state of the right shapes and dtypes, and that the loader
    has the same data size and batching. Only then is anything written; a
    failure raises :class:`CheckpointError` naming the file and the key and
    leaves the model, optimizer and loader as they were. A file written
    without optimizer (or loader) state cannot restore one.
    """
    path = Path(path)
    arrays, meta = _read(path)
    model_state = _checked_model_state(path, arrays, model)
    optimizer_state = None
    if optimizer is not None:
        optimizer_state = _checked_optimizer_state(path, arrays, meta, optimizer)
    if loader is not None:
        if meta["loader"] is None:
            raise CheckpointError(f"{path}: key 'meta' has no loader state, but a loader "
                                  "was given to restore")
        try:
            loader.check_state_dict(meta["loader"])
        except ValueError as exc:
            raise CheckpointError(f"{path}: key 'meta' (loader): {exc}") from None

    # Everything checked; the optimizer validates its state itself, so it goes first.
    if optimizer is not None:
        try:
            optimizer.load_state_dict(optimizer_state)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: optimizer state: {exc}") from None
    model.load_state_dict(model_state)
    if loader is not None:
        loader.load_state_dict(meta["loader"])
    return dict(meta["progress"])


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """All arrays of the file (read into memory) and its parsed, checked meta document."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file does not exist")
    try:
        with open(path, "rb") as file:  # ours to close, also when np.load fails
            loaded = np.load(file, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError(f"np.load gave a {type(loaded).__name__}, not an .npz archive")
            arrays = {key: loaded[key] for key in loaded.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint ({exc})") from None
    if META_KEY not in arrays:
        raise CheckpointError(f"{path}: key {META_KEY!r} missing; not a zeronet checkpoint")
    raw = arrays.pop(META_KEY)
    if raw.shape != () or raw.dtype.kind != "U":
        raise CheckpointError(f"{path}: key {META_KEY!r}: expected a 0-d unicode array, "
                              f"got dtype {raw.dtype} shape {raw.shape}")
    try:
        meta = json.loads(str(raw[()]))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: key {META_KEY!r}: not valid JSON ({exc})") from None
    expected = {"format", "version", "progress", "optimizer", "loader"}
    if not isinstance(meta, dict) or set(meta) != expected:
        found = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path}: key {META_KEY!r}: expected fields {sorted(expected)}, "
                              f"got {found}")
    if meta["format"] != FORMAT or meta["version"] != VERSION:
        raise CheckpointError(f"{path}: key {META_KEY!r}: expected format {FORMAT!r} version "
                              f"{VERSION}, got {meta['format']!r} version {meta['version']!r}")
    try:
        _checked_progress(meta["progress"], "progress")
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: key {META_KEY!r}: {exc}") from None
    return arrays, meta


def read_progress(path: str | os.PathLike[str]) -> dict[str, int | float | str]:
    """The ``progress`` stored in the checkpoint at ``path``, without touching any model.

    The whole file is checked as :func:`load_checkpoint` checks its format
    (CheckpointError naming the file otherwise); the arrays are not compared
    with anything, as there is no model yet. A caller reads what a checkpoint
    was written with (its settings in ``progress``) before building the model.
    """
    path = Path(path)
    return dict(_read(path)[1]["progress"])


def _checked_array(path: Path, key: str, value: np.ndarray, shape: tuple[int, ...],
                   dtype: np.dtype) -> np.ndarray:
    """``value`` if it has exactly this shape and dtype (its parameter's) and is finite."""
    if value.shape != shape:
        raise CheckpointError(f"{path}: key {key!r}: expected shape {shape}, got {value.shape}")
    if value.dtype != dtype:
        raise CheckpointError(f"{path}: key {key!r}: expected dtype {dtype} (the parameter's), "
                              f"got {value.dtype}")
    if not np.isfinite(value).all():
        raise CheckpointError(f"{path}: key {key!r}: expected finite values, got "
                              f"{int(np.count_nonzero(~np.isfinite(value)))} NaN/inf entries")
    return value


def _checked_model_state(path: Path, arrays: dict[str, np.ndarray],
                         model: Module) -> dict[str, np.ndarray]:
    params = dict(model.named_parameters())
    stored = {key[len(MODEL_PREFIX):] for key in arrays if key.startswith(MODEL_PREFIX)}
    missing, unexpected = sorted(params.keys() - stored), sorted(stored - params.keys())
    if missing or unexpected:
        raise CheckpointError(f"{path}: model keys do not match the model: missing "
                              f"{[MODEL_PREFIX + k for k in missing]}, unexpected "
                              f"{[MODEL_PREFIX + k for k in unexpected]}")
    return {name: _checked_array(path, MODEL_PREFIX + name, arrays[MODEL_PREFIX + name],
                                 p.shape, p.dtype) for name, p in params.items()}


def _checked_optimizer_state(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any],
                             optimizer: Optimizer) -> dict[str, Any]:
    """Rebuild the optimizer's ``state_dict`` from the file, checking what the file can tell."""
    info = meta["optimizer"]
    where = f"{path}: key {META_KEY!r} (optimizer)"
    if info is None:
        raise CheckpointError(f"{where}: the file holds no optimizer state, but an optimizer "
                              "was given to restore")
    fields = {"class", "param_groups", "scalar_state", "array_state"}
    if not isinstance(info, dict) or set(info) != fields:
        raise CheckpointError(f"{where}: expected fields {sorted(fields)}, got {info!r:.200}")
    if info["class"] != type(optimizer).__name__:
        raise CheckpointError(f"{where}: written by {info['class']}, cannot restore a "
                              f"{type(optimizer).__name__}")
    scalars, array_keys = info["scalar_state"], info["array_state"]
    if not isinstance(scalars, dict) or not isinstance(array_keys, dict) \
            or set(scalars) != set(array_keys):
        raise CheckpointError(f"{where}: scalar_state and array_state must be mappings over "
                              f"the same indices, got {sorted(scalars)} and {sorted(array_keys)}")
    stored = {key for key in arrays if key.startswith(OPTIMIZER_PREFIX)}
    listed = {f"{OPTIMIZER_PREFIX}{i}/{k}" for i, keys in array_keys.items() for k in keys}
    if stored != listed:
        raise CheckpointError(f"{path}: optimizer arrays do not match key 'meta': missing "
                              f"{sorted(listed - stored)}, unexpected {sorted(stored - listed)}")
    state: dict[int, dict[str, Any]] = {}
    for index_text, keys in array_keys.items():
        if not index_text.isdigit() or int(index_text) >= len(optimizer.params):
            raise CheckpointError(f"{where}: state index {index_text!r} out of range for "
                                  f"{len(optimizer.params)} parameters")
        index = int(index_text)
        param = optimizer.params[index]
        entry: dict[str, Any] = dict(scalars[index_text])
        for key in keys:
            name = f"{OPTIMIZER_PREFIX}{index}/{key}"
            entry[key] = _checked_array(path, name, arrays[name], param.shape, param.dtype)
        state[index] = entry
    groups = info["param_groups"]
    if isinstance(groups, list):  # JSON has no tuples: betas come back as a list
        groups = [{k: tuple(v) if k == "betas" and isinstance(v, list) else v
                   for k, v in g.items()} if isinstance(g, dict) else g for g in groups]
    return {"state": state, "param_groups": groups}


def _checked_progress(progress: Mapping[str, Any] | None,
                      name: str) -> dict[str, int | float | str]:
    if progress is None:
        return {}
    if not isinstance(progress, Mapping):
        raise TypeError(f"{name}: expected a mapping of str -> int/float/str, "
                        f"got {type(progress).__name__}")
    out: dict[str, int | float | str] = {}
    for key, value in progress.items():
        if isinstance(value, np.generic):
            value = value.item()
        text = isinstance(value, str) and len(value) <= MAX_TEXT
        number = not isinstance(value, bool) and isinstance(value, (int, float)) \
            and not (isinstance(value, float) and not math.isfinite(value))
        if not isinstance(key, str) or not (text or number):
            raise ValueError(f"{name}[{key!r}]: expected a str key and an int, a finite "
                             f"float or a str of at most {MAX_TEXT} characters, "
                             f"got {value!r:.80}")
        out[key] = value
    return out
