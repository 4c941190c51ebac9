"""Cold-start time of `deploylint check` against a bare interpreter, measured side by side.

A pre-commit hook and an editor pay the start-up on every run, so this is a
correctness figure for us. Run from the repository root, in the venv that has
deploylint installed:

    python bench/bench_startup.py            # 21 rounds (after 3 warm-up rounds)
    python bench/bench_startup.py --runs 51

Each round runs every command once, in turn (A B C … A B C …), so that all of
them see the same machine load; ``.pyc`` files are written as a user's
interpreter writes them (``PYTHONDONTWRITEBYTECODE`` is unset), and the checks
use a cache folder of their own. A plain check repeated on the same bytes is
answered from its stored output (core/frontends/replay.py): the warm-up rounds
store it, so the rows without ``--no-cache`` measure that answer and the rows
with it a check of the plan from scratch. It prints the median, the
interquartile range and the ratio to `python -c pass` (the floor any Python
tool pays). The numbers are reported, not asserted: timing assertions in tests
are flaky on shared machines; tests/core/test_startup.py instead checks
*which* modules a clean check imports.
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


def time_commands(commands: list[list[str]], runs: int, env: dict, warmups: int = 3) -> list[list[float]]:
    """Wall-clock milliseconds of each command, ``runs`` rounds of all of them in turn."""
    def one(cmd: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       cwd=ROOT, env=env)
        return (time.perf_counter() - start) * 1000

    for _ in range(warmups):
        for cmd in commands:
            one(cmd)
    samples: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for i, cmd in enumerate(commands):
            samples[i].append(one(cmd))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    py = sys.executable
    exe = shutil.which("deploylint", path=os.path.dirname(py))
    cli = [exe] if exe else [py, "-m", "deploylint.core.frontends.cli"]
    seed, healthy = "examples/seed-moe-64e-3dev.toml", "examples/mixtral-8x7b-h100.plan.toml"
    commands = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import pluggy, tomllib'", [py, "-c", "import pluggy, tomllib"]),
        ("deploylint --version", [*cli, "--version"]),
        ("check seed plan, repeated (replayed)", [*cli, "check", seed]),
        ("check seed plan --format json, repeated", [*cli, "check", seed, "--format", "json"]),
        ("check seed plan --no-cache", [*cli, "check", seed, "--no-cache"]),
        ("check seed plan --format json --no-cache", [*cli, "check", seed, "--format", "json", "--no-cache"]),
        ("check healthy plan --no-cache (clean)", [*cli, "check", healthy, "--no-cache"]),
    ]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, DEPLOYLINT_CACHE_DIR=cache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        samples = time_commands([cmd for _, cmd in commands], args.runs, env)
    base = statistics.median(samples[0])
    print(f"# {args.runs} rounds, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'command':<44}{'median ms':>11}{'IQR ms':>16}{'× pass':>9}")
    for (label, _), times in zip(commands, samples):
        q = statistics.quantiles(times, n=4)
        median = statistics.median(times)
        print(f"{label:<44}{median:>11.1f}{f'{q[0]:.1f}–{q[2]:.1f}':>16}{median / base:>9.2f}")


if __name__ == "__main__":
    main()
