"""Severity follows the engine: the generic head, expert and layer checks judged by each serving engine's own
start-up semantics (the engine's message and source quoted; shared/research/adapters.md §4.1-4.3).

Files are written in the shapes of real deployments (a `vllm serve` script, a LeaderWorkerSet manifest with
list-form SGLang args, a `trtllm-serve` script with its options YAML). Architectures: the bundled catalog
(Llama-3.1-8B: 32 heads, 8 KV heads; Llama-3.1-70B: 80 layers; DeepSeek-R1: 256 routed experts; Mixtral-8x7B:
8 experts), and one local config.json written here (48 heads, 12 KV heads) for the KV-head split the catalog's
models cannot show.
"""

from __future__ import annotations

import json

from deploylint.core import Document, NodeSpan, Span, SpanWriter, StartupCheck, StartupProfile, hookimpl
from deploylint.core.frontends.cli import main
from deploylint.core.document.writers.span_writer import Binding
from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine


def check(path, text, registry=None, candidate=True):
    return Engine(registry or Registry().load(), Config()).check_text(path, text, candidate=candidate)


def finding(result, code):
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [(d.code, d.message) for d in result.diagnostics]
    return found[0]


def model_folder(tmp_path):
    """A GQA model whose 12 KV heads neither divide tp=8 nor are divided by tp=16 (48 heads divide both)."""
    folder = tmp_path / "gqa-48-12"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 6144,
        "num_attention_heads": 48, "num_key_value_heads": 12, "num_hidden_layers": 40,
        "intermediate_size": 16384, "vocab_size": 32000, "max_position_embeddings": 8192,
        "torch_dtype": "bfloat16"}))
    return str(folder)


def vllm_script(model, flags):
    return f"#!/bin/bash\nset -euo pipefail\nexec vllm serve {model} \\\n  {flags} \\\n  --port 8000\n"


# -- vLLM ----------------------------------------------------------------------------------------------------
def test_vllm_heads_not_dividing_tp_is_an_error_in_vllms_words():
    d = finding(check("serve.sh", vllm_script("meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size 3")),
                "PAR402")
    assert d.severity.value == "error"
    assert ('vLLM 0.33.0 refuses to start: "Total number of attention heads (32) must be divisible by tensor '
            'parallel size (3)." (vllm/config/model.py:1557-1564)') in d.message
    assert (d.range.start.line, d.range.start.column) == (4, 26)       # the "3"


def test_vllm_replicates_kv_heads_a_warning_saying_vllm_accepts_it():
    d = finding(check("serve.sh", vllm_script("meta-llama/Llama-3.1-8B-Instruct", "-tp 16")), "PAR402")
    assert d.severity.value == "warning"
    assert "each KV head is replicated on 2 ranks" in d.message
    assert "vLLM 0.33.0 accepts it: num_kv_head_replicas = tp / KV heads = 2" in d.message and "linear.py:1068-1071" in d.message
    assert d.data["engine"] == "vllm" and d.data["engine_accepts"] is True


def test_vllm_kv_heads_that_neither_divide_nor_are_divided_stop_vllm(tmp_path):
    model = model_folder(tmp_path)
    # the script sits beside the model folder: a local model is read only inside the checked repository
    more = finding(check(str(tmp_path / "serve.sh"), vllm_script(model, "--tensor-parallel-size 8")), "PAR402")
    assert more.severity.value == "error" and 'refuses to start: "12 is not divisible by 8"' in more.message
    fewer = finding(check(str(tmp_path / "serve.sh"), vllm_script(model, "--tensor-parallel-size 16")), "PAR402")
    assert fewer.severity.value == "error" and 'refuses to start: "16 is not divisible by 12"' in fewer.message


def test_vllm_uneven_experts_without_eplb_start_with_a_warning():
    # Mixtral-8x7B: 8 experts over EP = tp·dp = 3 ranks: 3-3-2, which vLLM accepts without EPLB
    d = finding(check("serve.sh", vllm_script("mistralai/Mixtral-8x7B-Instruct-v0.1",
                                              "--data-parallel-size 3 --enable-expert-parallel")), "MOE301")
    assert d.severity.value == "warning" and "ranks hold 3-3-2 experts" in d.message
    assert "vLLM 0.33.0 accepts it" in d.message and "determine_expert_map" in d.message


def test_vllm_uneven_experts_under_eplb_are_vllms_error_and_reported_once():
    d = finding(check("serve.sh", vllm_script("mistralai/Mixtral-8x7B-Instruct-v0.1",
                                              "--data-parallel-size 3 --enable-expert-parallel --enable-eplb")),
                "MOE301")
    assert d.severity.value == "error"
    assert ('"EPLB currently only supports even distribution of experts across ranks. Got 8 experts and 3 EP '
            'ranks."') in d.message


def test_a_hand_written_plan_marked_as_vllm_is_judged_as_vllm_judges_it():
    text = """schema_version = 1
[model]
id = "meta-llama/Llama-3.1-8B"
[hardware]
accelerator = "h100-sxm"
num_devices = 16
[parallelism]
tp = 16
[workload]
mode = "inference"
batch_size = 1
seq_len = 1024
output_len = 128
[serving]
engine = "vllm"
"""
    d = finding(check("plan.toml", text, candidate=False), "PAR402")
    assert d.severity.value == "warning" and "vLLM 0.33.0 accepts it" in d.message
    plain = finding(check("plan.toml", text.replace('[serving]\nengine = "vllm"\n', ""), candidate=False), "PAR402")
    assert plain.severity.value == "warning" and "accepts it" not in plain.message and "engine" not in plain.data


# -- SGLang ---------------------------------------------------------------------------------------------------
def lws_sglang(args):
    items = "\n".join(f'            - "{a}"' if a.isdigit() else f"            - {a}" for a in args.split())
    return f"""apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata:
  name: sglang
spec:
  replicas: 1
  leaderWorkerTemplate:
    size: 1
    leaderTemplate:
      spec:
        containers:
        - name: sglang-leader
          image: lmsysorg/sglang:latest
          command:
            - python3
            - -m
            - sglang.launch_server
{items}
          resources:
            limits:
              nvidia.com/gpu: "8"
"""


def test_sglang_replicates_kv_heads_and_asserts_on_a_kv_split(tmp_path):
    d = finding(check("lws.yaml", lws_sglang("--model-path meta-llama/Llama-3.1-8B-Instruct --tp-size 16")), "PAR402")
    assert d.severity.value == "warning" and "SGLang 0.5.23 accepts it" in d.message
    split = finding(check(str(tmp_path / "lws.yaml"), lws_sglang(f"--model-path {model_folder(tmp_path)} --tp 8")), "PAR402")
    assert split.severity.value == "error" and "SGLang 0.5.23 refuses to start" in split.message
    assert "python/sglang/srt/models/llama.py:183-193" in split.message


def test_sglang_heads_not_dividing_attention_tp_is_its_assertion():
    d = finding(check("lws.yaml", lws_sglang("--model-path meta-llama/Llama-3.1-8B-Instruct --tp 6")), "PAR402")
    assert d.severity.value == "error" and "assert self.total_num_heads % tp_size == 0" in d.message


def test_sglang_experts_must_split_evenly_even_without_redundant_experts():
    # attention DP: tp 12 is 12 attention-DP ranks of attention TP 1 (no extra GPU); deepep forces ep = 12
    text = lws_sglang("--model-path deepseek-ai/DeepSeek-R1 --tp 12 --dp 12 --enable-dp-attention "
                      "--moe-a2a-backend deepep")
    d = finding(check("lws.yaml", text), "MOE301")
    assert d.severity.value == "error"
    assert "num_physical_experts % ep_size == 0 (256 physical experts, ep_size 12" in d.message
    assert "python/sglang/srt/eplb/expert_location.py:54,256" in d.message


# -- TensorRT-LLM ---------------------------------------------------------------------------------------------
def test_trtllm_uneven_pipeline_stages_are_accepted_and_heads_keep_the_generic_error(tmp_path):
    script = tmp_path / "serve.sh"
    (tmp_path / "options.yaml").write_text("pipeline_parallel_size: 3\nkv_cache_config:\n  free_gpu_memory_fraction: 0.85\n")
    text = ("#!/bin/bash\ntrtllm-serve meta-llama/Llama-3.1-70B-Instruct --tp_size 8 \\\n"
            "  --extra_llm_api_options options.yaml\n")
    script.write_text(text)
    d = finding(check(str(script), text), "PAR403")
    assert d.severity.value == "warning" and "80 layers do not divide by pp=3" in d.message
    assert "TensorRT-LLM accepts it" in d.message and "tensorrt_llm/mapping.py" in d.message
    heads = finding(check(str(script), text.replace("--tp_size 8", "--tp_size 6")), "PAR402")
    assert heads.severity.value == "error" and "refuses to start" not in heads.message   # its check was not read


# -- a third-party adapter's engine -----------------------------------------------------------------------------
class AcmeServe:
    """An adapter for a made-up engine whose start-up refuses replicated KV heads."""

    PROFILE = StartupProfile("AcmeServe 2.1", {
        "kv_heads_replicated": StartupCheck("kv_heads ({kv}) must be a multiple of tp ({tp})", "acme/attn.py:12"),
        "heads": ("heads ({heads}) % tp ({tp}) != 0", "acme/attn.py:10")})

    @hookimpl
    def deploylint_source(self, path, text):
        if not text.startswith("acmeserve "):
            return None
        model, tp = text.split()[1], text.split()[3]
        start = text.index(tp, text.index("--tp"))
        doc = Document(path, text, "toml", {"model": {"id": model}, "parallelism": {"tp": int(tp)},
                                            "serving": {"engine": "acme"}},
                       {"": NodeSpan(Span(0, 9)), "/parallelism": NodeSpan(Span(0, 9)),
                        "/parallelism/tp": NodeSpan(Span(start, start + len(tp)))}, partial=True)
        doc.startup = self.PROFILE
        doc.writer = SpanWriter({"/parallelism/tp": Binding(start, start + len(tp))},
                                reload=lambda new: self.deploylint_source(path, new))
        return doc


def test_a_third_party_adapter_attaches_its_engines_profile_to_the_document():
    registry = Registry()
    registry.register_object(AcmeServe(), "acme_serve")
    registry.load(autoload=True)
    d = finding(check("serve.acme", "acmeserve meta-llama/Llama-3.1-8B --tp 16\n", registry), "PAR402")
    assert d.severity.value == "error"
    assert 'AcmeServe 2.1 refuses to start: "kv_heads (8) must be a multiple of tp (16)" (acme/attn.py:12)' in d.message
    assert (d.range.start.column, d.range.end.column) == (40, 42)
    heads = finding(check("serve.acme", "acmeserve meta-llama/Llama-3.1-8B --tp 3\n", registry), "PAR402")
    assert 'AcmeServe 2.1 refuses to start: "heads (32) % tp (3) != 0"' in heads.message


ACME_MODULE = '''
from deploylint.core import Document, NodeSpan, Span, StartupCheck, StartupProfile, hookimpl

PROFILE = StartupProfile("AcmeServe 2.1", {
    "kv_heads_replicated": StartupCheck("kv_heads ({kv}) must be a multiple of tp ({tp})", "acme/attn.py:12"),
    "heads": ("heads ({heads}) % tp ({tp}) != 0", "acme/attn.py:10")})


@hookimpl
def deploylint_source(path, text):
    if not text.startswith("acmeserve "):
        return None
    model, tp = text.split()[1], text.split()[3]
    start = text.index(tp, text.index("--tp"))
    return Document(path, text, "toml", {"model": {"id": model}, "parallelism": {"tp": int(tp)},
                                         "serving": {"engine": "acme"}},
                    {"": NodeSpan(Span(0, 9)), "/parallelism": NodeSpan(Span(0, 9)),
                     "/parallelism/tp": NodeSpan(Span(start, start + len(tp)))}, partial=True, startup=PROFILE)
'''


def test_an_isolated_third_party_adapters_profile_crosses_its_worker(tmp_path, capsys, monkeypatch):
    # a plugin module runs in the plugin worker: its Document's StartupProfile must reach the rules in the host
    (tmp_path / "acme_serve_plugin.py").write_text(ACME_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    plan = tmp_path / "serve.acme"
    plan.write_text("acmeserve meta-llama/Llama-3.1-8B --tp 16\n")
    main(["check", str(plan), "--plugin", "acme_serve_plugin", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    (d,) = [d for d in report["diagnostics"] if d["code"] == "PAR402"]
    assert d["severity"] == "error"
    assert 'AcmeServe 2.1 refuses to start: "kv_heads (8) must be a multiple of tp (16)" (acme/attn.py:12)' in d["message"]
