"""The TensorRT-LLM adapter: ``trtllm-serve`` flags merged with the LLM-API options YAML, the YAML winning
(tensorrt_llm/commands/serve.py), and TensorRT-LLM's Mapping checks.

DeepSeek-R1 (bundled catalog): 256 experts, 61 layers, an FP8 checkpoint.
"""

from __future__ import annotations

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine


def check(path, config=None):
    return Engine(Registry().load(), config or Config()).check_path(str(path), candidate=True)


def codes(result):
    return sorted(d.code for d in result.diagnostics if d.code != "DL010")


def test_the_options_yaml_overrides_the_command_line_and_is_a_related_location(tmp_path):
    (tmp_path / "opts.yaml").write_text("max_batch_size: 256\nmoe_expert_parallel_size: 3\nkv_cache_config:\n"
                                        "  free_gpu_memory_fraction: 0.8\n")
    script = tmp_path / "serve.sh"
    script.write_text("#!/bin/bash\ntrtllm-serve deepseek-ai/DeepSeek-R1 --tp_size 8 --ep_size 8 \\\n"
                      "  --extra_llm_api_options opts.yaml\n")
    result = check(script)
    assert result.plan.parallelism.ep == 3 and result.plan.serving.memory_fraction == 0.8
    assert result.plan.serving.memory_fraction_of == "free"
    d = next(d for d in result.diagnostics if d.code == "TRT001")
    assert "moe_tp·moe_ep·moe_cluster = 1·3·1 = 3, but tensor_parallel_size = 8" in d.message
    assert (d.range.start.line, d.range.start.column) == (2, 60)          # the --ep_size value on the command line
    [r] = d.related
    assert r.file.endswith("opts.yaml") and (r.range.start.line, r.range.start.column) == (2, 27)


def test_a_missing_options_file_is_an_info_and_the_command_is_still_checked(tmp_path):
    script = tmp_path / "serve.sh"
    script.write_text("trtllm-serve meta-llama/Llama-3.1-405B-Instruct --tp_size 8 --pp_size 128 "
                      "--extra_llm_api_options missing.yaml\n")
    result = check(script)
    assert any(d.code == "DL010" and "missing.yaml" in d.message for d in result.diagnostics)
    assert "TRT002" in codes(result)           # 128 stages for 126 layers


def test_an_options_yaml_alone_names_no_model_and_yields_one_info(tmp_path):
    opts = tmp_path / "opts.yaml"
    opts.write_text("max_batch_size: 1024\nmax_num_tokens: 2048\nkv_cache_config:\n  dtype: fp8\n")
    result = check(opts)
    assert [d.code for d in result.diagnostics] == ["DL010"] and "no model" in result.diagnostics[0].message
