"""The HTML report from every input format of one plan: the same pictures (only positions in the file differ)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SEEDS = ["seed-moe-64e-3dev.toml", "seed-moe-64e-3dev.yaml", "seed-moe-64e-3dev.plan.json", "deploy_seed_moe_64e_3dev.py"]


def html(name):
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    out = subprocess.run([exe, "analyze", os.path.join(ROOT, "examples", name), "--format", "html"],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return out.stdout


def charts(page):
    return re.findall(r"<svg id=\"(?:memory|memory-zoom|roofline|frontier)\".*?</svg>", page, re.S)


@pytest.mark.parametrize("name", SEEDS[1:])
def test_every_input_format_draws_the_same_charts(name):
    reference = charts(html(SEEDS[0]))
    assert len(reference) == 4              # the seed's devices use < 10% of memory: the zoomed chart is added
    assert charts(html(name)) == reference


def test_the_frontier_of_a_fitting_training_plan_keeps_its_memory_savers_and_marks_par407s_layout():
    # as PAR405 proposes (and deploylint suggest lists): the layouts with the plan's recompute=full and ZeRO stage 1;
    # the star is PAR407's layout with other savers (zero_stage=2, no recompute), searched for it
    page = html("mixtral-8x7b-training.plan.toml")
    (frontier,) = re.findall(r'<svg id="frontier".*?</svg>', page, re.S)
    layouts = re.findall(r'<circle class="layout[^"]*"[^>]*><title>([^:<]*):', frontier)
    assert layouts and all("zero_stage=1 recompute=full" in name for name in layouts)
    (star,) = re.findall(r"<title>PAR407 proposal: ([^:<]*)", frontier)
    assert "zero_stage=2" in star and "recompute" not in star
    assert "keeping the plan's memory savers (recompute=full, zero_stage=1, sequence_parallel=true)" in page
