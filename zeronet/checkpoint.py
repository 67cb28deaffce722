"""Checkpoints: a model, its optimizer and its data loader's position in one safetensors file.

Layout of the file (format version 2; https://github.com/huggingface/safetensors):

* ``model/<name>``: each parameter, keyed as in ``Module.state_dict()``
  (``model/0.weight``, ...), in the model's dtype;
* ``optimizer/state/<index>/<key>``: each array of the optimizer's per-parameter
  state (``optimizer/state/0/exp_avg``, ...);
* the header's ``__metadata__`` (strings): ``format`` ("zeronet-checkpoint"),
  ``version`` ("2"), and as JSON documents ``progress`` (the caller's
  counters and settings), ``optimizer`` (its class, param_groups and scalar
  state such as Adam's ``step``) and ``loader`` (its generator's
  ``bit_generator.state`` and position).

Why safetensors rather than a format of our own (version 1 was an ``.npz``):
it stores arrays uncompressed behind a JSON header whose every byte range
can be checked against the file's size before anything is read, it executes
nothing when loaded (no pickle), and it is what torch users already read:
``safetensors.torch.load_file(path)`` gives the arrays as tensors,
``safetensors.numpy.load_file(path)`` as NumPy arrays. The ``safetensors``
library writes the files; :mod:`zeronet._checkpoint_files` reads them, in
bounded memory (its docstring says why by hand). Version 1 files are still
read, with the same checks and bounds.

Files are written atomically (:func:`zeronet._files.atomic_file`: a temporary
file beside the destination, flushed to disk, then ``os.replace``), so a
failure, Ctrl-C or SIGTERM while saving leaves the previous checkpoint as it
was and no temporary file behind. Loading checks the whole file against the
model, optimizer and loader before changing any of them: each array's name,
dtype and shape from the header before any array is read, then its values.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from zeronet._checkpoint_files import (
    FORMAT,
    MAX_HEADER_BYTES,
    VERSION,
    FileFormatError,
    Stored,
    bounded_json,
    open_checkpoint,
)
from zeronet._files import atomic_file
from zeronet.data.loader import DataLoader
from zeronet.nn.module import Module
from zeronet.optim.optimizer import Optimizer

MODEL_PREFIX = "model/"
OPTIMIZER_PREFIX = "optimizer/state/"
#: The longest str value a checkpoint's progress may hold.
MAX_TEXT = 200
#: The range of an int value in a checkpoint's progress.
MAX_INT = 2**63


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded into the given model, optimizer or loader."""


def save_checkpoint(path: str | os.PathLike[str], model: Module,
                    optimizer: Optimizer | None = None, *, loader: DataLoader | None = None,
                    progress: Mapping[str, int | float | str] | None = None) -> Path:
    """Write ``model`` (and ``optimizer``, ``loader``, ``progress``) to ``path``, atomically.

    ``progress`` holds the caller's counters and settings (e.g. ``{"epoch": 2,
    "step": 37, "optimizer": "adam"}``): string keys; int (|value| < 2**63),
    finite float or short str values (at most ``MAX_TEXT`` characters).
    :func:`load_checkpoint` returns it; :func:`read_progress` reads it alone,
    before a model exists. Returns ``path`` as a ``Path``. The file is written
    exactly at ``path`` (no suffix is added); if ``path`` is a symbolic link,
    its target is replaced.
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
    meta: dict[str, Any] = {"progress": _checked_progress(progress, "progress")}
    meta["optimizer"] = None if optimizer is None else _optimizer_meta(optimizer, arrays)
    meta["loader"] = None if loader is None else loader.state_dict()
    metadata = {"format": FORMAT, "version": str(VERSION)}
    for key, value in meta.items():
        try:
            metadata[key] = json.dumps(value, allow_nan=False)
            bounded_json(metadata[key], key)  # nothing is written that would not load
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{path}: {key} state is not JSON-serialisable within the "
                            f"checkpoint's bounds (no pickle is used): {exc}") from None
    content = safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                                     metadata=metadata)
    if (header := int.from_bytes(content[:8], "little")) > MAX_HEADER_BYTES:
        raise ValueError(f"{path}: the checkpoint's header would be {header} bytes, more than "
                         f"the {MAX_HEADER_BYTES} a checkpoint may have (progress too large?)")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"{path}: directory {directory} does not exist")
    with atomic_file(path) as file:
        file.write(content)
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


def load_checkpoint(path: str | os.PathLike[str], model: Module,
                    optimizer: Optimizer | None = None, *,
                    loader: DataLoader | None = None) -> dict[str, int | float | str]:
    """Restore ``model`` (and ``optimizer``, ``loader``) from ``path``; return the progress.

    Everything is checked first: the format and version (2, or 1 for an
    older ``.npz``), that the model's parameter names, shapes and dtypes
    match the file's header exactly (no casting), that the optimizer is of
    the class that wrote the file with state of the right names, shapes and
    dtypes, all before any array is read; then that the values are finite,
    and that the loader has the same data size and batching. Only then is
    anything written; a failure raises :class:`CheckpointError` naming the
    file and the key and leaves the model, optimizer and loader as they were.
    Memory is bounded by the arrays the model and optimizer expect, whatever
    the file declares. A file written without optimizer (or loader) state
    cannot restore one.

    Raises:
        FileNotFoundError: if there is no file at ``path``.
        CheckpointError: naming ``path``, if the file is not a checkpoint that fits.
    """
    path = Path(path)
    with _opened(path) as stored:
        meta = stored.meta
        wanted = _wanted_arrays(path, stored, model, optimizer)
        for name, (shape, dtype) in wanted.items():  # the header against the model: first
            declared = stored.arrays[name]
            _check_declared(path, name, declared.shape, declared.dtype, shape, dtype)
        try:
            arrays = {name: _finite(path, name, stored.read(name)) for name in wanted}
        except FileFormatError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
    model_state = {name[len(MODEL_PREFIX):]: value for name, value in arrays.items()
                   if name.startswith(MODEL_PREFIX)}
    optimizer_state = None
    if optimizer is not None:
        optimizer_state = _optimizer_state(arrays, meta["optimizer"])
    if loader is not None:
        if meta["loader"] is None:
            raise CheckpointError(f"{path}: key {stored.meta_key!r} has no loader state, but a "
                                  "loader was given to restore")
        try:
            loader.check_state_dict(meta["loader"])
        except (TypeError, ValueError, OverflowError) as exc:
            raise CheckpointError(f"{path}: key {stored.meta_key!r} (loader): {exc}") from None

    # Everything checked; the optimizer validates its state itself, so it goes first.
    if optimizer is not None:
        try:
            optimizer.load_state_dict(optimizer_state)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CheckpointError(f"{path}: optimizer state: {exc}") from None
    model.load_state_dict(model_state)
    if loader is not None:
        loader.load_state_dict(meta["loader"])
    return dict(meta["progress"])


def read_progress(path: str | os.PathLike[str]) -> dict[str, int | float | str]:
    """The ``progress`` stored in the checkpoint at ``path``, without touching any model.

    The file's header is checked as :func:`load_checkpoint` checks it
    (CheckpointError naming the file otherwise), in bounded memory; no array
    is read, as there is no model to compare them with yet. A caller reads
    what a checkpoint was written with (its settings in ``progress``) before
    building the model.

    Raises:
        FileNotFoundError: if there is no file at ``path``.
        CheckpointError: naming ``path``, if the file is not a readable checkpoint.
    """
    path = Path(path)
    with _opened(path) as stored:
        return dict(stored.meta["progress"])


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Stored]:
    """The file's declarations (see :mod:`zeronet._checkpoint_files`), its progress checked."""
    try:
        with open_checkpoint(path) as stored:
            try:
                _checked_progress(stored.meta["progress"], "progress")
            except (TypeError, ValueError) as exc:
                raise CheckpointError(f"{path}: key {stored.meta_key!r}: {exc}") from None
            yield stored
    except FileFormatError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except IsADirectoryError:
        raise
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _check_declared(path: Path, key: str, shape: tuple[int, ...], dtype: np.dtype,
                    expected_shape: tuple[int, ...], expected_dtype: np.dtype) -> None:
    """The header declares exactly this shape and dtype (the parameter's) for ``key``."""
    if shape != expected_shape:
        raise CheckpointError(f"{path}: key {key!r}: expected shape {expected_shape}, "
                              f"got {shape}")
    if dtype != expected_dtype:
        raise CheckpointError(f"{path}: key {key!r}: expected dtype {expected_dtype} (the "
                              f"parameter's), got {dtype}")


def _finite(path: Path, key: str, value: np.ndarray) -> np.ndarray:
    if not np.isfinite(value).all():
        raise CheckpointError(f"{path}: key {key!r}: expected finite values, got "
                              f"{int(np.count_nonzero(~np.isfinite(value)))} NaN/inf entries")
    return value


def _wanted_arrays(path: Path, stored: Stored, model: Module,
                   optimizer: Optimizer | None) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array to read, with the shape and dtype it must have; the names checked."""
    params = dict(model.named_parameters())
    stored_model = {k[len(MODEL_PREFIX):] for k in stored.arrays if k.startswith(MODEL_PREFIX)}
    missing, unexpected = sorted(params.keys() - stored_model), sorted(stored_model - params.keys())
    if missing or unexpected:
        raise CheckpointError(f"{path}: model keys do not match the model: missing "
                              f"{[MODEL_PREFIX + k for k in missing]}, unexpected "
                              f"{[MODEL_PREFIX + k for k in unexpected]}")
    foreign = sorted(k for k in stored.arrays
                     if not k.startswith((MODEL_PREFIX, OPTIMIZER_PREFIX)))
    if foreign:
        raise CheckpointError(f"{path}: unexpected arrays {foreign[:10]}: neither "
                              f"{MODEL_PREFIX}... nor {OPTIMIZER_PREFIX}...")
    wanted = {MODEL_PREFIX + name: (p.shape, p.dtype) for name, p in params.items()}
    if optimizer is not None:
        wanted |= _optimizer_arrays(path, stored, optimizer)
    return wanted


def _optimizer_arrays(path: Path, stored: Stored,
                      optimizer: Optimizer) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The optimizer's arrays the document lists, each with its parameter's shape and dtype."""
    info = stored.meta["optimizer"]
    where = f"{path}: key {stored.meta_key!r} (optimizer)"
    if info is None:
        raise CheckpointError(f"{where}: the file holds no optimizer state, but an optimizer "
                              "was given to restore")
    fields = {"class", "param_groups", "scalar_state", "array_state"}
    if not isinstance(info, dict) or set(info) != fields:
        raise CheckpointError(f"{where}: expected fields {sorted(fields)}, got {info!r:.200}")
    if info["class"] != type(optimizer).__name__:
        raise CheckpointError(f"{where}: written by {info['class']!s:.80}, cannot restore a "
                              f"{type(optimizer).__name__}")
    scalars, array_keys = info["scalar_state"], info["array_state"]
    if not isinstance(scalars, dict) or not isinstance(array_keys, dict) \
            or set(scalars) != set(array_keys) \
            or not all(isinstance(v, dict) for v in scalars.values()) \
            or not all(isinstance(v, list) and all(isinstance(k, str) for k in v)
                       for v in array_keys.values()):
        raise CheckpointError(f"{where}: scalar_state and array_state must be mappings over "
                              f"the same indices, of scalars and of key lists, got "
                              f"{scalars!r:.100} and {array_keys!r:.100}")
    stored_names = {key for key in stored.arrays if key.startswith(OPTIMIZER_PREFIX)}
    listed = {f"{OPTIMIZER_PREFIX}{i}/{k}" for i, keys in array_keys.items() for k in keys}
    if stored_names != listed:
        raise CheckpointError(f"{path}: optimizer arrays do not match key "
                              f"{stored.meta_key!r}: missing {sorted(listed - stored_names)}, "
                              f"unexpected {sorted(stored_names - listed)}")
    wanted = {}
    for index_text, keys in array_keys.items():
        if not (index_text.isascii() and index_text.isdigit()) \
                or int(index_text) >= len(optimizer.params):
            raise CheckpointError(f"{where}: state index {index_text!r:.40} out of range for "
                                  f"{len(optimizer.params)} parameters")
        param = optimizer.params[int(index_text)]
        wanted |= {f"{OPTIMIZER_PREFIX}{index_text}/{key}": (param.shape, param.dtype)
                   for key in keys}
    return wanted


def _optimizer_state(arrays: dict[str, np.ndarray], info: dict[str, Any]) -> dict[str, Any]:
    """The optimizer's ``state_dict`` rebuilt from the (checked) arrays and document."""
    state: dict[int, dict[str, Any]] = {}
    for index_text, keys in info["array_state"].items():
        entry: dict[str, Any] = dict(info["scalar_state"][index_text])
        entry |= {key: arrays[f"{OPTIMIZER_PREFIX}{index_text}/{key}"] for key in keys}
        state[int(index_text)] = entry
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
        number = not isinstance(value, bool) and (
            (isinstance(value, int) and -MAX_INT < value < MAX_INT)
            or (isinstance(value, float) and math.isfinite(value)))
        if not isinstance(key, str) or not (text or number):
            raise ValueError(f"{name}[{key!r:.80}]: expected a str key and an int (|value| "
                             f"< 2**63), a finite float or a str of at most {MAX_TEXT} "
                             f"characters, got {value!r:.80}")
        out[key] = value
    return out
