"""The fix loop's safety: a fix that would break the file is refused and named, cycles and endless loops stop,
and concurrent --fix runs never interleave into a corrupt file."""

import os
import shutil
import subprocess
import sys

from deploylint.core import Edit, Fix, Range, Rule, Severity, hookimpl

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))

PLAN = {
    "schema_version": 1,
    "model": {"layers": 8, "hidden_size": 1024, "num_attention_heads": 16, "vocab_size": 32000},
    "hardware": {"num_devices": 8, "memory_gib": 80, "peak_tflops": 1000, "memory_bandwidth_gbps": 3000},
    "parallelism": {"tp": 2, "dp": 3},
    "workload": {"mode": "inference", "batch_size": 64, "seq_len": 1024},
}


class BreaksTheFile(Rule):
    code = "TST001"
    name = "breaks-the-file"
    severity = Severity.WARNING
    summary = "offers a text edit that corrupts the file"

    def check(self, ctx):
        bad = Edit(Range.at(1, 1, 1, 1), "[[[ not toml")     # an insertion before the first character
        yield self.report("/parallelism/tp", "always", fixes=[Fix("insert garbage", (), edits=(bad,))])


class Flip(Rule):
    code = "TST002"
    name = "flip"
    severity = Severity.WARNING
    summary = "wants tp=1"

    def check(self, ctx):
        if ctx.plan.parallelism.tp == 2:
            yield self.report("/parallelism/tp", "tp=2", fixes=[Fix.set("/parallelism/tp", 1)])


class Flop(Rule):
    code = "TST003"
    name = "flop"
    severity = Severity.WARNING
    summary = "wants tp=2"

    def check(self, ctx):
        if ctx.plan.parallelism.tp == 1:
            yield self.report("/parallelism/tp", "tp=1", fixes=[Fix.set("/parallelism/tp", 2)])


class Plugin:
    def __init__(self, *rules):
        self.rules = rules

    @hookimpl
    def deploylint_rules(self):
        return list(self.rules)


def test_a_fix_that_breaks_the_file_is_refused_and_named(deploylint):
    from deploylint.core.pipeline.fixing import fix_text

    result = deploylint.lint(PLAN, plugins=[Plugin(BreaksTheFile())], config={"select": ["TST", "PAR"]})
    new, final, applied, problems = fix_text(result.engine, result.path, result.text, unsafe=False)
    assert "TST001: insert garbage" not in applied
    assert any(p.code == "DL007" and "TST001" in p.message and "insert garbage" in p.message for p in problems)
    assert "[[[" not in new
    assert "PAR401: set dp = 8 / (tp·pp·cp) = 4" in applied          # the good fix still went in


def test_fixes_that_undo_each_other_stop_with_a_diagnostic(deploylint):
    from deploylint.core.pipeline.fixing import fix_text

    result = deploylint.lint(PLAN, plugins=[Plugin(Flip(), Flop())], config={"select": ["TST"]})
    new, final, applied, problems = fix_text(result.engine, result.path, result.text, unsafe=False)
    assert len(problems) == 1 and problems[0].code == "DL007"
    assert "cycle" in problems[0].message or "did not converge" in problems[0].message


def test_concurrent_fix_runs_never_corrupt_the_file(tmp_path):
    from deploylint.core.testing import render_plan

    path = tmp_path / "deploy.toml"
    path.write_text(render_plan(PLAN, "toml"))
    procs = [subprocess.Popen([EXE, "check", "deploy.toml", "--fix"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) for _ in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    text = path.read_text()
    assert text == render_plan(PLAN, "toml").replace("dp = 3", "dp = 4")    # exactly one fix, applied once
    assert not list(tmp_path.glob(".deploy.toml.*"))                         # no temporary file left behind
    assert sum(b"Fixed 1 problem" in o[0] for o in outs) >= 1


def test_edits_are_applied_as_an_editor_applies_them():
    # one implementation for the writers and the fixer (writers.splice): edits by position, insertions at one point
    # in the order the fix lists them — what an editor does with the same edits sent as an LSP quick fix ("the order
    # in the array defines the order in which the inserted strings appear", LSP 3.17 TextEdit), so --fix and the
    # quick fix write the same text
    import pytest

    from deploylint.core.document.writers import splice
    from deploylint.core.pipeline.fixing import apply_edits

    at_1 = Range.at(1, 2, 1, 2)
    both = [Edit(at_1, "x", 1, 1), Edit(at_1, "y", 1, 1)]
    assert apply_edits("ab", both) == splice("ab", both) == "axyb"
    later_first = [Edit(Range.at(1, 3, 1, 4), "D", 2, 3), Edit(Range.at(1, 1, 1, 2), "A", 0, 1)]
    assert apply_edits("abcd", later_first) == "AbDd"
    with pytest.raises(ValueError, match="overlap"):
        apply_edits("abcd", [Edit(Range.at(1, 1, 1, 3), "", 0, 2), Edit(Range.at(1, 2, 1, 4), "", 1, 3)])
