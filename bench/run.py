"""Every speed figure of deploylint in one run, measured side by side (A B A B …) and printed as ratios.

    python bench/run.py                 # builds .bench/venv on first use (a normal, non-editable install)
    python bench/run.py --runs 41 --edits 50

What it measures, each pair alternating run by run so that both sides see the
same machine load:

* a cold ``deploylint check`` of the seed plan (five findings, text output),
  repeated (answered from its stored output) and with ``--no-cache`` (checked from scratch),
  against ``python -c pass``, against ``python -c "import pluggy, tomllib"``
  (the floor of this stack) and against ``python -c "import tomllib, argparse"``
  (the floor of a check with the built-in plugins alone, which imports no
  pluggy), all in the same venv, with ``.pyc`` files written as a user's
  interpreter writes them (``PYTHONDONTWRITEBYTECODE`` is unset);
* yamllint on the seed plan as YAML and check-jsonschema on it as JSON, each
  against ``deploylint check`` of the same file;
* 1,000 distinct plans (no two alike) in one folder, every file reported: without the result cache
  (``--no-cache``: every file checked; worker processes one per core, as by default), in one process
  (``-j 1``) for comparison, and through the cache (a cold run that fills it, then a warm run);
* the language server's edit-to-publish latency (p50 and p95 past the
  debounce over ``--edits`` edits) on a 200-line plan and on a 1,024-device plan;
* the feasible-layout search on 1,024 devices (``bench/bench_layouts.py``).

Figures are printed, never asserted; ``bench/README.md`` keeps the table with
the date and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ["yamllint==1.38.0", "check-jsonschema==0.39.0"]
SEED = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")


def venv(path: str) -> str:
    """The bench venv's python, created on first use: deploylint installed normally, plus the peer tools."""
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        pip = [python, "-m", "pip", "install", "-q", "-c", os.path.join(ROOT, "constraints.txt")]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, f"{ROOT}[lsp]", *TOOLS], check=True)
    return python


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.pop("PYTHONDONTWRITEBYTECODE", None)   # write .pyc files as a user's interpreter does
    return out


def one(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env(),
                   stdin=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1e3


def pair(a: list[str], b: list[str], runs: int) -> tuple[list[float], list[float]]:
    for _ in range(3):
        one(a), one(b)
    sa, sb = [], []
    for _ in range(runs):
        sa.append(one(a))
        sb.append(one(b))
    return sa, sb


def spread(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=4)
    return f"{statistics.median(samples):7.1f} ms (IQR {q[0]:.1f}–{q[2]:.1f})"


def distinct_plans(folder: str, count: int) -> None:
    """``count`` valid plans, no two alike (layers, width, devices, batch and layout all vary)."""
    text = open(SEED, encoding="utf-8").read()
    for i in range(count):
        layers = 2 + i % 40
        plan = (text.replace("layers = 4", f"layers = {layers}")
                .replace("batch_size = 8", f"batch_size = {8 + i}")
                .replace('name = "', f'name = "plan {i} ', 1))
        with open(os.path.join(folder, f"p{i:04d}.plan.toml"), "w", encoding="utf-8") as fh:
            fh.write(plan)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=os.path.join(ROOT, ".bench", "venv"))
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--plans", type=int, default=1000)
    args = parser.parse_args()
    py = venv(args.venv)
    bindir = os.path.dirname(py)
    dl = [os.path.join(bindir, "deploylint")]
    seed_yaml = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.yaml")
    seed_json = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.plan.json")
    schema = os.path.join(ROOT, "schemas", "plan.schema.json")
    print(f"# {time.strftime('%Y-%m-%d')} · {platform.machine()} · {os.cpu_count()} cores · Python "
          f"{platform.python_version()} · {args.runs} runs per side, alternating")
    rows = []

    def compare(label_a, a, label_b, b):
        sa, sb = pair(a, b, args.runs)
        ratio = statistics.median(sb) / statistics.median(sa)
        rows.append((label_a, spread(sa), label_b, spread(sb), ratio))
        print(f"{label_a:<34}{spread(sa)}   {label_b:<30}{spread(sb)}   {ratio:5.2f}x", flush=True)

    check_seed = [*dl, "check", SEED]
    # repeated on the same bytes, a plain check is answered from its stored output (core/frontends/replay.py):
    # the warm-up runs store it; --no-cache checks the plan from scratch every time
    compare("python -c pass", [py, "-c", "pass"], "deploylint check seed.toml", check_seed)
    compare("python -c pass", [py, "-c", "pass"], "check seed.toml --no-cache", [*check_seed, "--no-cache"])
    compare("python -c 'import pluggy, tomllib'", [py, "-c", "import pluggy, tomllib"],
            "deploylint check seed.toml", check_seed)
    # a check with the built-in plugins alone imports no pluggy: what it cannot do without is tomllib (and argparse)
    compare("python -c 'import tomllib, argparse'", [py, "-c", "import tomllib, argparse"],
            "deploylint check seed.toml", check_seed)
    compare("yamllint seed.yaml", [os.path.join(bindir, "yamllint"), seed_yaml],
            "deploylint check seed.yaml", [*dl, "check", seed_yaml])
    compare("check-jsonschema seed.json", [os.path.join(bindir, "check-jsonschema"), "--schemafile", schema, seed_json],
            "deploylint check seed.json", [*dl, "check", seed_json])

    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        distinct_plans(folder, args.plans)

        def many(label, extra, runs=3, warm=False):
            samples, reported = [], 0
            for _ in range(runs):
                if not warm:                                   # every run starts from an empty cache
                    shutil.rmtree(cache)
                    os.mkdir(cache)
                start = time.perf_counter()
                out = subprocess.run([*dl, "check", folder, "--format", "json", *extra], capture_output=True,
                                     text=True, env=dict(env(), DEPLOYLINT_CACHE_DIR=cache))
                samples.append(time.perf_counter() - start)
                reported = json.loads(out.stdout)["summary"]["files"]
            print(f"{args.plans} distinct plans, {label}: median {statistics.median(samples):.2f} s "
                  f"(min {min(samples):.2f}, max {max(samples):.2f}); {reported} files reported", flush=True)

        many("no cache, worker per core", ["--no-cache"])
        many("no cache, one process (-j 1)", ["--no-cache", "-j", "1"])
        many("filling an empty cache", [])
        many("from a warm cache", [], warm=True)

    for label, plan_args in (("200-line plan", ["--lines", "200"]), ("1,024-device plan", ["--devices", "1024"])):
        out = subprocess.run([py, os.path.join(ROOT, "bench", "bench_lsp.py"), "--edits", str(args.edits), *plan_args],
                             capture_output=True, text=True, env=env())
        print(f"LSP, {label}: {out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-300:]}",
              flush=True)

    out = subprocess.run([py, os.path.join(ROOT, "bench", "bench_layouts.py")], capture_output=True, text=True, env=env())
    print(out.stdout.strip() or out.stderr[-300:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
