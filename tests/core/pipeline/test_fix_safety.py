"""A fix never writes a broken plan (issue 10, section 2), reproduced with small third-party rule modules:

* the "no worse" check sees every document problem whatever --select, ignore or suppressions hide;
* an Edit built from a range alone lands on that range, once; a fix that comes back unchanged is no progress;
* fixes that reshape the deployment are applied alone, and no round leaves a plan with a new error.
"""

import json
import os
import tomllib

import jsonschema
import pytest

from deploylint.core import Edit, Fix, Position, Range, Rule, Severity, hookimpl
from suite_helpers import run_exe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SARIF_SCHEMA = os.path.join(ROOT, "tests", "data", "sarif-2.1.0.json")

PLAN_YAML = """\
schema_version: 1
model:
  layers: 8
  hidden_size: 1024
  num_attention_heads: 16
  vocab_size: 32000
hardware:
  num_devices: 2
  memory_gib: 80
  peak_tflops: 1000
  memory_bandwidth_gbps: 3000
parallelism:
  tp: 2
workload:
  mode: inference
  batch_size: 8
  seq_len: 1024
  output_len: 256
"""

# A third-party module, as a team would write it next to its plans: each rule's fix is wrong in its own way.
BAD_MODULE = '''
from deploylint.core import Edit, Fix, Rule, Severity, hookimpl


class ZeroTp(Rule):
    code = "ACME402"
    name = "zero-tp"
    severity = Severity.WARNING
    summary = "asks for tp = 0, which the plan format forbids"

    def check(self, ctx):
        if ctx.plan.parallelism.tp != 0:
            yield self.report("/parallelism/tp", "tp should be 0", fixes=[Fix.set("/parallelism/tp", 0, "set tp to 0")])


class RangeOnlyEdit(Rule):
    code = "ACME403"
    name = "range-only-edit"
    severity = Severity.WARNING
    summary = "writes output_len = 4 with a text edit built from a range alone"

    def check(self, ctx):
        if ctx.plan.workload.output_len != 4:
            where = ctx.document.range_of("/workload/output_len")
            yield self.report("/workload/output_len", "output_len should be 4",
                              fixes=[Fix("write 4", edits=(Edit(where, "4"),))])


class NeverSatisfied(Rule):
    code = "ACME404"
    name = "never-satisfied"
    severity = Severity.WARNING
    summary = "offers a fix that does not resolve its own finding"

    def check(self, ctx):
        yield self.report("/workload/output_len", "output_len is suspicious",
                          fixes=[Fix.set("/workload/output_len", 128, "set output_len to 128")])


class WrongOffsets(Rule):
    code = "ACME405"
    name = "wrong-offsets"
    severity = Severity.WARNING
    summary = "passes offsets that are not those of its range"

    def check(self, ctx):
        where = ctx.document.range_of("/workload/output_len")
        yield self.report("/workload/output_len", "output_len should be 4",
                          fixes=[Fix("write 4", edits=(Edit(where, "4", 0, 0),))])


@hookimpl
def deploylint_rules():
    return [ZeroTp(), RangeOnlyEdit(), NeverSatisfied(), WrongOffsets()]
'''


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "bad_rules.py").write_text(BAD_MODULE)
    (tmp_path / "plan.yaml").write_text(PLAN_YAML)
    return tmp_path


# -- 1. the safety check sees every document problem -------------------------------------------------------
@pytest.mark.parametrize("hiding", [
    [],                                   # --select ACME402 alone already hides DL002
    ["--ignore", "DL002"],                # ignoring the schema's code explicitly
    ["--ignore", "DL"],
], ids=["select", "ignore-DL002", "ignore-DL"])
def test_a_schema_breaking_fix_is_refused_under_a_narrow_selection(folder, hiding):
    out = run_exe("check", "plan.yaml", "--plugin", "bad_rules", "--select", "ACME402", *hiding, "--fix", cwd=folder)
    assert (folder / "plan.yaml").read_text() == PLAN_YAML                   # untouched
    assert "All clear" not in out.stdout and "Fixed" not in out.stdout
    assert out.returncode == 1, out.stdout + out.stderr
    refusal = next(line for line in out.stdout.splitlines() if " DL007 " in line)
    assert "plan.yaml:13:7: DL007 error fix of ACME402 (set tp to 0) was not applied" in refusal
    assert "DL002 at /parallelism/tp" in refusal                               # names what the fix would break
    assert "fixable" not in out.stdout                                        # a refused fix is not counted as fixable


def test_a_suppression_does_not_hide_a_schema_problem_from_the_fixer(folder):
    (folder / "plan.yaml").write_text("# deploylint: ignore-file[DL002]\n" + PLAN_YAML)
    out = run_exe("check", "plan.yaml", "--plugin", "bad_rules", "--select", "ACME402", "--fix", cwd=folder)
    assert "tp: 2" in (folder / "plan.yaml").read_text()
    assert " DL007 " in out.stdout and out.returncode == 1


@pytest.mark.parametrize("fmt", ["json", "sarif", "github"])
def test_the_refusal_is_valid_output_in_every_format(folder, fmt):
    out = run_exe("check", "plan.yaml", "--plugin", "bad_rules", "--select", "ACME402", "--fix", "--format", fmt, cwd=folder)
    assert out.returncode == 1 and (folder / "plan.yaml").read_text() == PLAN_YAML
    if fmt == "json":
        report = json.loads(out.stdout)
        (dl007,) = [d for d in report["diagnostics"] if d["code"] == "DL007"]
        assert dl007["severity"] == "error" and dl007["path"] == "/parallelism/tp" and dl007["data"] == {"code": "ACME402"}
        acme = next(d for d in report["diagnostics"] if d["code"] == "ACME402")
        assert acme["fixes"] == []                                             # the refused fix is not offered
    elif fmt == "sarif":
        report = json.loads(out.stdout)
        schema = json.load(open(SARIF_SCHEMA))
        errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(report))
        assert not errors, [e.message for e in errors[:3]]
        results = report["runs"][0]["results"]
        assert any(r["ruleId"] == "DL007" and r["level"] == "error" for r in results)
    else:
        assert any(line.startswith("::error file=plan.yaml,line=13,col=7,") and "DL007" in line
                   for line in out.stdout.splitlines())


def test_the_engine_api_and_the_language_server_path_refuse_it_too(deploylint, folder, monkeypatch):
    # fix_text is what the language server's "fix all" and the test kit run
    from deploylint.core.pipeline.fixing import fix_text

    monkeypatch.syspath_prepend(str(folder))
    result = deploylint.lint(PLAN_YAML, format="yaml", plugins=["bad_rules"], config={"select": ["ACME402"]})
    assert result.codes == ["ACME402"]                                        # DL002 is not selected, and not there yet
    new, final, applied, problems = fix_text(result.engine, result.path, result.text, unsafe=False)
    assert new == PLAN_YAML and applied == []
    (problem,) = problems
    assert problem.code == "DL007" and problem.severity is Severity.ERROR and "DL002" in problem.message


# -- 2. an Edit is what its range says; no progress stops ----------------------------------------------------
def test_a_range_only_edit_replaces_its_range_once(folder):
    out = run_exe("check", "plan.yaml", "--plugin", "bad_rules", "--select", "ACME403", "--fix", cwd=folder)
    assert (folder / "plan.yaml").read_text() == PLAN_YAML.replace("output_len: 256", "output_len: 4")
    assert "Fixed 1 problem." in out.stdout and out.returncode == 0


def test_a_fix_that_does_not_resolve_its_finding_is_undone_as_no_progress(folder):
    out = run_exe("check", "plan.yaml", "--plugin", "bad_rules", "--select", "ACME404", "--fix", cwd=folder)
    assert (folder / "plan.yaml").read_text() == PLAN_YAML                   # the round was undone
    assert "Fixed" not in out.stdout and out.returncode == 1
    refusal = next(line for line in out.stdout.splitlines() if " DL007 " in line)
    assert "fix of ACME404 (set output_len to 128) made no progress" in refusal


def test_offsets_that_contradict_the_range_are_the_plugins_failure(folder):
    out = run_exe("check", "plan.yaml", "--plugin", "bad_rules", "--select", "ACME405", "--fix", "--format", "json", cwd=folder)
    assert (folder / "plan.yaml").read_text() == PLAN_YAML
    (failure,) = [d for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "DL005"]
    assert "ACME405" in failure["message"] and "offsets 0..0 are not those of its range" in failure["message"]
    assert out.returncode == 3                                                # the run is incomplete, never clean


def test_an_edit_needs_a_range_and_coherent_offsets():
    where = Range(Position(2, 3), Position(2, 5))
    assert Edit(where, "x").start is None                                    # derived by the engine from the range
    with pytest.raises(TypeError, match="Range"):
        Edit(None, "x")
    with pytest.raises(ValueError, match="pairs"):
        Edit(where, "x", 4)
    with pytest.raises(ValueError, match="start <= end"):
        Edit(where, "x", 5, 4)
    with pytest.raises(ValueError, match="ends before it starts"):
        Edit(Range(Position(2, 5), Position(2, 3)), "x")


# -- 3. isolation: a fix that reshapes the deployment goes alone; no round leaves a new error ----------------
# A 16-stage pipeline of a small model (32 layers of hidden 2048, ~1.8B parameters) on 16 H100s, batch 64 of 4,096
# tokens. MEM102 sizes a micro-batch of 32 for this layout while PAR405 moves to pp=1, dp=16: each fix is right
# for the plan as it is, and the two together put 32 samples of 4,096 tokens on every unsplit replica.
TRAINING_PLAN = """\
schema_version = 1

[model]
layers = 32
hidden_size = 2048
num_attention_heads = 16
vocab_size = 32000

[hardware]
accelerator = "h100-sxm"
num_devices = 16

[parallelism]
pp = 16     # one layer pair per stage
dp = 1

[workload]
mode = "training"
batch_size = 64
seq_len = 4096
"""


def test_the_two_training_fixes_together_would_run_out_of_memory(deploylint):
    # the hazard the isolation exists for: what one combined round used to write. MEM102 no longer sizes a
    # micro-batch for this plan (its step is compute-bound, so spare memory buys nothing); the hazard is rebuilt
    # from the micro-batch MEM102 used to propose, 32, and PAR405's layout
    from deploylint.core.pipeline.fixing import apply_edits, choose_fixes

    result = deploylint.lint(TRAINING_PLAN)
    chosen = {d.code: f for d, f in choose_fixes(result.diagnostics, unsafe=True)}
    assert "MEM102" not in chosen and result.analysis.bounds.bottleneck == "compute"
    assert chosen["PAR405"].message == "use tp=1 pp=1 dp=16"
    bigger = deploylint.lint(TRAINING_PLAN.replace("dp = 1", "dp = 1\nmicro_batch_size = 32"))
    assert "MEM101" not in bigger.codes                        # right for the plan as it is …
    combined = apply_edits(bigger.text, [*chosen["PAR405"].edits])      # the edits sit above the added line
    assert "micro_batch_size = 32" in combined and "dp = 16" in combined
    assert "MEM101" in [d.code for d in bigger.engine.check_text(bigger.path, combined).diagnostics]  # … not together


def test_the_training_plan_is_fixed_into_a_coherent_plan_without_stray_keys(tmp_path):
    path = tmp_path / "train.plan.toml"
    path.write_text(TRAINING_PLAN)
    out = run_exe("check", path.name, "--fix", "--unsafe-fixes", cwd=tmp_path)
    fixed = path.read_text()
    data, original = tomllib.loads(fixed), tomllib.loads(TRAINING_PLAN)
    assert data["parallelism"] == {"pp": 1, "dp": 16}                      # the better layout, nothing else written
    assert {k: set(v) for k, v in data.items() if isinstance(v, dict)} == \
        {k: set(v) for k, v in original.items() if isinstance(v, dict)}      # no key added anywhere
    assert "# one layer pair per stage" in fixed                            # the comment stays
    assert "Fixed" in out.stdout and out.returncode == 0, out.stdout
    after = json.loads(run_exe("check", path.name, "--format", "json", cwd=tmp_path).stdout)
    assert [d for d in after["diagnostics"] if d["severity"] == "error"] == []


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json", "python"])
def test_fix_text_gives_the_same_plan_in_every_format(deploylint, fmt):
    # fix_text is the loop the language server's "fix all" runs; each format's writer adds and removes the keys
    from deploylint.core.document.sources import load
    from deploylint.core.pipeline.fixing import fix_text

    result = deploylint.lint(tomllib.loads(TRAINING_PLAN), format=fmt)
    new, final, applied, problems = fix_text(result.engine, result.path, result.text, unsafe=True)
    # PAR405's layout alone: MEM102 leaves this compute-bound training plan's spare memory alone
    assert problems == [] and [a.split(":")[0] for a in applied] == ["PAR405"]
    assert load(result.path, new).data["parallelism"] == {"pp": 1, "dp": 16}
    assert not [d for d in final.diagnostics if d.severity is Severity.ERROR]


class _Claim(Rule):
    severity = Severity.WARNING
    claim = ""

    def check(self, ctx):
        if self.claim not in (ctx.document.data.get("claims") or {}):
            yield self.report("/workload", f"claim {self.claim}", fixes=[Fix.set(f"/claims/{self.claim}", 500.0)])


class ClaimLatency(_Claim):
    code, name, summary, claim = "TST021", "claim-latency", "wants a latency claim", "latency_ms"


class ClaimTtft(_Claim):
    code, name, summary, claim = "TST022", "claim-ttft", "wants a time-to-first-token claim", "ttft_ms"


class NotBoth(Rule):
    code = "TST023"
    name = "not-both"
    severity = Severity.ERROR
    summary = "a policy: never both claims"

    def check(self, ctx):
        claims = ctx.document.data.get("claims") or {}
        if "latency_ms" in claims and "ttft_ms" in claims:
            yield self.report("/claims", "latency and ttft claimed together")


class ClaimsPlugin:
    @hookimpl
    def deploylint_rules(self):
        return [ClaimLatency(), ClaimTtft(), NotBoth()]


def test_fixes_fine_alone_but_not_together_go_one_by_one_and_the_second_is_refused(deploylint):
    from deploylint.core.pipeline.fixing import fix_text

    plugin = ClaimsPlugin()
    # TST023 is not even selected: the error it would raise still stops the round
    result = deploylint.lint(PLAN_YAML, format="yaml", plugins=[plugin], config={"select": ["TST021", "TST022"]})
    assert result.codes == ["TST021", "TST022"]
    new, final, applied, problems = fix_text(result.engine, result.path, result.text, unsafe=False)
    assert applied == ["TST021: set /claims/latency_ms to 500.0"]
    (refusal,) = problems
    assert refusal.code == "DL007" and "TST022" in refusal.message and "TST023 at /claims" in refusal.message
    assert "latency_ms: 500.0" in new and "ttft_ms" not in new


def test_what_goes_alone_in_a_round():
    from deploylint.core import Diagnostic
    from deploylint.core.pipeline.fixing import isolated, plan_round

    edit = Edit(Range.at(1, 1, 1, 1), "x", 0, 0)

    def offer(fix):
        return Diagnostic("TST", Severity.WARNING, "m"), fix.with_edits([edit])

    layout = offer(Fix.set("/parallelism/pp", 1))
    batch = offer(Fix.set("/workload/batch_size", 64))
    devices = offer(Fix.set("/hardware/num_devices", 4))
    claim = offer(Fix.set("/claims/latency_ms", 5.0))
    rename = offer(Fix.rename("/workload/outptu_len", "output_len"))
    raw = offer(Fix("raw text"))
    assert [isolated(f) for _, f in (layout, batch, devices, claim, rename, raw)] == [True, True, True, False, False, True]
    assert plan_round([layout, claim, rename, batch]) == [layout]            # an isolated fix first: alone
    assert plan_round([claim, layout, rename, batch]) == [claim, rename]     # else every fix that is not isolated
    assert plan_round([claim, rename], solo=True) == [claim]


def test_raw_edits_count_as_raw_whatever_changes_the_fix_claims(deploylint):
    from deploylint.core import ValueChange
    from deploylint.core.pipeline.fixing import isolated

    class Claims(Rule):
        code = "TST030"
        name = "claims-one-thing"
        severity = Severity.WARNING
        summary = "says it changes a claim, edits the layout"

        def check(self, ctx):
            where = ctx.document.range_of("/parallelism/tp")
            yield self.report("/parallelism/tp", "x", fixes=[Fix("tp", (ValueChange("set", "/claims/mfu", 0.4),),
                                                                 edits=(Edit(where, "1"),))])

    class Plugin:
        @hookimpl
        def deploylint_rules(self):
            return [Claims()]

    result = deploylint.lint(PLAN_YAML, format="yaml", plugins=[Plugin()], config={"select": ["TST030"]})
    (fix,) = result.one("TST030").fixes
    value = result.text.index("tp: 2") + len("tp: ")
    assert fix.changes == () and isolated(fix)
    assert (fix.edits[0].start, fix.edits[0].end) == (value, value + 1)     # derived from the range: `tp: 2`'s 2
