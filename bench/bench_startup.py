"""Cold-start time of `deploylint check` against a bare interpreter.

A pre-commit hook and an editor pay the start-up on every run, so this is a
correctness figure for us. Run from the repository root, in the venv that has
deploylint installed:

    python bench/bench_startup.py            # 21 runs each (after 3 warm-ups)
    python bench/bench_startup.py --runs 51

It prints the median and minimum wall-clock time of each command and its
ratio to `python -c pass` (the floor any Python tool pays). The numbers are
reported, not asserted: timing assertions in tests are flaky on shared
machines; tests/core/test_startup.py instead checks *which* modules a clean
check imports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def time_command(cmd: list[str], runs: int, warmups: int = 3) -> tuple[float, float]:
    for _ in range(warmups):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    py = sys.executable
    cli = [py, "-m", "deploylint.core.frontends.cli"]
    commands = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import pluggy'", [py, "-c", "import pluggy"]),
        ("deploylint --version", [*cli, "--version"]),
        ("check healthy TOML plan (clean)", [*cli, "check", "examples/mixtral-8x7b-h100.plan.toml"]),
        ("check seed TOML plan (findings)", [*cli, "check", "examples/seed-moe-64e-3dev.toml"]),
        ("check seed plan --format json", [*cli, "check", "examples/seed-moe-64e-3dev.toml", "--format", "json"]),
    ]
    base = None
    print(f"{'command':<38}{'median ms':>11}{'min ms':>9}{'× pass':>9}")
    for label, cmd in commands:
        median, low = time_command(cmd, args.runs)
        base = base or median
        print(f"{label:<38}{median:>11.1f}{low:>9.1f}{median / base:>9.2f}")


if __name__ == "__main__":
    main()
