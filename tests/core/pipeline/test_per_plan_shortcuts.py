"""The per-plan shortcuts of a check give the findings the long way gives, over a generated set of plans.

Each shortcut below is switched off (the long way put back) and the same plans are checked again: the JSON
reports, fixes and figures included, must be identical. The plans are variants of the examples (the seed's MoE on
3 devices, Mixtral serving and training on H100s) over layers, devices, layouts and batch sizes, so that they
cross the rules that use the shortcuts: layouts searched, the own layout compared, batches bisected.
"""

import json
import os

import pytest

from deploylint.core.estimate import layouts
import deploylint.plugins.experts  # noqa: F401  (the rule families whose shortcuts are switched off below)
import deploylint.plugins.parallelism  # noqa: F401
from deploylint.core.frontends.report.json_report import render
from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.engine import Engine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLES = os.path.join(ROOT, "examples")


def _text(name: str) -> str:
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as fh:
        return fh.read()


def generated_plans() -> list[tuple[str, str]]:
    """(file name inside examples/, text): no two alike."""
    out = []
    seed = _text("seed-moe-64e-3dev.toml")
    for i, (layers, batch, devices, ep) in enumerate(
            [(2, 8, 3, 3), (4, 13, 3, 3), (7, 64, 3, 1), (12, 1, 3, 3), (4, 96, 4, 4), (4, 8, 4, 2), (9, 30, 6, 3),
             (4, 256, 8, 8), (16, 5, 2, 2), (4, 384, 3, 3), (3, 8, 12, 6), (40, 47, 3, 3)]):
        text = (seed.replace("layers = 4", f"layers = {layers}").replace("batch_size = 8", f"batch_size = {batch}")
                .replace("num_devices = 3", f"num_devices = {devices}").replace("ep = 3", f"ep = {ep}"))
        if (devices, ep) != (3, 3):
            text = text.replace("expert_placement = [22, 21, 21]\n", "")
        out.append((f"seed-{i}.plan.toml", text))
    serving = _text("mixtral-8x7b-h100.plan.toml")
    for i, (devices, tp, ep, batch) in enumerate(
            [(8, 8, 8, 1024), (8, 2, 8, 64), (16, 8, 8, 1024), (4, 4, 4, 8), (8, 1, 1, 2), (32, 8, 8, 4096),
             (8, 4, 2, 300)]):
        text = (serving.replace("num_devices = 8", f"num_devices = {devices}").replace("tp = 8", f"tp = {tp}")
                .replace("ep = 8", f"ep = {ep}").replace("batch_size = 1024", f"batch_size = {batch}"))
        out.append((f"serving-{i}.plan.toml", text))
    training = _text("mixtral-8x7b-training.plan.toml")
    for i, (devices, tp, pp, dp, ep, zero, recompute, batch) in enumerate(
            [(32, 2, 2, 8, 4, 1, "full", 256), (32, 2, 2, 8, 4, 0, "none", 256), (16, 2, 1, 8, 8, 3, "full", 64),
             (64, 4, 4, 4, 2, 1, "selective", 512), (8, 1, 1, 8, 8, 2, "full", 24), (32, 8, 4, 1, 8, 1, "none", 32)]):
        text = (training.replace("num_devices = 32", f"num_devices = {devices}").replace("tp = 2", f"tp = {tp}")
                .replace("pp = 2", f"pp = {pp}").replace("dp = 8", f"dp = {dp}").replace("ep = 4", f"ep = {ep}")
                .replace("zero_stage = 1", f"zero_stage = {zero}").replace('recompute = "full"', f'recompute = "{recompute}"')
                .replace("batch_size = 256", f"batch_size = {batch}"))
        out.append((f"training-{i}.plan.toml", text))
    assert len({text for _, text in out}) == len(out)
    return out


def report() -> str:
    """The JSON report of every generated plan (fixes rendered, figures included)."""
    engine = Engine(Registry().load())
    diagnostics = [d for name, text in generated_plans()
                   for d in engine.check_text(os.path.join(EXAMPLES, name), text).diagnostics]
    return render(diagnostics, len(diagnostics))


@pytest.fixture(scope="module")
def reference() -> str:
    return report()


def test_the_generated_plans_cross_the_rules_the_shortcuts_serve(reference):
    codes = {d["code"] for d in json.loads(reference)["diagnostics"]}
    assert {"PAR405", "MOE301", "MEM102", "CMP201"} <= codes


def test_the_own_layout_read_from_the_plans_estimate(reference, monkeypatch):
    """``_shared.own_candidate`` reads the engine's estimate; the long way estimates the layout again."""
    import sys

    asked = []

    def estimated_again(ctx):
        asked.append(ctx.plan.name)
        if "own" not in ctx.cache:
            ctx.cache["own"] = layouts.candidate_for(ctx.plan, ctx.analysis.params)
        return ctx.cache["own"]

    users = [m for name, m in sys.modules.items() if name.startswith("deploylint.plugins") and hasattr(m, "own_candidate")]
    assert len(users) >= 3         # _shared, and the rule families that import it
    for module in users:
        monkeypatch.setattr(module, "own_candidate", estimated_again)
    assert report() == reference
    assert len(asked) > 5
