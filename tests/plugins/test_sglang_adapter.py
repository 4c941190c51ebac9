"""The SGLang adapter on files in the shapes of real deployments: list-form args with argparse prefixes
(``--tp 8``), attention DP inside tp, EP carved out of tp (deepep forces ep = tp), redundant experts.

DeepSeek-R1 (bundled catalog, core/plan/catalog.py): 256 routed experts, 128 heads, MLA.
"""

from __future__ import annotations

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine


def check(path, text, config=None):
    return Engine(Registry().load(), config or Config()).check_text(path, text, candidate=True)


def codes(result):
    return sorted(d.code for d in result.diagnostics if d.code != "DL010")


def manifest(args: str, gpus: int = 8, size: int = 2) -> str:
    items = "".join(f"            - \"{a}\"\n" for a in args.split())
    return f"""apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata:
  name: decode
spec:
  leaderWorkerTemplate:
    size: {size}
    leaderTemplate:
      spec:
        containers:
        - name: leader
          image: lmsysorg/sglang:latest
          command:
            - python3
            - -m
            - sglang.launch_server
{items}          resources:
            limits:
              nvidia.com/gpu: "{gpus}"
    workerTemplate:
      spec:
        containers:
        - name: worker
          image: lmsysorg/sglang:latest
          command:
            - python3
            - -m
            - sglang.launch_server
{items}          resources:
            limits:
              nvidia.com/gpu: "{gpus}"
"""


def test_tp_is_the_whole_replica_and_attention_dp_costs_no_gpu():
    # 2 pods × 8 GPUs = --tp 16; --dp 16 with --enable-dp-attention runs inside those 16 GPUs
    result = check("d.yaml", manifest("--model-path deepseek-ai/DeepSeek-R1 --tp 16 --dp 16 --enable-dp-attention "
                                      "--moe-a2a-backend deepep --ep-num-redundant-experts 32"))
    assert len(result.documents) == 1                   # the worker's copy of the command is not read twice
    assert codes(result) == []
    par = result.plan.parallelism
    assert (par.tp, par.dp, par.ep) == (1, 16, 16)       # deepep forces ep = tp; (256 + 32) / 16 = 18


def test_gpus_requested_vs_tp_and_redundant_experts_at_their_tokens():
    text = manifest("--model-path deepseek-ai/DeepSeek-R1 --tp-size 8 --ep-size 8 --ep-num-redundant-experts 30")
    result = check("d.yaml", text)
    assert codes(result) == ["MOE301", "PAR401"]
    d = next(d for d in result.diagnostics if d.code == "MOE301")
    assert "256 experts + 30 redundant = 286 do not divide by ep=8" in d.message and d.severity.value == "error"
    assert "SGLang 0.5.23 refuses to start" in d.message and "num_physical_experts % ep_size == 0" in d.message
    line = text.splitlines()[d.range.start.line - 1]
    assert line.strip() == '- "8"' and line[d.range.start.column - 1] == '"'     # the --ep-size value
    world = next(d for d in result.diagnostics if d.code == "PAR401")
    assert "= 8, but num_devices = 16" in world.message


def test_ep_must_divide_tp_an_error_with_sglangs_words():
    result = check("d.yaml", manifest("--model-path deepseek-ai/DeepSeek-R1 --tp 8 --ep 3", size=1))
    d = next(d for d in result.diagnostics if d.code == "SGL001")
    assert "tp_size 8 must be divisible by ep_size 3" in d.message


def test_a_script_with_an_ambiguous_prefix_is_an_info_and_the_rest_is_checked(tmp_path):
    text = "#!/bin/sh\npython -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B --tp 3 --pp 2\n"
    result = check("serve.sh", text)
    assert any(d.code == "DL010" and "--pp: ambiguous" in d.message for d in result.diagnostics)
    d = next(d for d in result.diagnostics if d.code == "PAR402")
    assert (d.range.start.line, d.range.start.column) == (2, 74)      # the "3" of "--tp 3"
