"""``deploylint suggest``: ranked feasible layouts, and ``--apply K`` through the fixer in every input format."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLES = os.path.join(ROOT, "examples")
SEEDS = ["seed-moe-64e-3dev.toml", "seed-moe-64e-3dev.yaml", "seed-moe-64e-3dev.plan.json", "deploy_seed_moe_64e_3dev.py"]
TRAINING = os.path.join(EXAMPLES, "mixtral-8x7b-training.plan.toml")
SERVING = os.path.join(EXAMPLES, "mixtral-8x7b-h100.plan.toml")


def deploylint(*args, cwd=ROOT):
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL)


def suggest_json(path, *args):
    out = deploylint("suggest", path, "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_seed_plan_has_exactly_one_feasible_layout():
    # 3 devices, 16 heads, 4 layers, 64 experts: tp must divide 16 and 3 (tp=1), pp must divide 4 and 3 (pp=1), so dp=3;
    # ep must divide 64 and the 3 devices of the stage (ep=1). The plan's ep=3 (22-21-21 experts) is not in the grid.
    out = deploylint("suggest", os.path.join(EXAMPLES, SEEDS[0]))
    assert out.returncode == 0, out.stderr
    assert "1 feasible layout, best latency first" in out.stdout
    rows = [l for l in out.stdout.splitlines() if l.startswith("1  ")]
    assert len(rows) == 1 and "tp=1 pp=1 dp=3" in rows[0] and "ep 3→1, drop expert_placement" in rows[0]
    assert "the plan tp=1 pp=1 dp=3 ep=3" in out.stdout


@pytest.mark.parametrize("objective,key,sign", [("throughput", "throughput_samples_per_s", -1),
                                                ("latency", "min_latency_ms", 1), ("memory", "memory_utilization", 1)])
def test_layouts_are_ranked_by_the_objective(objective, key, sign):
    for plan in (TRAINING, SERVING):
        report = suggest_json(plan, "--objective", objective)
        values = [sign * c[key] for c in report["layouts"]]
        assert len(values) > 5 and values == sorted(values)
        assert [c["rank"] for c in report["layouts"]] == list(range(1, len(values) + 1))


def test_the_default_objective_follows_the_workload_and_top_limits_the_rows():
    assert suggest_json(TRAINING)["objective"] == "throughput"
    assert suggest_json(SERVING)["objective"] == "latency"
    full, top = suggest_json(TRAINING), suggest_json(TRAINING, "--top", "3")
    assert top["layouts"] == full["layouts"][:3]
    out = deploylint("suggest", TRAINING, "--top", "3")
    assert out.returncode == 0 and "(top 3 shown)" in out.stdout
    assert sum(1 for l in out.stdout.splitlines() if re.match(r"\d+  \S", l)) == 3     # table rows: rank, two spaces


_LAYOUT = ("tp", "pp", "dp", "cp", "ep", "etp")


@pytest.mark.parametrize("name", SEEDS)
def test_apply_writes_the_layout_in_every_format(tmp_path, name):
    path = tmp_path / name
    shutil.copy(os.path.join(EXAMPLES, name), path)
    before = path.read_text(encoding="utf-8")
    chosen = suggest_json(str(path))["layouts"][0]
    out = deploylint("suggest", str(path), "--apply", "1")
    assert out.returncode == 0, out.stderr
    assert f"wrote layout 1 (tp=1 pp=1 dp=3) to {path}" in out.stdout
    after = path.read_text(encoding="utf-8")
    assert after != before and "expert_placement" not in after
    # only the [parallelism] lines changed: every other line of the file is still there, comments included
    kept = [l for l in before.splitlines() if "ep" not in l and "expert_placement" not in l and "parallelism" not in l]
    assert all(l in after.splitlines() for l in kept)
    now = suggest_json(str(path))["plan"]
    assert {k: now[k] for k in _LAYOUT} == {k: chosen[k] for k in _LAYOUT}
    check = json.loads(deploylint("check", str(path), "--format", "json").stdout)
    assert not [d for d in check["diagnostics"] if d["code"] in ("DL001", "DL002", "DL003", "DL007", "PAR401", "MOE301")]


def test_apply_rewrites_a_training_plan(tmp_path):
    path = tmp_path / "train.plan.toml"
    shutil.copy(TRAINING, path)
    shutil.copytree(os.path.join(EXAMPLES, "configs"), tmp_path / "configs")     # its model.from
    chosen = suggest_json(str(path), "--objective", "memory")["layouts"][1]
    out = deploylint("suggest", str(path), "--objective", "memory", "--apply", "2")
    assert out.returncode == 0, out.stderr
    now = suggest_json(str(path))["plan"]
    keys = _LAYOUT + ("zero_stage", "recompute", "micro_batch_size")
    assert {k: now[k] for k in keys} == {k: chosen[k] for k in keys}
    assert "# A training plan: Mixtral-8x7B" in path.read_text(encoding="utf-8")


def test_apply_never_writes_a_read_only_plan_and_k_must_be_in_range(tmp_path):
    path = tmp_path / "seed.toml"
    shutil.copy(os.path.join(EXAMPLES, SEEDS[0]), path)
    before = path.read_bytes()
    out = deploylint("suggest", str(path), "--apply", "2")
    assert out.returncode == 2 and "--apply 2: the layouts are numbered 1 to 1" in out.stderr
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)
    try:
        out = deploylint("suggest", str(path), "--apply", "1")
    finally:
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    assert out.returncode == 1 and "is read-only; fixes were not written" in out.stderr
    assert "layout 1 was not written" in out.stderr
    assert path.read_bytes() == before


def test_a_plan_that_does_not_load_gets_its_diagnostics(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[model\nlayers = 4\n", encoding="utf-8")
    out = deploylint("suggest", str(path))
    assert out.returncode == 1 and "DL001" in out.stderr and "cannot suggest layouts" in out.stderr
    assert "Traceback" not in out.stderr


def test_apply_refuses_a_layout_that_gives_the_plan_a_new_error(tmp_path):
    # Claimed 20,000 samples/s: under the plan's own bound (ep=3: about 29,000), over the only searched layout's
    # (ep=1, every device reads all 64 experts: about 16,000) -> moving there would add PRF501, so nothing is written.
    path = tmp_path / "seed.toml"
    text = open(os.path.join(EXAMPLES, SEEDS[0]), encoding="utf-8").read()
    path.write_text(text.replace("throughput_samples_per_s = 3800", "throughput_samples_per_s = 20000"), encoding="utf-8")
    before = path.read_bytes()
    assert "PRF501" not in deploylint("check", str(path)).stdout
    out = deploylint("suggest", str(path), "--apply", "1")
    assert out.returncode == 1 and "the plan would get a new problem: PRF501" in out.stderr
    assert path.read_bytes() == before


def _par407(path):
    out = deploylint("check", path, "--format", "json")
    return next(d for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "PAR407")


_SAVERS = ("zero_stage", "recompute")


def test_a_fitting_training_plan_is_offered_layouts_keeping_its_memory_savers_as_par405_does():
    # the Mixtral training example fits (no MEM101): PAR405 searches only layouts with its recompute and ZeRO stage,
    # and PAR407 names the best of those as its reference; suggest lists the same layouts, the same one first
    shown = suggest_json(TRAINING)
    assert shown["keeps_memory_savers"] is True
    assert {(c["zero_stage"], c["recompute"]) for c in shown["layouts"]} == {tuple(shown["plan"][k] for k in _SAVERS)} \
        == {(1, "full")}
    par407 = _par407(TRAINING)
    keys = _LAYOUT + _SAVERS + ("micro_batch_size",)
    assert {k: shown["layouts"][0][k] for k in keys} == {k: par407["data"]["reference"][k] for k in keys}
    # --any-savers: the layouts with other savers too, PAR407's best first (it changes recompute and the ZeRO stage)
    every = suggest_json(TRAINING, "--any-savers")
    assert every["keeps_memory_savers"] is False and len(every["layouts"]) > len(shown["layouts"])
    assert {k: every["layouts"][0][k] for k in keys} == {k: par407["data"]["best"][k] for k in keys}
    text = deploylint("suggest", TRAINING).stdout
    assert "keeping the plan's memory savers (recompute=full, zero_stage=1, sequence_parallel=true)" in text


def test_a_serving_plan_has_no_savers_to_keep():
    assert suggest_json(SERVING)["keeps_memory_savers"] is False
