"""What running third-party plugins in the worker process costs.

Third-party plugins are imported and run in a worker process (docs/plugins.md,
"Faults stay yours"); ``DEPLOYLINT_PLUGINS_IN_PROCESS=1`` runs them in the
deploylint process instead. This compares the two on the same plugin (one
rule that reports one finding per plan), for one plan and for many:

    python bench/bench_plugins.py                 # 11 runs each (after 2 warm-ups), 50 plans
    python bench/bench_plugins.py --runs 21 --files 200

It prints the median wall-clock time and the median CPU time (user + system,
of deploylint and the worker together) of each command, and the cost of the
worker: once per run (the process start, the plugin imported there) and per
plan (the plan pickled across, one answer per rule). CPU time is the steadier
figure on a shared machine. Reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")

PLUGIN = """\
from deploylint.core import Rule, Severity, hookimpl

class OneFinding(Rule):
    code = "BENCH001"
    name = "one-finding"
    severity = Severity.INFO
    summary = "Reports the plan's device count."

    def check(self, ctx):
        yield self.report("/hardware/num_devices", f"{ctx.plan.hardware.num_devices} devices",
                          data={"devices": ctx.plan.hardware.num_devices})

@hookimpl
def deploylint_rules():
    return [OneFinding()]
"""


def measure(cmd: list[str], cwd: str, env: dict, runs: int, warmups: int = 2) -> tuple[float, float]:
    """Median wall-clock ms and median CPU ms (the command and every process it waited for)."""
    import resource

    for _ in range(warmups):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
        wall.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--files", type=int, default=50)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="deploylint-bench-")
    try:
        with open(os.path.join(work, "bench_rules.py"), "w") as fh:
            fh.write(PLUGIN)
        plans = os.path.join(work, "plans")
        os.mkdir(plans)
        for i in range(args.files):
            shutil.copy(PLAN, os.path.join(plans, f"p{i:04d}.plan.toml"))
        one = os.path.join(plans, "p0000.plan.toml")
        cli = [sys.executable, "-m", "deploylint.core.frontends.cli", "check", "--format", "json"]
        worker = {k: v for k, v in os.environ.items() if k != "DEPLOYLINT_PLUGINS_IN_PROCESS"}
        in_process = {**worker, "DEPLOYLINT_PLUGINS_IN_PROCESS": "1"}
        rows = [
            ("1 plan, built-in rules only", [*cli, one], worker),
            ("1 plan, + plugin in-process", [*cli, one, "--plugin", "bench_rules"], in_process),
            ("1 plan, + plugin in the worker", [*cli, one, "--plugin", "bench_rules"], worker),
            (f"{args.files} plans, built-in rules only", [*cli, plans], worker),
            (f"{args.files} plans, + plugin in-process", [*cli, plans, "--plugin", "bench_rules"], in_process),
            (f"{args.files} plans, + plugin in the worker", [*cli, plans, "--plugin", "bench_rules"], worker),
        ]
        figures = {}
        print(f"{'command':<44}{'wall ms':>10}{'CPU ms':>10}")
        for label, cmd, env in rows:
            figures[label] = measure(cmd, work, env, args.runs)
            print(f"{label:<44}{figures[label][0]:>10.1f}{figures[label][1]:>10.1f}")
        for i, kind in enumerate(("wall", "CPU")):
            once = figures["1 plan, + plugin in the worker"][i] - figures["1 plan, + plugin in-process"][i]
            many = figures[f"{args.files} plans, + plugin in the worker"][i] - figures[f"{args.files} plans, + plugin in-process"][i]
            per_plan = (many - once) / max(1, args.files - 1)
            print(f"worker cost ({kind}): {once:.1f} ms per run, {per_plan:.2f} ms per further plan")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
