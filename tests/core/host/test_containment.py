"""A rule past its time budget is stopped, in the main thread and in a worker thread."""

import threading
import time

import pytest

from deploylint.core.host.containment import RuleTimeout, call_with_budget


def spin():
    while True:
        pass


def test_main_thread_budget_interrupts_a_busy_loop():
    start = time.monotonic()
    with pytest.raises(RuleTimeout):
        call_with_budget(spin, 0.2)
    assert time.monotonic() - start < 2


def test_worker_thread_budget_gives_up_on_a_sleeper():
    box = {}

    def worker():
        try:
            call_with_budget(lambda: time.sleep(5), 0.2)
        except RuleTimeout:
            box["timeout"] = True

    t = threading.Thread(target=worker)
    t.start()
    t.join(3)
    assert box == {"timeout": True}


def test_results_and_exceptions_pass_through():
    assert call_with_budget(lambda: 42, 1) == 42
    with pytest.raises(ZeroDivisionError):
        call_with_budget(lambda: 1 / 0, 1)
