"""A rule past its time budget is stopped, in the main thread and in a worker thread."""

import signal
import threading
import time

import pytest

from deploylint.core.host.containment import RuleTimeout, budget_scope, call_with_budget


def spin():
    while True:
        pass


def test_main_thread_budget_interrupts_a_busy_loop():
    start = time.monotonic()
    with pytest.raises(RuleTimeout):
        call_with_budget(spin, 0.2)
    assert time.monotonic() - start < 2


def test_the_rules_of_one_scope_each_have_their_budget_and_the_callers_handler_comes_back():
    def callers_handler(signum, frame):
        raise AssertionError("the caller's handler ran during a rule")

    previous = signal.signal(signal.SIGALRM, callers_handler)
    try:
        with budget_scope():
            assert call_with_budget(lambda: 1, 5) == 1
            with pytest.raises(RuleTimeout):
                call_with_budget(spin, 0.2)
            # a rule that takes the alarm for itself: the next rule is still stopped at its budget
            assert call_with_budget(lambda: signal.signal(signal.SIGALRM, signal.SIG_IGN) and 2, 5) == 2
            with pytest.raises(RuleTimeout):
                call_with_budget(spin, 0.2)
        assert signal.getsignal(signal.SIGALRM) is callers_handler
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_a_rule_that_resets_or_re_arms_the_timer_leaves_the_next_rule_its_budget():
    with budget_scope():
        assert call_with_budget(lambda: signal.setitimer(signal.ITIMER_REAL, 0) and 3, 5) == 3
        with pytest.raises(RuleTimeout):
            call_with_budget(spin, 0.2)
        assert call_with_budget(lambda: signal.setitimer(signal.ITIMER_REAL, 60) and 4, 5) == 4
        start = time.monotonic()
        with pytest.raises(RuleTimeout):
            call_with_budget(spin, 0.2)
        assert time.monotonic() - start < 2
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_deploylint_s_own_rules_each_have_their_budget_without_the_timer_read_between_them():
    with budget_scope():
        assert call_with_budget(lambda: 1, 5, own=True) == 1
        start = time.monotonic()
        with pytest.raises(RuleTimeout):
            call_with_budget(spin, 0.2, own=True)      # its deadline comes before the timer armed for the first
        assert time.monotonic() - start < 2
        assert call_with_budget(lambda: 2, 0.1, own=True) == 2
        time.sleep(0.3)                                 # that one's timer fires here, between rules
        with pytest.raises(RuleTimeout):
            call_with_budget(spin, 0.2, own=True)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_timer_of_an_ended_rule_firing_between_rules_stops_nothing():
    def sleep_past_the_budget_before():
        time.sleep(0.3)         # the timer armed for the rule before (0.1 s) fires during this one (5 s)
        return 5

    with budget_scope():
        assert call_with_budget(lambda: 1, 0.1) == 1
        time.sleep(0.3)
        assert call_with_budget(lambda: 2, 0.1) == 2
        # a rule running when the timer of the one before it fires goes on to its own deadline
        assert call_with_budget(sleep_past_the_budget_before, 5) == 5
        with pytest.raises(RuleTimeout):
            call_with_budget(spin, 0.2)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)

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


PID_PLUGIN = """\
import os
from deploylint.core import Rule, hookimpl

class WhereAmI(Rule):
    code = "PID001"
    name = "where-am-i"
    summary = "Reports the process it runs in."
    thresholds = {"limit": 3}

    def check(self, ctx):
        yield self.report("/hardware/num_devices", "here", data={"pid": os.getpid(), "limit": ctx.threshold("limit")})

@hookimpl
def deploylint_rules():
    return [WhereAmI()]
"""

PLAN = {"schema_version": 1, "model": {"layers": 2, "hidden_size": 256, "num_attention_heads": 4, "vocab_size": 1000},
        "hardware": {"num_devices": 1, "memory_gib": 16, "peak_tflops": 100, "memory_bandwidth_gbps": 900},
        "parallelism": {"tp": 1}, "workload": {"mode": "inference", "batch_size": 1, "seq_len": 16, "output_len": 4}}


def _lint_with(tmp_path, monkeypatch, deploylint, module):
    (tmp_path / f"{module}.py").write_text(PID_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return deploylint.lint(PLAN, plugins=[module])


def test_built_in_plugins_run_in_process_and_start_no_worker():
    from deploylint.core.host.isolation import RemoteRule
    from deploylint.core.host.registry import Registry

    reg = Registry().load()
    assert reg.rules and not any(isinstance(r, RemoteRule) for r in reg.rules)
    assert all(reg.is_own(r.plugin) for r in reg.rules)      # their rules run without the timer read after each
    assert reg._worker is None


def test_a_local_plugin_runs_in_the_worker_process(tmp_path, monkeypatch, deploylint):
    import os

    monkeypatch.delenv("DEPLOYLINT_PLUGINS_IN_PROCESS", raising=False)
    result = _lint_with(tmp_path, monkeypatch, deploylint, "pid_plugin_isolated")
    d = result.one("PID001")
    assert d.data["pid"] != os.getpid() and d.plugin == "pid_plugin_isolated"
    assert d.data["limit"] == 3          # the rule's own thresholds reach it in the worker
    assert d.range is not None and d.range.start.line >= 1


def test_the_in_process_switch_runs_a_local_plugin_here(tmp_path, monkeypatch, deploylint):
    import os

    monkeypatch.setenv("DEPLOYLINT_PLUGINS_IN_PROCESS", "1")
    result = _lint_with(tmp_path, monkeypatch, deploylint, "pid_plugin_in_process")
    assert result.one("PID001").data["pid"] == os.getpid()


def test_a_run_that_started_no_thread_times_its_rules_out_without_importing_threading():
    import subprocess
    import sys

    code = ("import sys\n"
            "from deploylint.core.host.containment import RuleTimeout, budget_scope, call_with_budget\n"
            "def slow():\n    while True:\n        pass\n"
            "outcomes = []\n"
            "for scoped in (False, True):\n"
            "    try:\n"
            "        if scoped:\n"
            "            with budget_scope():\n                call_with_budget(slow, 0.2)\n"
            "        else:\n            call_with_budget(slow, 0.2)\n"
            "    except RuleTimeout:\n        outcomes.append(scoped)\n"
            "print(outcomes, 'threading' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # an endless rule stopped by the alarm in the main thread both times (or the run would not end), threading unused
    assert out.stdout.strip() == "[False, True] False", out.stdout + out.stderr
