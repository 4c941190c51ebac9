"""Run one rule so that whatever it does — raise, hang, return garbage — stays its own problem.

A third-party rule runs in the plugin worker process (:mod:`.isolation`),
whose deadline is enforced by killing it. A built-in rule runs here: in the
main thread a real-time interval timer interrupts a rule that runs past its
budget (no extra thread, no cost when nothing goes wrong; the engine keeps its
handler installed across the rules of a file, :func:`budget_scope`); elsewhere (the
language server's worker thread) the rule runs in a daemon thread that is
abandoned when the budget is spent.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

try:   # the C module signal.py wraps: its Signals and Handlers enums (none needed here) are about 1% of a cold check,
    # and its getsignal gives the handler as installed without their conversion (signal.getsignal: about 10 µs)
    import _signal as signal
    from _signal import getsignal as _raw_handler
except ImportError:  # pragma: no cover - not CPython
    import signal
    _raw_handler = signal.getsignal

#: how many diagnostics one rule may return for one file before it counts as garbage
MAX_DIAGNOSTICS_PER_RULE = 1000


class RuleTimeout(BaseException):
    """Raised inside a rule that ran past its time budget (BaseException: a rule's ``except Exception`` won't swallow it)."""


def collect(rule, ctx, limit: int) -> list[Any]:
    """What ``rule.check(ctx)`` yields, stopping one past ``limit`` (an endless generator is cut, not drained)."""
    out = []
    for item in rule.check(ctx) or ():
        out.append(item)
        if len(out) > limit:
            break
    return out


def run_rule(rule, ctx, seconds: float, limit: int, *, own: bool = False) -> tuple[list[Any], list[str]]:
    """(what the rule yielded, other faults as verb phrases); raises RuleTimeout, PluginFault or the rule's exception.
    ``own``: a rule of deploylint's own plugins (see :func:`call_with_budget`)."""
    isolated = getattr(rule, "run_isolated", None)
    if isolated is not None:
        return isolated(ctx, seconds, limit)
    return call_with_budget(lambda: collect(rule, ctx, limit), seconds, own=own), []


def call_with_budget(fn: Callable[[], Any], seconds: float, *, own: bool = False) -> Any:
    """``fn()``, or RuleTimeout after ``seconds``; exceptions from ``fn`` propagate. ``own``: ``fn`` is deploylint's
    own code, which leaves the interval timer alone (in a budget scope, the timer is not read again after it)."""
    if seconds <= 0:
        return fn()
    if _in_main_thread() and hasattr(signal, "setitimer"):
        return _with_timer(fn, seconds, own)
    return _with_thread(fn, seconds)


def _in_main_thread() -> bool:
    """Whether this is the thread signal handlers run in. :mod:`threading` (about 1.5% of a cold check) is
    imported only when someone else has or when there is more than one thread: when there is one, it is the main
    thread."""
    threading = sys.modules.get("threading")
    if threading is None:
        if len(sys._current_frames()) == 1:
            return True
        import threading
    return threading.current_thread() is threading.main_thread()


def _on_alarm(signum, frame):
    _fires[0] = None             # the timer is spent (it is armed once at a time, never to repeat)
    deadline = _deadline[0]
    if deadline is None:         # between the rules of a scope: the timer of a rule that has ended
        return
    left = deadline - time.monotonic()
    if left > 0:                 # armed for an earlier rule: the running one still has time
        signal.setitimer(signal.ITIMER_REAL, left)
        _fires[0] = deadline
        return
    raise RuleTimeout()


_scopes = [0]    # how many budget_scope()s are open in the main thread
#: the running rule's deadline (time.monotonic), None between rules; and when the armed timer fires (None: not armed)
_deadline: list = [None]
_fires: list = [None]


@contextmanager
def budget_scope() -> Iterator[None]:
    """Within it, the rules run one after another share the alarm handler and the interval timer.

    Installing a signal handler, and arming and disarming the timer (two system calls, a few µs each in a virtual
    machine), cost more than most rules, for each of forty rules of every file; the engine opens one scope for the
    rules of a file. Each rule has its deadline; the timer, armed for the first, is armed again only for a rule
    whose deadline comes before it fires: when it fires for a rule that has ended, the handler arms it for the
    running one's time left (or, between rules, does nothing). The handler the caller had is back, and the timer
    disarmed, when the scope closes. Each rule still starts with deploylint's handler in place (one a rule replaced
    is installed again, and the timer disarmed as soon as the rule ends), and the timer is read after each rule
    of a plugin not deploylint's own, so one such a rule re-armed or reset is armed again for the next.
    """
    if not _in_main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    outer = _deadline[0]           # a rule running a scope of its own: its deadline holds again after the scope
    _scopes[0] += 1
    try:
        yield
    finally:
        _scopes[0] -= 1
        _deadline[0] = outer
        if outer is None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _fires[0] = None
            signal.signal(signal.SIGALRM, previous)
        else:
            signal.signal(signal.SIGALRM, _on_alarm)
            _arm(outer)


def _arm(deadline: float) -> None:
    """The timer fires no later than ``deadline``."""
    fires = _fires[0]
    if fires is None or fires > deadline:
        signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 1e-6))
        _fires[0] = deadline


def _with_timer(fn: Callable[[], Any], seconds: float, own: bool = False) -> Any:
    if not _scopes[0]:
        with budget_scope():
            return _with_timer(fn, seconds, own)
    if _raw_handler(signal.SIGALRM) is not _on_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)     # a rule before this one replaced it
    deadline = time.monotonic() + seconds
    _arm(deadline)
    _deadline[0] = deadline
    try:
        return fn()
    finally:
        _deadline[0] = None
        if _raw_handler(signal.SIGALRM) is not _on_alarm:
            # the rule took the alarm for itself: no timer may fire into its handler after it
            signal.setitimer(signal.ITIMER_REAL, 0)
            _fires[0] = None
        elif not own:
            left = signal.getitimer(signal.ITIMER_REAL)[0]       # a plugin's rule may have re-armed or reset it
            _fires[0] = time.monotonic() + left if left > 0 else None


def _with_thread(fn: Callable[[], Any], seconds: float) -> Any:
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="deploylint-rule")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise RuleTimeout()
    if "error" in box:
        raise box["error"]
    return box.get("value")
