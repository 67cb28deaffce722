"""Ctrl-C that Python loses: record it, so an interrupted run is never taken for a finished
one; and signals held back for the few steps that must not be cut in two.

Python runs a signal handler between two bytecodes of the main thread,
wherever that is. When it is inside a weakref callback or a ``__del__``, the
KeyboardInterrupt is printed as "Exception ignored in ..." and dropped; inside
some extension modules' imports it vanishes without a word. Either way the
run goes on, and would in the end replace the previous report (``zeronet
report``: about one Ctrl-C in three) or train to the end (``zeronet train``).
:func:`signals_recorded` makes the loss harmless. Kept here, not in a library:
the standard library has no way to see a dropped KeyboardInterrupt but
``sys.unraisablehook``, and both commands need the same few lines.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

#: The signals that interrupt a command (those this platform has).
_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None))
                 if s is not None)
#: Seconds after a dropped interrupt before it is sent again.
RESEND_DELAY = 0.01


@contextlib.contextmanager
def signals_recorded() -> Iterator[list[int]]:
    """Within the block, note every SIGINT (and SIGTERM, if Python handles it) received.

    Yields the list of signal numbers received so far. The handlers installed
    here append to it, then call the previous handler (which raises
    KeyboardInterrupt, or SystemExit for the CLI's SIGTERM handler), so the
    caller can tell that the block was interrupted even if that exception was
    lost. One that Python reports as dropped (``sys.unraisablehook``) is also
    sent again a moment later from another thread, to land in ordinary code
    and stop the run at once; sending it from the hook would raise it in the
    hook, where it would be dropped again. Outside the main thread (where
    handlers cannot be set) nothing is recorded.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous_handlers: dict[int, Any] = {}
    previous_hook = sys.unraisablehook
    lock = threading.Lock()
    done = False
    resend_pending = False

    def record(signum: int, frame: Any) -> None:
        received.append(signum)
        previous_handlers[signum](signum, frame)

    def resend(signum: int) -> None:
        nonlocal resend_pending
        with lock:
            resend_pending = False
            if done:
                return
            if hasattr(signal, "pthread_kill"):  # a real signal also ends a sleep or a wait
                signal.pthread_kill(threading.main_thread().ident, signum)
            else:
                _thread.interrupt_main(signum)

    def hook(unraisable: Any) -> None:
        nonlocal resend_pending
        if not received or not isinstance(unraisable.exc_value, (KeyboardInterrupt, SystemExit)):
            previous_hook(unraisable)
            return
        with lock:
            if not resend_pending and not done:
                resend_pending = True
                timer = threading.Timer(RESEND_DELAY, resend, args=(received[-1],))
                timer.daemon = True
                timer.start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):  # default_int_handler, the CLI's; not SIG_DFL or SIG_IGN
            previous_handlers[signum] = handler
            signal.signal(signum, record)
    sys.unraisablehook = hook
    try:
        yield received
    finally:
        with lock:
            done = True
        sys.unraisablehook = previous_hook
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Within the block, a SIGINT or SIGTERM waits: it is delivered as the block ends.

    For the short steps that must not be cut in two (create a temporary folder
    and remember its name; swap the new report in and say so; take or drop the
    lock): :meth:`SignalGuard.deferred` for one block. The previous handler
    then runs, so its KeyboardInterrupt (or the CLI's Terminated) is raised
    there. Outside the main thread nothing is deferred (no handler can be set
    there).
    """
    with SignalGuard() as guard, guard.deferred():
        yield


class _Terminated(BaseException):
    """A signal whose action is to end the process, raised instead to clean up first."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


class SignalGuard:
    """SIGINT and SIGTERM for the time of a block that cleans up after itself.

    Used by :func:`zeronet._files.atomic_file` (whose module docstring says why
    a Python handler and not ``pthread_sigmask``) and by :func:`signals_deferred`.

    While it is entered, both signals go to :meth:`_handle` (in the main thread;
    only there may handlers be set, and only there does Python run them:
    elsewhere this does nothing). Outside :meth:`deferred` it does what the
    handler it replaced would do, except that a signal whose action is the
    system default raises :class:`_Terminated`; the signal is sent again, with
    that action, when the guard is left. Inside :meth:`deferred` it only notes
    the signal, delivered when the block ends. Should the guard be left before
    its handler is put back (a signal in the instant it is left), the handler
    does exactly what the one it replaced did.
    """

    def __init__(self) -> None:
        self.enabled = threading.current_thread() is threading.main_thread() and bool(_SIGNALS)
        self.inside = self.deferring = False
        self.noted: list[int] = []
        self.previous: dict[int, Any] = {}
        self.terminated: int | None = None
        self.handler = self._handle  # one bound method, to recognise it when restoring

    def __enter__(self) -> SignalGuard:
        if self.enabled:
            self.inside = True
            try:
                for signum in _SIGNALS:
                    old = signal.getsignal(signum)
                    if old is None or old == signal.SIG_IGN:  # not set from Python, or ignored
                        continue
                    self.previous[signum] = old
                    signal.signal(signum, self.handler)
            except BaseException:
                self.__exit__(None, None, None)
                raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.enabled:
            return
        self.inside = False
        for signum, old in self.previous.items():
            if signal.getsignal(signum) == self.handler:  # unless the block set its own
                signal.signal(signum, old)
        if self.terminated is not None:  # cleaned up: now end as the signal would have
            signal.signal(self.terminated, signal.SIG_DFL)
            signal.raise_signal(self.terminated)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Run the block whole: a SIGINT or SIGTERM in it is delivered when it ends."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
            noted, self.noted = self.noted, []
            for signum in dict.fromkeys(noted):
                self._deliver(signum, None)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.deferring and self.inside:
            self.noted.append(signum)
        else:
            self._deliver(signum, frame)

    def _deliver(self, signum: int, frame: Any) -> None:
        old = self.previous.get(signum, signal.SIG_DFL)
        if old == signal.SIG_DFL:
            if self.inside:
                self.terminated = signum
                raise _Terminated(signum)
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        elif callable(old):
            old(signum, frame)
