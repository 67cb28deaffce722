"""What ``zeronet check FILE`` does: run every check an adapter file defines, print, 0/1/2.

(The subcommand itself is registered in ``zeronet_study/commands.py``, the
layer of commands, and imports this module only when it runs.)

The contract of FILE (docs/check-your-network.md has worked examples):

* FILE is a Python file; it is imported as a fresh module, with its own folder
  first on ``sys.path`` so that it can import the code under check beside it.
* Every top-level function whose name starts with ``check_`` and that takes no
  arguments is a check; the checks run in the order they are defined.
* A check returns a :class:`reference.Report` (e.g. what
  ``reference.compare_gradients`` returns), or a list, tuple or dict of them.

Exit status: **0** when every report passed; **1** when any report has a
finding, or the code under check raised or returned something the check
could not compare (:class:`reference.UserCodeError`) — the student's code is at
fault; **2** when FILE itself is broken: missing, not importable, defining no
check, a check that needs arguments, returns something else than reports or
raises any other error. A teacher can loop over submissions::

    for f in submissions/*/check.py; do zeronet check "$f" --brief; done
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from reference.calls import UserCodeError
from reference.report import Report

__all__ = ["BrokenFileError", "CheckResult", "check_file", "run_file"]


class BrokenFileError(Exception):
    """FILE cannot be run as a set of checks; the message says why (exit status 2)."""


@dataclass
class CheckResult:
    """One check_* function: its reports, or the error of the code under check."""

    name: str
    reports: list[tuple[str, Report]] = field(default_factory=list)
    error: UserCodeError | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(r.passed for _, r in self.reports)

    def brief(self) -> str:
        if self.error is not None:
            return f"{self.name}: the code under check failed: {str(self.error).splitlines()[0]}"
        kinds = [f"{f.kind} at {f.tensor}" for _, r in self.reports for f in r.findings]
        return f"{self.name}: " + ("passed" if not kinds else "; ".join(kinds))


@contextmanager
def _first_on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        if sys.path and sys.path[0] == str(folder):
            sys.path.pop(0)


def _import(path: Path) -> ModuleType:
    if not path.is_file():
        raise BrokenFileError(f"{path}: no such file")
    if path.suffix != ".py":
        raise BrokenFileError(f"{path}: expected a Python file (.py)")
    name = f"zeronet_check_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BrokenFileError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise BrokenFileError(f"{path}: importing it raised {type(err).__name__}: {err}\n"
                              f"{traceback.format_exc(limit=-3)}") from err
    return module


def _checks(module: ModuleType, path: Path) -> list[tuple[str, Callable[[], object]]]:
    found = [(n, f) for n, f in vars(module).items() if n.startswith("check_")
             and inspect.isfunction(f) and f.__module__ == module.__name__]
    if not found:
        raise BrokenFileError(f"{path}: defines no check_* function")
    found.sort(key=lambda item: item[1].__code__.co_firstlineno)
    for name, function in found:
        required = [p for p in inspect.signature(function).parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if required:
            raise BrokenFileError(f"{path}: {name}() takes arguments "
                                  f"({', '.join(p.name for p in required)}); a check takes none")
    return found


def _reports(name: str, value: object, path: Path) -> list[tuple[str, Report]]:
    if isinstance(value, Report):
        return [(name, value)]
    items = (list(value.items()) if isinstance(value, dict) else
             list(enumerate(value)) if isinstance(value, (list, tuple)) else None)
    if items and all(isinstance(r, Report) for _, r in items):
        return [(f"{name}[{key!r}]", r) for key, r in items]
    raise BrokenFileError(f"{path}: {name}() returned {type(value).__name__}; expected a "
                          f"reference.Report, or a list or dict of them")


def run_file(path: str | Path) -> list[CheckResult]:
    """Run every check of ``path``; its results in order.

    Raises:
        BrokenFileError: ``path`` is missing, cannot be imported, defines no check, or
            a check needs arguments, returns no reports or raises something else than
            a UserCodeError.
    """
    path = Path(path).resolve()
    results = []
    with _first_on_path(path.parent):
        module = _import(path)
        for name, function in _checks(module, path):
            result = CheckResult(name)
            try:
                result.reports = _reports(name, function(), path)
            except UserCodeError as err:
                result.error = err
            except BrokenFileError:
                raise
            except Exception as err:
                raise BrokenFileError(f"{path}: {name}() raised {type(err).__name__}: {err}\n"
                                      f"{traceback.format_exc(limit=-3)}") from err
            results.append(result)
    return results


def check_file(file: str | Path, *, brief: bool = False) -> int:
    """Run ``file``'s checks; the reports on stdout (one line each if ``brief``); 0, 1 or 2.

    A broken file is one line on stderr (and the last frames of its error).
    """
    try:
        results = run_file(file)
    except BrokenFileError as err:
        print(f"zeronet check: {err}".rstrip(), file=sys.stderr)
        return 2
    for result in results:
        if brief:
            print(result.brief())
            continue
        print(f"== {result.name}")
        if result.error is not None:
            cause = result.error.__cause__
            print(f"the code under check failed: {result.error}")
            if cause is not None:
                print("".join(traceback.format_exception(cause, limit=-3)).rstrip())
        for label, report in result.reports:
            if label != result.name:
                print(f"-- {label}")
            print(report)
        print()
    failed = [r.name for r in results if not r.passed]
    print(f"{file}: {len(results)} check(s), {len(results) - len(failed)} passed"
          + (f", failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
