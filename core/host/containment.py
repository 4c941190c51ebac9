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


def run_rule(rule, ctx, seconds: float, limit: int) -> tuple[list[Any], list[str]]:
    """(what the rule yielded, other faults as verb phrases); raises RuleTimeout, PluginFault or the rule's exception."""
    isolated = getattr(rule, "run_isolated", None)
    if isolated is not None:
        return isolated(ctx, seconds, limit)
    return call_with_budget(lambda: collect(rule, ctx, limit), seconds), []


def call_with_budget(fn: Callable[[], Any], seconds: float) -> Any:
    """``fn()``, or RuleTimeout after ``seconds``; exceptions from ``fn`` propagate."""
    if seconds <= 0:
        return fn()
    if _in_main_thread() and hasattr(signal, "setitimer"):
        return _with_timer(fn, seconds)
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
    raise RuleTimeout()


_scopes = [0]    # how many budget_scope()s are open in the main thread


@contextmanager
def budget_scope() -> Iterator[None]:
    """Within it, the rules run one after another keep the alarm handler installed between them.

    Installing and restoring a signal handler costs more than most rules (tens of µs, for each of forty rules of
    every file); the engine opens one scope for the rules of a file, and the handler the caller had is back when
    it closes. Each rule still starts with deploylint's handler in place: one a rule replaced is installed again.
    """
    if not _in_main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    _scopes[0] += 1
    try:
        yield
    finally:
        _scopes[0] -= 1
        signal.signal(signal.SIGALRM, previous)


def _with_timer(fn: Callable[[], Any], seconds: float) -> Any:
    if _scopes[0]:
        if _raw_handler(signal.SIGALRM) is not _on_alarm:
            signal.signal(signal.SIGALRM, _on_alarm)     # a rule before this one replaced it
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
