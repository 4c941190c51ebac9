"""The seed review, done by deploylint: the full text report of the seed example is kept in the repository.

tests/golden/seed-moe-64e-3dev.txt is what `deploylint check examples/seed-moe-64e-3dev.toml`
prints; reviewers read it there. A change to any figure, message or fix shows up as a diff of
that file (regenerate with: deploylint check examples/seed-moe-64e-3dev.toml > tests/golden/seed-moe-64e-3dev.txt).
The findings are the seed review's five — MEM102, MEM103, CMP201, MOE301, PRF502 — plus the problem
the review did not name: batch 8 does not split evenly over the 3 data-parallel replicas (PAR406, 3-3-2);
PAR405 only if a feasible layout really is better (on 3 devices of this 16-head, 4-layer model none is).
"""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden", "seed-moe-64e-3dev.txt")
EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def test_seed_report_matches_the_golden_file():
    out = subprocess.run([EXE, "check", "examples/seed-moe-64e-3dev.toml"], cwd=ROOT, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 1
    with open(GOLDEN, encoding="utf-8") as fh:
        assert out.stdout == fh.read()


def test_seed_findings_are_the_reviews_five_and_the_uneven_batch():
    text = open(GOLDEN, encoding="utf-8").read()
    codes = {line.split(": ", 1)[1].split()[0] for line in text.splitlines() if line.startswith("examples/seed-moe-64e-3dev.toml:")}
    assert codes == {"MEM102", "MEM103", "CMP201", "MOE301", "PRF502", "PAR406"}
    assert "3-3-2 sequences" in text
    # the review's own "use TP=2" is infeasible on 3 devices (16 heads): no fix may propose it
    assert "tp=2" not in text and "tp = 2" not in text
