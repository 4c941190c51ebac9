"""Naming what a training file does not say, per file pattern: ``[tool.deploylint.models]`` globs (the model of a
ds_config, an Accelerate config, a Megatron-Bridge override) and the glob sub-tables of
``[tool.deploylint.hardware]``/``[tool.deploylint.workload]``; each value filled is an info naming its origin."""

from __future__ import annotations

import os
import shutil

import pytest

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import ConfigError, config_from_table, load_config
from deploylint.core.pipeline.engine import Engine

HF_CONFIGS = os.path.join(os.path.dirname(__file__), "..", "data", "hf-configs")

DS = """{
  "train_batch_size": 256,
  "train_micro_batch_size_per_gpu": 8,
  "gradient_accumulation_steps": 4,
  "bf16": {"enabled": true},
  "zero_optimization": {"stage": 3}
}
"""

BRIDGE = """model:
  num_layers: 16
  tensor_model_parallel_size: 2
  seq_length: 4096
train:
  train_iters: 100
  global_batch_size: 32
  micro_batch_size: 1
"""


def project(tmp_path, config: str, files: dict[str, str]):
    (tmp_path / "deploylint.toml").write_text(config)
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load_config(start_dir=str(tmp_path))


def check(cfg, path):
    with open(path) as fh:
        text = fh.read()
    return Engine(Registry().load(autoload=True), cfg).check_text(str(path), text)


def infos(result):
    return [d.message for d in result.diagnostics if d.code == "DL010"]


def test_a_glob_names_the_model_of_a_ds_config_and_the_estimates_run(tmp_path):
    cfg = project(tmp_path, """
[models]
"deepspeed/*.json" = { id = "meta-llama/Llama-3.1-8B" }

[hardware]
accelerator = "h100-sxm"

[hardware."deepspeed/*.json"]
num_devices = 8

[workload."deepspeed/*.json"]
seq_len = 4096
""", {"deepspeed/ds_config.json": DS, "other/ds_config.json": DS})
    result = check(cfg, tmp_path / "deepspeed" / "ds_config.json")
    plan = result.plan
    # Llama-3.1-8B's published config.json: 32 layers, hidden 4096, 32/8 heads, vocab 128256
    assert (plan.model.layers, plan.model.hidden_size, plan.model.num_kv_heads, plan.model.vocab_size) == \
        (32, 4096, 8, 128256)
    assert plan.hardware.num_devices == 8 and plan.workload.seq_len == 4096 and plan.workload.batch_size == 256
    assert not plan.unknown & {"architecture", "model", "hardware", "workload", "devices"}
    said = infos(result)
    assert any("model = meta-llama/Llama-3.1-8B: from [tool.deploylint.models.\"deepspeed/*.json\"] in "
               f"{tmp_path / 'deploylint.toml'}" in m for m in said), said
    assert any("hardware.num_devices = 8: from [tool.deploylint.hardware.\"deepspeed/*.json\"]" in m for m in said)
    assert any("hardware.accelerator = 'h100-sxm': from [tool.deploylint.hardware] in" in m for m in said)
    assert not any("a ds_config does not name it" in m for m in said)      # the configuration named it
    assert not any("checks were not run" in m for m in said)
    assert "DSP001" not in [d.code for d in result.diagnostics]           # 8 × 4 × dp 8 = 256

    # a file the glob does not match keeps the old behaviour: no model, no estimate, one info per gap
    other = check(cfg, tmp_path / "other" / "ds_config.json")
    said = infos(other)
    assert any("a ds_config does not name it" in m and "[tool.deploylint.models]" in m for m in said)
    assert "architecture" in other.plan.unknown and other.plan.hardware.num_devices != 8


def test_the_values_a_bridge_override_states_are_kept_over_the_named_model(tmp_path):
    os.makedirs(tmp_path / "models" / "llama")
    shutil.copy(os.path.join(HF_CONFIGS, "llama-3.1-8b.json"), tmp_path / "models" / "llama" / "config.json")
    cfg = project(tmp_path, """
[models]
"conf/*.yaml" = { from = "models/llama" }
[hardware]
num_devices = 8
""", {"conf/override.yaml": BRIDGE})
    result = check(cfg, tmp_path / "conf" / "override.yaml")
    plan = result.plan
    assert plan.model.layers == 16                      # the override's num_layers, not the config's 32
    assert (plan.model.hidden_size, plan.model.num_attention_heads) == (4096, 32)     # the config.json's
    assert "architecture" not in plan.unknown
    (named,) = [m for m in infos(result) if m.startswith("model = ")]
    assert f"the config.json at {tmp_path / 'models' / 'llama' / 'config.json'}" in named
    assert "the values this file states are kept over it: layers = 16" in named
    # the world size gap of a Bridge override is its own info, still there; the model one is gone
    assert not any("override file changes a recipe" in m for m in infos(result))


def test_a_named_config_json_that_is_missing_is_an_error_at_the_file(tmp_path):
    cfg = project(tmp_path, '[models]\n"*.json" = { from = "nowhere/config.json" }\n', {"ds.json": DS})
    result = check(cfg, tmp_path / "ds.json")
    (d,) = [d for d in result.diagnostics if d.code == "DL004"]
    assert "names no config.json on this machine" in d.message and "nowhere/config.json" in d.message
    assert "architecture" in result.plan.unknown


def test_an_unknown_model_id_names_the_ways_to_supply_it(tmp_path):
    cfg = project(tmp_path, '[models]\n"*.json" = { id = "acme/secret-model" }\n', {"ds.json": DS})
    result = check(cfg, tmp_path / "ds.json")
    (d,) = [d for d in result.diagnostics if d.code == "DL004"]
    assert "acme/secret-model" in d.message and "[tool.deploylint.models]" in d.message


def test_a_file_that_names_its_model_is_not_overridden(tmp_path):
    titan = ('[model]\nname = "llama3"\nflavor = "70B"\n[training]\nlocal_batch_size = 1\nseq_len = 8192\n'
             '[parallelism]\ntensor_parallel_degree = 8\n')
    cfg = project(tmp_path, '[models]\n"*.toml" = { id = "meta-llama/Llama-3.1-8B" }\n', {"job.toml": titan})
    result = check(cfg, tmp_path / "job.toml")
    assert result.plan.model.layers == 80                       # the flavor's (Llama 3.1 70B), not the glob's
    assert not any(m.startswith("model = ") for m in infos(result))


def test_the_id_to_config_mapping_and_the_globs_live_in_one_table(tmp_path):
    os.makedirs(tmp_path / "cfgs")
    with open(os.path.join(HF_CONFIGS, "llama-3.1-8b.json")) as fh:
        (tmp_path / "cfgs" / "ft.json").write_text(fh.read())
    cfg = project(tmp_path, """
[models]
"acme/llama-ft" = "cfgs/ft.json"
"accelerate/*.yaml" = { id = "acme/llama-ft" }
""", {"accelerate/fsdp.yaml": "distributed_type: FSDP\nnum_processes: 8\nmixed_precision: bf16\n"})
    assert cfg.models == {"acme/llama-ft": "cfgs/ft.json"}
    assert cfg.file_models == [("accelerate/*.yaml", {"id": "acme/llama-ft"})]
    result = check(cfg, tmp_path / "accelerate" / "fsdp.yaml")
    assert result.plan.model.layers == 32 and "architecture" not in result.plan.unknown


@pytest.mark.parametrize("models", [
    {"*.json": {"id": 3}},
    {"*.json": {"id": "a/b", "from": "c.json"}},
    {"*.json": {"name": "a/b"}},
    {"a/b": 3},
])
def test_a_models_entry_of_the_wrong_shape_is_a_configuration_error(models):
    with pytest.raises(ConfigError, match="models"):
        config_from_table({"models": models})


def test_a_glob_table_of_hardware_holds_only_hardware_keys():
    with pytest.raises(ConfigError, match=r"hardware\.'\*\.json' must be a table of \[hardware\] keys"):
        config_from_table({"hardware": {"*.json": {"x": {"y": 1}}}})
    cfg = config_from_table({"hardware": {"accelerator": "h100-sxm", "*.json": {"num_devices": 8}}})
    assert cfg.hardware == {"accelerator": "h100-sxm"} and cfg.file_hardware == [("*.json", {"num_devices": 8})]


MEGATRON = """#!/bin/bash
torchrun --nproc_per_node 8 --nnodes 1 pretrain_gpt.py \\
    --num-layers 32 --hidden-size 4096 --num-attention-heads 32 --seq-length 4096 \\
    --max-position-embeddings 4096 --vocab-size 32000 --micro-batch-size 1 --global-batch-size 64 --bf16 \\
    --tensor-model-parallel-size 2
"""


@pytest.mark.parametrize("name, prefix", [("deploylint.toml", ""), ("pyproject.toml", "tool.deploylint.")])
def test_a_finding_about_a_value_the_configuration_gave_points_at_the_configuration_and_offers_no_edit_here(
        tmp_path, name, prefix):
    # the accelerator is mistyped in the configuration, not in the script: the script has nothing to fix
    (tmp_path / name).write_text(f'[{prefix}hardware."*.sh"]\naccelerator = "h100sxm"\n')
    (tmp_path / "train.sh").write_text(MEGATRON)
    result = check(load_config(start_dir=str(tmp_path)), tmp_path / "train.sh")
    d = next(x for x in result.diagnostics if x.code == "DL004")
    assert "unknown accelerator 'h100sxm'" in d.message and d.fixes == ()
    assert f'hardware.accelerator comes from [tool.deploylint.hardware."*.sh"] in {tmp_path / name}' in d.message
    assert "no fix offered: this file does not hold it" in d.message
    (place,) = d.related
    assert place.file == str(tmp_path / name) and (place.range.start.line, place.range.start.column) == (2, 15)
    info = next(x for x in result.diagnostics if x.code == "DL010" and "hardware.accelerator = 'h100sxm'" in x.message)
    assert info.related == d.related
    # once fixed where it is set, the script is checked on that accelerator and the finding is gone
    (tmp_path / name).write_text(f'[{prefix}hardware."*.sh"]\naccelerator = "h100-sxm"\n')
    assert "DL004" not in [x.code for x in check(load_config(start_dir=str(tmp_path)), tmp_path / "train.sh").diagnostics]


def test_a_finding_about_a_value_the_command_line_gave_names_the_flag(tmp_path):
    (tmp_path / "train.sh").write_text(MEGATRON)
    cfg = config_from_table({})
    cfg.cli_hardware = {"accelerator": "h100sxm"}
    d = next(x for x in check(cfg, tmp_path / "train.sh").diagnostics if x.code == "DL004")
    assert "(hardware.accelerator comes from --accelerator on the command line; no fix offered" in d.message
    assert d.fixes == () and d.related == ()


def test_where_a_value_comes_from_is_not_read_back_from_the_words_of_its_info(tmp_path):
    # the name holds the info's own separator (": from "): the finding still names the flag, and says why no fix
    (tmp_path / "train.sh").write_text(MEGATRON)
    cfg = config_from_table({})
    cfg.cli_hardware = {"accelerator": "h100: from sxm"}
    d = next(x for x in check(cfg, tmp_path / "train.sh").diagnostics if x.code == "DL004")
    assert d.message.endswith("(hardware.accelerator comes from --accelerator on the command line; "
                              "no fix offered: this file does not hold it)")
    assert d.refusal == "this file does not hold it" and d.fixes == ()
