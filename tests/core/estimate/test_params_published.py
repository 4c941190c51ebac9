"""Parameter counts of public models, from their config.json, against the figures their authors published.

Each model is imported through `[model] from` (the Hugging Face mapping) and
counted; the published figure and its source are in the table below
(tests/data/hf-configs/README.md lists the config sources). Tolerance: 0.5%
on totals; active parameters are published with two or three digits, rounded
or truncated (Qwen3's 3.353B is "3.3B", DeepSeek-V2-Lite's 2.451B "2.4B"), so
the tolerance there is one unit of the last published digit.
Active counts are compared under each vendor's convention: Mistral, Qwen,
OLMoE and Databricks count the input embedding, DeepSeek and OpenAI do not.
"""

import os

import pytest

from deploylint.core.estimate.params import count_params
from deploylint.core.plan.resolve import _model

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "hf-configs")

# file, published total, published active, active convention, (total tolerance, active tolerance), source
PUBLISHED = [
    ("llama-3.1-8b.json", 8_030_261_248, None, None, 0.005, None, "HF checkpoint metadata, meta-llama/Llama-3.1-8B"),
    ("llama-3.1-70b.json", 70.6e9, None, None, 0.005, None, "HF model page, meta-llama/Llama-3.1-70B"),
    ("mixtral-8x7b.json", 46.7e9, 12.9e9, "with-embedding", 0.005, 0.1e9, "Mistral AI, 'Mixtral of experts' (2023)"),
    ("deepseek-v3.json", 671e9, 37e9, "without-embedding", 0.005, 1e9, "DeepSeek-V3 Technical Report, abstract"),
    ("deepseek-v2-lite.json", 15.7e9, 2.4e9, "without-embedding", 0.005, 0.1e9, "DeepSeek-V2 paper, Appendix B"),
    ("qwen3-30b-a3b.json", 30.5e9, 3.3e9, "with-embedding", 0.005, 0.1e9, "Qwen3-30B-A3B model card"),
    ("qwen1.5-moe-a2.7b.json", 14.3e9, 2.7e9, "with-embedding", 0.005, 0.1e9, "Qwen1.5-MoE-A2.7B model card"),
    ("olmoe-1b-7b.json", 6.9e9, 1.3e9, "with-embedding", 0.005, 0.1e9, "OLMoE paper, Table 1"),
    ("dbrx.json", 132e9, 36e9, "with-embedding", 0.005, 1e9, "Databricks DBRX model card"),
    ("gpt-oss-120b.json", 116.83e9, 5.13e9, "without-embedding", 0.005, 0.01e9, "gpt-oss model card, Table 1"),
]


def _counts(name):
    model = _model({"from": os.path.join(DATA, name)}, os.path.join(DATA, "plan.toml"), [])
    assert model is not None
    return model, count_params(model)


@pytest.mark.parametrize("name, total, active, convention, tol_total, tol_active, source", PUBLISHED,
                         ids=[p[0] for p in PUBLISHED])
def test_totals_and_active_match_published(name, total, active, convention, tol_total, tol_active, source):
    model, counts = _counts(name)
    assert counts.total == pytest.approx(total, rel=tol_total), source
    if active is None:
        assert counts.active == counts.total          # dense: every parameter is active
        return
    ours = counts.active if convention == "with-embedding" else counts.active - counts.embedding
    assert ours == pytest.approx(active, abs=tol_active), source


def test_llama_8b_is_exact():
    # The checkpoint's parameter count is an integer: 8,030,261,248 (no rounding involved).
    assert _counts("llama-3.1-8b.json")[1].total == 8_030_261_248


def test_deepseek_v3_mla_attention_per_layer_and_mtp():
    # DeepSeek-V3: 187,107,328 attention parameters per layer (MLA with q_lora_rank 1536, kv_lora_rank 512);
    # the HF checkpoint's 685B = 671B main model + 14B MTP module (DeepSeek-V3 README): MTP counted apart.
    model, counts = _counts("deepseek-v3.json")
    assert counts.layers[0].attention == 187_107_328
    assert (counts.total + counts.mtp) == pytest.approx(685e9, rel=0.005)
    assert sum(1 for l in counts.layers if l.is_moe) == 58          # first 3 of 61 layers are dense


def test_memory_follows_total_and_compute_follows_active():
    # The classic MoE estimator bug is to size memory by active parameters: Mixtral's bf16 weights are
    # 2 × 46.7B bytes, not 2 × 12.9B, although a token only touches 12.9B of them.
    _, counts = _counts("mixtral-8x7b.json")
    assert counts.total * 2 > 90e9 and counts.active * 2 < 26e9
