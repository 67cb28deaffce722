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
    """Within the block, a SIGINT or SIGTERM waits: its handler runs as the block ends.

    For the short steps that must not be cut in two (create a temporary folder
    and remember its name; swap the new report in and say so; take or drop the
    lock): the signal is noted by a handler that only records it, and the
    previous handler is called with it once the block is over, so its
    KeyboardInterrupt (or the CLI's SIGTERM exception) is raised there. A
    Python-level handler, not ``pthread_sigmask``: a signal blocked in this
    thread would go to another one (a progress bar's, a pool's), whose C
    handler would still make Python raise in the middle of the block.
    Outside the main thread nothing is deferred (no handler can be set there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous: dict[int, Any] = {}

    def hold(signum: int, frame: Any) -> None:
        pending.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):  # default_int_handler, the CLI's; not SIG_DFL or SIG_IGN
            previous[signum] = handler
            signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            previous[pending[0]](pending[0], None)
