"""Hostile third-party plugins, run as users run deploylint (the console script, in a subprocess).

Each plugin misbehaves in one way. Whatever it does, the run must end with a
DL005 naming it, the findings of the other plugins (``friendly`` below, whose
ACME001 always fires), output that is valid in the asked format, and exit
code 3. The plugin modules are written into ``tmp_path`` by the tests.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import jsonschema
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SARIF_SCHEMA = os.path.join(ROOT, "tests", "data", "sarif-2.1.0.json")
EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
FORMATS = ("text", "json", "sarif", "github")
#: a guard against a hang of the whole test, not a timing assertion: the runs below take about a second
HANG_GUARD_S = 120

PLAN = """\
schema_version = 1
name = "hostile-plugin-test"

[model]
layers = 4
hidden_size = 1024
num_attention_heads = 16
vocab_size = 32000

[hardware]
num_devices = 1
memory_gib = 80
peak_tflops = 400
memory_bandwidth_gbps = 2000

[parallelism]
tp = 1

[workload]
mode = "inference"
batch_size = 8
seq_len = 128
output_len = 16
"""

FRIENDLY = """\
from deploylint.core import Rule, Severity, hookimpl

class AlwaysFires(Rule):
    code = "ACME001"
    name = "always-fires"
    severity = Severity.WARNING
    summary = "A well-behaved rule that always reports."

    def check(self, ctx):
        yield self.report("/hardware/num_devices", "the friendly plugin still reports", data={"devices": 1})

@hookimpl
def deploylint_rules():
    return [AlwaysFires()]
"""

#: the head of every hostile module: one rule, HOST001, whose check() body each case fills in
RULE_HEAD = """\
import math, os, signal, sys
from deploylint.core import Diagnostic, Position, Range, Related, Rule, Severity, hookimpl

class Hostile(Rule):
    code = "HOST001"
    name = "hostile"
    summary = "A rule that misbehaves."

    def check(self, ctx):
{body}

@hookimpl
def deploylint_rules():
    return [Hostile()]
"""


def rule_module(body: str) -> str:
    return RULE_HEAD.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8))


#: hostile plugin modules: what each returns from its rule, or does at import, in configure or in deploylint_rules
CASES = {
    "bad-severity": rule_module("""
        yield Diagnostic("HOST001", "fatal", "severity no output knows", "/hardware/num_devices")
    """),
    "lone-surrogate": rule_module("""
        yield self.report("/hardware/num_devices", "broken \\udc80 text")
    """),
    "nan-in-data": rule_module("""
        yield self.report("/hardware/num_devices", "figures that are not numbers", data={"ratio": math.nan, "top": math.inf})
    """),
    "negative-range": rule_module("""
        yield self.report("/hardware/num_devices", "a range before the file").with_(range=Range(Position(-3, -1), Position(0, 0)))
    """),
    "inverted-range": rule_module("""
        yield self.report("/hardware/num_devices", "a range that ends first").with_(range=Range(Position(5, 9), Position(2, 1)))
    """),
    "related-outside-the-file": rule_module("""
        yield self.report("/hardware/num_devices", "a related place past the end").with_(
            related=(Related("set here", Range(Position(900, 1), Position(900, 4))),))
    """),
    "related-lone-surrogate": rule_module("""
        yield self.report("/hardware/num_devices", "a related message that is not Unicode").with_(
            related=(Related("set \\udc80 here", start=0, end=3),))
    """),
    "related-file-with-a-line-break": rule_module("""
        yield self.report("/hardware/num_devices", "a related file name that writes a line of its own").with_(
            related=(Related("here", Range(Position(1, 1), Position(1, 2)), file="x\\n::error file=a.py::FORGED"),))
    """),
    # two edits of one fix over the same characters: no order of applying them is right, in --fix or an editor
    "overlapping-edits": rule_module("""
        from deploylint.core import Edit, Fix
        yield self.report("/hardware/num_devices", "two edits over one stretch", fixes=[Fix("overlap", edits=(
            Edit(Range(Position(1, 1), Position(1, 4)), "a"), Edit(Range(Position(1, 2), Position(1, 5)), "b")))])
    """),
    "sys-exit-in-rule": rule_module("""
        sys.exit(0)
        yield
    """),
    "sys-exit-at-import": "import sys\nsys.exit(0)\n",
    "sys-exit-in-configure": rule_module("yield from ()") + "\n@hookimpl\ndef deploylint_configure(config):\n    sys.exit(0)\n",
    "endless-rules-generator": (
        "from deploylint.core import Rule, hookimpl\n"
        "class R(Rule):\n    code = 'HOST001'\n    name = 'hostile'\n"
        "@hookimpl\ndef deploylint_rules():\n    while True:\n        yield R()\n"
    ),
    "endless-diagnostics": rule_module("""
        while True:
            yield self.report("/hardware/num_devices", "again")
    """),
    # printing: would break --format json/sarif and the language server's stdio channel
    "print-at-import": "print('{\"version\": 1}')\n" + rule_module("yield from ()"),
    "print-in-rule": rule_module("""
        print('{"diagnostics": []}')
        sys.stdout.flush()
        os.write(1, b"raw bytes on fd 1\\n")
        yield self.report("/hardware/num_devices", "reported after printing")
    """),
    "print-in-configure": rule_module("yield from ()") + "\n@hookimpl\ndef deploylint_configure(config):\n    print('configured')\n",
    # ending the process: in-process, the run would end with exit 0 and no output
    "os-exit-at-import": "import os\nos._exit(0)\n",
    "os-exit-in-configure": rule_module("yield from ()") + "\n@hookimpl\ndef deploylint_configure(config):\n    os._exit(0)\n",
    "os-exit-in-rule": rule_module("""
        os._exit(0)
        yield
    """),
    # never returning: stopped at the time budget (--rule-timeout 1 below), whatever it does to SIGALRM
    "loops-forever": rule_module("""
        while True:
            pass
        yield
    """),
    "loops-at-import": "while True:\n    pass\n",
    "ignores-sigalrm": rule_module("""
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass
        yield
    """),
    "resets-sigalrm": rule_module("""
        while True:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, lambda *args: None)
        yield
    """),
}


#: the head of every hostile source adapter: deploylint_source(path, text), whose body each case fills in
SOURCE_HEAD = """\
import os, signal, sys
from deploylint.core import hookimpl

@hookimpl
def deploylint_source(path, text):
{body}
"""


def source_module(body: str) -> str:
    return SOURCE_HEAD.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 4))


#: hostile source adapters: each misbehaves when it is offered the plan, which the built-in loader then reads
SOURCE_CASES = {
    "source-prints": source_module("""
        print('{"diagnostics": []}')
        return None
    """),
    "source-sys-exit": source_module("sys.exit(0)"),
    "source-os-exit": source_module("os._exit(0)"),
    "source-raises": source_module("raise RuntimeError('cannot read ' + path)"),
    "source-loops-forever": source_module("""
        while True:
            pass
    """),
    "source-resets-sigalrm": source_module("""
        while True:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, lambda *args: None)
    """),
    "source-endless-generator": source_module("""
        while True:
            yield None
    """),
    "source-not-a-document": source_module("return {'schema_version': 1}"),
}
CASES.update(SOURCE_CASES)


def module_name(case: str) -> str:
    return "hostile_" + case.replace("-", "_")


def write_case(tmp_path, case: str) -> str:
    """The module of ``case`` in ``tmp_path`` with a rule code of its own; returns its name."""
    code = f"HOST{sorted(CASES).index(case) + 1:03d}"
    (tmp_path / f"{module_name(case)}.py").write_text(CASES[case].replace("HOST001", code))
    return module_name(case)


def run(tmp_path, *args, plugins=("hostile",), timeout="1", more_plans=()):
    plan = tmp_path / "deploy.plan.toml"
    if not plan.exists():
        plan.write_text(PLAN)
    (tmp_path / "friendly.py").write_text(FRIENDLY)
    argv = [EXE, "check", str(plan), *more_plans, "--rule-timeout", timeout, *args]
    for p in (*plugins, "friendly"):
        argv += ["--plugin", p]
    return subprocess.run(argv, capture_output=True, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=HANG_GUARD_S,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def strict_json(raw: bytes):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


GITHUB_COMMAND = re.compile(r"^::(error|warning|notice) (file=[^,]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,)?"
                            r"title=[A-Z]+\d+::[^\r\n]+$")


def findings(fmt: str, out: bytes) -> list[tuple[str, str]]:
    """(code, text) of each finding in the output, after checking that the output is valid in its format."""
    text = out.decode("utf-8")   # strict: a lone surrogate or a stray byte fails here
    if fmt == "json":
        report = strict_json(out)
        return [(d["code"], json.dumps(d)) for d in report["diagnostics"]]
    if fmt == "sarif":
        report = strict_json(out)
        schema = json.load(open(SARIF_SCHEMA))
        errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(report))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
        return [(r["ruleId"], json.dumps(r)) for r in report["runs"][0]["results"]]
    lines = text.splitlines()
    if fmt == "github":
        assert all(GITHUB_COMMAND.match(line) for line in lines), lines
        return [(re.search(r"title=([A-Z]+\d+)", line).group(1), line) for line in lines]
    # text: no line a CI runner would take for a workflow command; one head line per finding
    assert not [line for line in lines if line.lstrip().startswith("::")], lines
    assert lines[-1].startswith(("Found ", "All clear")), lines[-1:]
    return [(m.group(1), line) for line in lines if (m := re.match(r"^\S.*?: ([A-Z]+\d+) (?:error|warning|info|hint) ", line))]


def assert_contained(fmt: str, out: subprocess.CompletedProcess, plugins=("hostile",)) -> list[str]:
    """Exit 3, valid output, a DL005 naming each hostile plugin (and only them), the friendly finding."""
    assert out.returncode == 3, (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    found = findings(fmt, out.stdout)
    failures = [text for code, text in found if code == "DL005"]
    for plugin in plugins:
        assert [f for f in failures if repr(plugin) in f or f'"plugin": "{plugin}"' in f], (plugin, found)
    assert all(any(p in f for p in plugins) for f in failures), failures
    assert "ACME001" in [code for code, _ in found], found
    return failures


@pytest.mark.slow   # one run per case; the test below runs them all together in every format
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_plugin_is_one_dl005_and_the_run_goes_on(tmp_path, case):
    name = write_case(tmp_path, case)
    assert_contained("json", run(tmp_path, "--format", "json", plugins=[name]), plugins=[name])


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_hostile_plugins_together_in_every_format(tmp_path, fmt):
    names = [write_case(tmp_path, case) for case in sorted(CASES)]
    assert_contained(fmt, run(tmp_path, "--format", fmt, plugins=names), plugins=names)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_line_break_in_a_message_cannot_inject_a_workflow_command(tmp_path, fmt):
    # A valid finding whose message, figures and fix text carry line breaks and a forged command:
    # it is reported on one line, so a CI runner sees no second command.
    forged = "::error file=deploy.plan.toml,line=1,col=1,endLine=1,endColumn=2,title=FORGED001::pwned"
    (tmp_path / "hostile.py").write_text(rule_module(f"""
        from deploylint.core import Fix
        yield self.report("/hardware/num_devices", "first line\\n{forged}\\r\\n{forged}\\u2028x",
                          data={{"note": "\\n{forged}"}},
                          fixes=[Fix.set("/hardware/num_devices", 2, "use two\\n{forged}")])
    """))
    out = run(tmp_path, "--format", fmt)
    assert out.returncode == 1, (out.stdout[-2000:], out.stderr[-2000:])
    found = findings(fmt, out.stdout)
    assert "FORGED001" not in [code for code, _ in found]
    (hostile,) = [text for code, text in found if code == "HOST001"]
    assert "first line" in hostile and "pwned" in hostile
    if fmt == "text":
        assert not [l for l in out.stdout.decode().splitlines() if l.lstrip().startswith("::")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_related_place_a_plugin_sets_is_kept_across_the_worker(tmp_path, fmt):
    # one place by range and one by offsets (line 2 is `name = "hostile-plugin-test"`), and one in another file
    (tmp_path / "hostile.py").write_text(rule_module("""
        yield self.report("/hardware/num_devices", "explained elsewhere").with_(related=(
            Related("the name is set here", Range(Position(2, 1), Position(2, 5))),
            Related("by offsets\\nhere", start=0, end=14),
            Related("the cluster is sized here", Range(Position(3, 7), Position(3, 9)), file="cluster.yaml")))
    """))
    out = run(tmp_path, "--format", fmt)
    assert out.returncode == 1, (out.stdout[-2000:], out.stderr[-2000:])
    (finding,) = [text for code, text in findings(fmt, out.stdout) if code == "HOST001"]
    if fmt == "json":
        related = json.loads(finding)["related"]
        assert [(r["message"], r["file"], r["range"]["start"]["line"], r["range"]["end"]["column"]) for r in related] == [
            ("the name is set here", None, 2, 5), ("by offsets here", None, 1, 15), ("the cluster is sized here", "cluster.yaml", 3, 9)]
    elif fmt == "sarif":
        related = json.loads(finding)["relatedLocations"]
        assert [r["message"]["text"] for r in related] == ["the name is set here", "by offsets here", "the cluster is sized here"]
        assert related[0]["physicalLocation"]["region"]["startLine"] == 2
        assert related[2]["physicalLocation"]["artifactLocation"]["uri"].endswith("cluster.yaml")
    elif fmt == "text":
        text = out.stdout.decode()
        assert "the name is set here" in text and "cluster.yaml" in text
    else:   # github: one place per annotation; the related places are lines of its message (%0A)
        plan = str(tmp_path / "deploy.plan.toml")
        assert finding.split("::")[-1].split("%0A")[1:] == [
            f"see {plan}:2:1: the name is set here", f"see {plan}:1:1: by offsets here",
            "see cluster.yaml:3:7: the cluster is sized here"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_refusal_a_plugin_sets_is_said_in_its_message(tmp_path, fmt):
    # a plugin giving why it offers no fix, without writing it into its message: every report still says it
    (tmp_path / "hostile.py").write_text(rule_module("""
        yield self.report("/hardware/num_devices", "the devices are counted elsewhere").with_(
            refusal="the cluster file sizes them")
    """))
    out = run(tmp_path, "--format", fmt)
    (finding,) = [text for code, text in findings(fmt, out.stdout) if code == "HOST001"]
    if fmt == "json":
        assert json.loads(finding)["message"] == (
            "the devices are counted elsewhere; no fix offered: the cluster file sizes them")
    else:
        assert "the devices are counted elsewhere; no fix offered: the cluster file sizes them" in finding


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_source_adapters_are_each_a_dl005_and_the_plan_is_still_checked(tmp_path, fmt):
    # every source adapter is offered the plan in turn: each hostile one is a DL005 naming it, and the
    # built-in TOML loader still reads the plan, so the friendly plugin's finding is there
    names = [write_case(tmp_path, case) for case in sorted(SOURCE_CASES)]
    out = run(tmp_path, "--format", fmt, plugins=names)
    failures = assert_contained(fmt, out, plugins=names)
    assert any("deploylint_source()" in f for f in failures), failures


def test_a_source_adapter_in_the_worker_reads_its_files_and_writes_its_fixes(tmp_path):
    # a friendly adapter of a one-line format, with a writer of its own: its Document and its fix cross the worker
    (tmp_path / "oneline.py").write_text(textwrap.dedent("""
        from deploylint.core import Document, NodeSpan, Span, SpanWriter, hookimpl
        from deploylint.core.document.writers.span_writer import Binding

        PLAN = dict(schema_version=1, model=dict(layers=4, hidden_size=1024, num_attention_heads=16, vocab_size=32000),
                    hardware=dict(num_devices=1, memory_gib=80, peak_tflops=400, memory_bandwidth_gbps=2000),
                    workload=dict(mode="inference", batch_size=8, seq_len=128, output_len=16))

        def read(path, text):
            start = text.index("tp=") + 3
            end = start + len(text[start:].split()[0])
            data = dict(PLAN, parallelism={"tp": int(text[start:end])})
            spans = {"": NodeSpan(Span(0, len(text))), "/parallelism": NodeSpan(Span(0, 5)),
                     "/parallelism/tp": NodeSpan(Span(start, end))}
            writer = SpanWriter({"/parallelism/tp": Binding(start, end)}, lambda new: read(path, new))
            return Document(path, text, "oneline", data, spans, writer=writer, label="serve")

        @hookimpl
        def deploylint_source(path, text):
            return read(path, text) if path.endswith(".oneline") else None
    """))
    (tmp_path / "tp_rule.py").write_text(textwrap.dedent("""
        from deploylint.core import Fix, Rule, Severity, hookimpl

        class TpOne(Rule):
            code = "ACME002"
            name = "tp-one"
            severity = Severity.WARNING
            summary = "tp must be 1 here."

            def check(self, ctx):
                if ctx.plan.parallelism.tp != 1:
                    yield self.report("/parallelism/tp", "tp must be 1", fixes=[Fix.set("/parallelism/tp", 1, "use tp=1")])

        @hookimpl
        def deploylint_rules():
            return [TpOne()]
    """))
    plan = tmp_path / "serve.oneline"
    plan.write_text("serve tp=3 --port 80\n")
    argv = [EXE, "check", str(plan), "--plugin", "oneline", "--plugin", "tp_rule", "--select", "ACME002"]
    out = subprocess.run([*argv, "--format", "json"], capture_output=True, cwd=tmp_path, stdin=subprocess.DEVNULL,
                         timeout=HANG_GUARD_S)
    assert out.returncode == 1, (out.stdout[-2000:], out.stderr[-2000:])
    (finding,) = strict_json(out.stdout)["diagnostics"]
    assert finding["code"] == "ACME002" and finding["message"].startswith("[serve] ")
    assert (finding["range"]["start"]["line"], finding["range"]["start"]["column"]) == (1, 10)
    assert finding["fixes"][0]["edits"][0]["new_text"] == "1"
    fixed = subprocess.run([*argv, "--fix"], capture_output=True, cwd=tmp_path, stdin=subprocess.DEVNULL,
                           timeout=HANG_GUARD_S)
    assert fixed.returncode == 0, (fixed.stdout[-2000:], fixed.stderr[-2000:])
    assert plan.read_text() == "serve tp=1 --port 80\n"


def test_a_plugin_exception_with_a_forged_command_stays_on_one_line(tmp_path):
    (tmp_path / "hostile.py").write_text(rule_module("""
        raise RuntimeError("boom\\n::error title=FORGED001::pwned")
    """))
    for fmt in ("text", "github"):
        failures = assert_contained(fmt, run(tmp_path, "--format", fmt))
        assert any("boom" in f and "pwned" in f for f in failures)


def test_a_plugin_that_kills_its_worker_takes_no_other_plugin_with_it(tmp_path):
    # os._exit in one plugin's rule, then more plugins after it in the same worker: their rules still run
    names = [write_case(tmp_path, "os-exit-in-rule"), write_case(tmp_path, "print-in-rule")]
    out = run(tmp_path, "--format", "json", plugins=names)
    failures = assert_contained("json", out, plugins=names)
    report = strict_json(out.stdout)
    codes = [d["code"] for d in report["diagnostics"]]
    printing = f"HOST{sorted(CASES).index('print-in-rule') + 1:03d}"
    assert printing in codes, codes     # the printing plugin's own finding is kept, beside its DL005
    assert any("ended its worker process" in f for f in failures), failures
    assert any("standard output" in f for f in failures), failures


def test_a_hung_plugin_is_not_run_again_on_the_next_file(tmp_path):
    name = write_case(tmp_path, "loops-forever")
    second = tmp_path / "second.plan.toml"
    second.write_text(PLAN)
    out = run(tmp_path, "--format", "json", plugins=[name], more_plans=[str(second)])
    failures = assert_contained("json", out, plugins=[name])
    assert len(failures) == 2
    assert any("time budget of 1 s" in f for f in failures) and any("not run again" in f for f in failures), failures


def test_deploylint_plugins_lists_a_local_plugin_with_its_version(tmp_path):
    (tmp_path / "versioned.py").write_text("__version__ = '4.5.6'\n" + FRIENDLY)
    out = subprocess.run([EXE, "plugins", "--plugin", "versioned"], capture_output=True, text=True, cwd=tmp_path,
                         stdin=subprocess.DEVNULL, timeout=HANG_GUARD_S)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("versioned"))
    assert "4.5.6" in line and "ACME001" in line


def test_the_worker_does_not_import_modules_from_the_folder_it_runs_in(tmp_path):
    # a linted repository's json.py or pickle.py must not be what the worker imports for itself
    for shadow in ("json", "pickle", "struct", "tempfile"):
        (tmp_path / f"{shadow}.py").write_text("import os\nos._exit(9)\n")
    out = run(tmp_path, "--format", "json", plugins=())
    assert out.returncode == 1, (out.stdout[-2000:], out.stderr[-2000:])
    codes = [d["code"] for d in strict_json(out.stdout)["diagnostics"]]
    assert "ACME001" in codes and "DL005" not in codes
