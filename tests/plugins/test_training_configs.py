"""TorchTitan TOML, DeepSpeed ds_config JSON, Accelerate YAML and Megatron-Bridge override YAML, linted in place.

The files are written here in the shapes of the public examples (TorchTitan's train_configs/*.toml,
DeepSpeedExamples' ds_config.json, Accelerate's config_yaml_templates, Megatron-Bridge's conf/*.yaml).
Messages quoted from the frameworks are checked as deploylint reports them, with their cited source.
"""

from __future__ import annotations

import pytest

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine
from suite_helpers import one


def check(path, text, config=None, **kw):
    return Engine(Registry().load(autoload=True), config or Config()).check_text(path, text, **kw)


def codes(result):
    return [d.code for d in result.diagnostics]


def token(text, d):
    lines = text.splitlines()
    return lines[d.range.start.line - 1][d.range.start.column - 1:d.range.end.column - 1]


def cli(**hardware):
    cfg = Config()
    cfg.cli_hardware = hardware
    return cfg


# ------------------------------------------------------------------------------------------------ TorchTitan

TITAN = """# NOTE: this toml config is a preset for 64 H100 GPUs.

[job]
description = "Llama 3 70B training"

[model]
name = "llama3"
flavor = "70B"

[training]
local_batch_size = 8
seq_len = 8192
steps = 1000

[parallelism]
data_parallel_replicate_degree = 1
data_parallel_shard_degree = -1
tensor_parallel_degree = 8  # 8-way TP
pipeline_parallel_degree = 1
context_parallel_degree = 1

[activation_checkpoint]
mode = "full"
"""


def test_torchtitan_flavor_degrees_and_the_rest_of_the_world():
    result = check("llama3_70b.toml", TITAN)
    plan = result.plan
    # llama3 70B flavor = Llama-3.1-70B's architecture (80 layers, 8192 wide, 64/8 heads)
    assert (plan.model.layers, plan.model.hidden_size, plan.model.num_attention_heads, plan.model.num_kv_heads) == \
        (80, 8192, 64, 8)
    par = plan.parallelism
    assert (plan.hardware.num_devices, par.tp, par.dp, par.zero_stage, par.recompute) == (64, 8, 8, 3, "full")
    assert plan.workload.batch_size == 64      # global -1 = local 8 × dp 8
    infos = [d.message for d in result.diagnostics if d.code == "DL010"]
    assert any('the file\'s comment "NOTE: this toml config is a preset for 64 H100 GPUs"' in m for m in infos)
    (batch,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert batch.message == ("workload.batch_size = 64: global_batch_size unset (TorchTitan's default -1) is "
                             "local_batch_size × dp (8 × dp 8; dp 8 = 64 devices / tp·pp·cp 8)")
    assert token(TITAN, batch) == "8" and batch.range.start.line == 11    # local_batch_size, what the file says
    assert not [c for c in codes(result) if c[:3] in ("PAR", "MOE", "TTN")]


def test_torchtitan_world_heads_and_kv_heads_checks_quote_torchtitan():
    # --num-devices 60 wins over the comment; "the rest" is 60 // 8 = 7 and 7 · 8 ≠ 60
    d = one(check("llama3_70b.toml", TITAN, cli(num_devices=60)), "PAR401")
    assert ('"Invalid parallel dims: dp_replicate(1) * dp_shard(7) * cp(1) * tp(8) * pp(1) != WORLD_SIZE(60)"'
            in d.message)
    explicit = TITAN.replace("data_parallel_shard_degree = -1", "data_parallel_shard_degree = 4")
    d = one(check("t.toml", explicit), "PAR401")
    assert d.severity.value == "error"
    assert ('TorchTitan refuses to start: "Invalid parallel dims: dp_replicate(1) * dp_shard(4) * cp(1) * tp(8) * '
            'pp(1) != WORLD_SIZE(64)"') in d.message
    assert token(explicit, d) == "4"            # data_parallel_shard_degree, the one written as a number
    # tp 16 exceeds the 8 KV heads: legal in Megatron (replication), an error in TorchTitan
    wide = TITAN.replace("tensor_parallel_degree = 8", "tensor_parallel_degree = 16").replace(
        "preset for 64 H100", "preset for 64 H100")
    d = one(check("t.toml", wide), "PAR402")
    assert d.severity.value == "error" and '"tensor_parallel_degree (16) must divide n_kv_heads (8)."' in d.message


def test_torchtitan_expert_checks():
    moe = """[model]
name = "deepseek_v3"
flavor = "671B"

[training]
local_batch_size = 4
seq_len = 4096

[parallelism]
data_parallel_replicate_degree = 2
data_parallel_shard_degree = 4
tensor_parallel_degree = 2
expert_parallel_degree = 16
expert_tensor_parallel_degree = 1
"""
    result = check("dsv3.toml", moe, cli(num_devices=16))
    # ep 16 divides the 16 devices of a stage, but not dp_shard·cp·tp = 4·1·2 = 8 (dp_replicate is not in it)
    d = one(result, "TTN002")
    assert '"expert_parallel_degree (16) must divide dp_shard * cp * tp (8)"' in d.message
    assert token(moe, d) == "16"
    d = one(check("dsv3.toml", moe.replace("expert_tensor_parallel_degree = 1", "expert_tensor_parallel_degree = 2")
                  .replace("tensor_parallel_degree = 2", "tensor_parallel_degree = 4")
                  .replace("expert_parallel_degree = 16", "expert_parallel_degree = 2")
                  .replace("expert_tensor_parallel_degree = 4", "expert_tensor_parallel_degree = 2"),
                  cli(num_devices=32)), "TTN001")
    assert d.data == {"etp": 2, "tp": 4} and "Currently we only support ETP=TP or ETP=1" in d.message


#: a job TOML in the shape of TorchTitan's train_configs, without the "preset for N GPUs" comment: the world size
#: comes from --num-devices or the configuration, and global_batch_size = -1 is local_batch_size × dp
TITAN_NO_WORLD = TITAN.replace("# NOTE: this toml config is a preset for 64 H100 GPUs.\n\n", "").replace(
    "local_batch_size = 8\n", "local_batch_size = 8\nglobal_batch_size = -1\n").replace('mode = "full"', 'mode = "none"')


@pytest.mark.parametrize("config", [cli(num_devices=64), Config(hardware={"num_devices": 64})],
                         ids=["--num-devices", "[tool.deploylint.hardware]"])
def test_torchtitan_global_batch_minus_one_is_computed_once_the_world_is_known(config):
    result = check("llama3_70b.toml", TITAN_NO_WORLD, config)
    assert (result.plan.parallelism.dp, result.plan.workload.batch_size) == (8, 64)   # the rest: 64 / 8; 8 × 8
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message == ("workload.batch_size = 64: global_batch_size -1 is local_batch_size × dp "
                         "(8 × dp 8; dp 8 = 64 devices / tp·pp·cp 8)")
    assert token(TITAN_NO_WORLD, d) == "-1" and d.range.start.line == 10
    assert "workload" not in result.plan.unknown


def test_torchtitan_global_batch_minus_one_without_a_world_says_it_is_unknown():
    result = check("llama3_70b.toml", TITAN_NO_WORLD)
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message.startswith("workload.batch_size is not known: global_batch_size -1 is local_batch_size × dp, "
                                "and dp is not known without a device count")
    assert token(TITAN_NO_WORLD, d) == "-1"
    skipped = next(d for d in result.diagnostics if d.code == "DL010" and "checks were not run" in d.message)
    assert "PAR406" in skipped.data["skipped"] and "PAR402" not in skipped.data["skipped"]


def test_torchtitan_global_batch_minus_one_is_not_made_up_when_no_dp_fills_the_devices():
    # 7 devices over tp·pp·cp 8: no launch has a dp here (PAR401 says so), so no batch is derived from one
    result = check("llama3_70b.toml", TITAN_NO_WORLD, cli(num_devices=7))
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message.startswith("workload.batch_size is not known: global_batch_size -1 is local_batch_size × dp, "
                                "and no dp makes tp·pp·cp 8 fill the 7 devices")
    assert "PAR401" in codes(result)


def test_torchtitan_the_derived_batch_lets_the_memory_check_run_and_its_fix_edits_the_mode_token():
    # Llama 3 70B at tp 8 with local batch 8 × 8192 tokens and no recomputation cannot fit an 80 GiB A100; the memory
    # check needs the workload, which the file gives only once dp (64 devices / tp 8) makes its batch known
    config = cli(num_devices=64, accelerator="a100-80gb")
    result = check("llama3_70b.toml", TITAN_NO_WORLD, config)
    d = one(result, "MEM101")
    assert d.data["devices_over"] == list(range(64))
    fix = next(f for f in d.fixes if "full" in f.message)
    (edit,) = fix.edits
    fixed = TITAN_NO_WORLD[:edit.start] + edit.new_text + TITAN_NO_WORLD[edit.end:]
    assert fixed == TITAN_NO_WORLD.replace('mode = "none"', 'mode = "full"')
    assert "MEM101" not in codes(check("llama3_70b.toml", fixed, config))


def test_torchtitan_an_explicit_global_batch_over_the_rest_of_the_world_is_torchtitans_error_at_its_token():
    text = TITAN_NO_WORLD.replace("global_batch_size = -1", "global_batch_size = 60")
    result = check("llama3_70b.toml", text, cli(num_devices=64))
    d = one(result, "PAR406")            # 60 over local 8 × dp 8 = 64
    assert d.severity.value == "error" and token(text, d) == "60"
    assert ('TorchTitan refuses to start: "global batch size must be multiple of local batch size times '
            'data-parallel degree"') in d.message
    (edit,) = d.fixes[0].edits
    fixed = text[:edit.start] + edit.new_text + text[edit.end:]
    assert fixed == text.replace("global_batch_size = 60", "global_batch_size = 64")
    assert "PAR406" not in codes(check("llama3_70b.toml", fixed, cli(num_devices=64)))


def test_a_native_plan_is_not_taken_for_torchtitan():
    plan = 'schema_version = 1\n[model]\nflavor = "x"\n[parallelism]\ntp_degree = 1\n'
    result = check("p.toml", plan)
    assert result.documents[0].format == "toml" and result.plan is None     # the plan loader's findings (DL002/3)


# ------------------------------------------------------------------------------------------------ DeepSpeed

DS = """{
  "train_batch_size": 256,
  "train_micro_batch_size_per_gpu": 8,
  "gradient_accumulation_steps": 4,
  "bf16": {"enabled": true},
  "zero_optimization": {
    "stage": 2,
    "offload_optimizer": {"device": "cpu", "pin_memory": true}
  }
}
"""


def test_deepspeed_identity_and_auto():
    plan = check("ds_config.json", DS, cli(num_devices=8)).plan
    assert (plan.workload.batch_size, plan.parallelism.micro_batch_size, plan.training.gradient_accumulation_steps) == \
        (256, 8, 4)
    assert (plan.parallelism.zero_stage, plan.parallelism.offload_optimizer, plan.workload.dtype) == (2, "cpu", "bf16")
    assert "DSP001" not in codes(check("ds_config.json", DS, cli(num_devices=8)))        # 8 × 4 × 8 = 256
    result = check("ds_config.json", DS, cli(num_devices=4))
    d = one(result, "DSP001")
    assert ('"Check batch related parameters. train_batch_size is not equal to micro_batch_per_gpu * '
            'gradient_acc_step * world_size 256 != 8 * 4 * 4"') in d.message and token(DS, d) == "256"
    assert d.data["dp_needed"] == 8
    # no world size given: only what holds for every world size is checked
    bad = DS.replace('"gradient_accumulation_steps": 4', '"gradient_accumulation_steps": 3')
    d = one(check("ds_config.json", bad), "DSP001")
    assert "no world size satisfies" in d.message
    auto = DS.replace('"train_batch_size": 256', '"train_batch_size": "auto"')
    result = check("ds_config.json", auto, cli(num_devices=4))
    assert "DSP001" not in codes(result)
    assert any('train_batch_size = "auto"' in d.message for d in result.diagnostics if d.code == "DL010")


def test_deepspeed_two_of_three_derivation():
    two = '{"train_batch_size": 256, "train_micro_batch_size_per_gpu": 8}\n'
    assert "DSP001" not in codes(check("ds.json", two, cli(num_devices=8)))      # gas = 256 / (8 · 8) = 4
    d = one(check("ds.json", two, cli(num_devices=3)), "DSP001")
    assert d.data == {"batch_size": 256, "multiple_of": 24, "dp": 3}


def test_deepspeed_a_left_out_train_batch_size_is_micro_times_accumulation_times_dp():
    # DeepSpeed derives train_batch_size = micro × gradient accumulation × dp (config.py:942-980)
    text = '{\n  "train_micro_batch_size_per_gpu": 4,\n  "gradient_accumulation_steps": 8\n}\n'
    result = check("ds_config.json", text, cli(num_devices=16))
    assert result.plan.workload.batch_size == 512
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message == ("workload.batch_size = 512: train_batch_size left out is train_micro_batch_size_per_gpu × "
                         "gradient_accumulation_steps × dp (32 × dp 16; dp 16 = 16 devices / tp·pp·cp 1)")
    assert "DSP001" not in codes(result)
    # "auto" is the launcher's to fill in: no derivation
    auto = text.replace('{\n', '{\n  "train_batch_size": "auto",\n')
    result = check("ds_config.json", auto, cli(num_devices=16))
    assert "workload" in result.plan.unknown
    assert not [d for d in result.diagnostics if d.data.get("origin") == "derived"]


def test_a_json_that_is_not_a_ds_config_is_left_alone():
    result = check("package.json", '{"name": "x", "version": "1.0"}\n', candidate=True)
    assert result.claimed is False and result.diagnostics == []


# ------------------------------------------------------------------------------------------------ Accelerate

ACCEL = """distributed_type: FSDP
mixed_precision: bf16
num_machines: 1
num_processes: 8
fsdp_config:
  fsdp_sharding_strategy: SHARD_GRAD_OP
  fsdp_offload_params: false
parallelism_config:
  parallelism_config_dp_replicate_size: 2
  parallelism_config_dp_shard_size: 2
  parallelism_config_tp_size: 2
  parallelism_config_cp_size: 1
"""


def test_accelerate_mesh_must_match_num_processes():
    plan = check("accelerate.yaml", ACCEL).plan
    assert (plan.hardware.num_devices, plan.parallelism.tp, plan.parallelism.dp, plan.parallelism.zero_stage) == \
        (8, 2, 4, 2)
    bad = ACCEL.replace("num_processes: 8", "num_processes: 16")
    d = one(check("accelerate.yaml", bad), "PAR401")
    assert ('"ParallelismConfig total_size (8) does not match num_processes (16). Please adjust dp_replicate_size/ '
            'dp_shard_size/tp_size/cp_size/sp_size."') in d.message


# ------------------------------------------------------------------------------------------------ Megatron-Bridge

BRIDGE = """# override for a recipe
model:
  seq_length: 4096
  tensor_model_parallel_size: 2
train:
  train_iters: 100
  global_batch_size: 30
  micro_batch_size: 1
"""


def test_bridge_override_batch_over_dp_is_megatrons_error_and_the_fix_edits_that_value():
    result = check("override.yaml", BRIDGE, cli(num_devices=8))
    d = one(result, "PAR406")                        # 30 over dp = 8 / 2 = 4 ranks
    assert d.severity.value == "error" and token(BRIDGE, d) == "30"
    assert '"global batch size (30) is not divisible by micro batch size (1) times data parallel size (4)"' in d.message
    (edit,) = d.fixes[0].edits
    fixed = BRIDGE[:edit.start] + edit.new_text + BRIDGE[edit.end:]
    assert fixed == BRIDGE.replace("global_batch_size: 30", "global_batch_size: 28")
    assert "PAR406" not in codes(check("override.yaml", fixed, cli(num_devices=8)))


@pytest.mark.parametrize("path, text", [
    ("values.yaml", "image: x\nreplicas: 2\n"),
    ("job.toml", "[tool.poetry]\nname = 'x'\n"),
    ("a.yaml", "model:\n  name: x\ntrain:\n  lr: 1\n"),
])
def test_other_files_are_left_alone(path, text):
    result = check(path, text, candidate=True)
    assert result.claimed is False and result.diagnostics == []


# ------------------------------------------------------------------------------------------------ item-3 checks

LLAMA4 = """[model]
name = "llama4"
flavor = "{flavor}"

[training]
local_batch_size = 1
seq_len = 8192

[parallelism]
data_parallel_shard_degree = -1
tensor_parallel_degree = 8
expert_parallel_degree = {ep}
"""


@pytest.mark.parametrize("flavor, experts, total_b, active_b", [
    # Meta's Llama 4 model card (github.com/meta-llama/llama-models, models/llama4/MODEL_CARD.md): Llama 4 Scout
    # 17B active / 109B total parameters, 16 experts; Llama 4 Maverick 17B active / 400B total, 128 experts
    ("17bx16e", 16, 109, 17),
    ("17bx128e", 128, 400, 17),
])
def test_torchtitan_llama4_flavors_have_the_published_sizes(flavor, experts, total_b, active_b):
    from deploylint.core.estimate.params import count_params

    result = check("llama4.toml", LLAMA4.format(flavor=flavor, ep=1), cli(num_devices=64))
    model = result.plan.model
    assert "architecture" not in result.plan.unknown
    assert (model.layers, model.hidden_size, model.num_attention_heads, model.num_kv_heads) == (48, 5120, 40, 8)
    assert model.moe.num_experts == experts and model.moe.top_k == 1
    counts = count_params(model)
    assert counts.total / 1e9 == pytest.approx(total_b, rel=0.02)         # within 2% of the published total
    assert counts.active / 1e9 == pytest.approx(active_b, rel=0.03)       # and 3% of the active count
    # the experts check runs on the flavor's experts: 16 do not split over ep 3 (TorchTitan's own message)
    bad = check("llama4.toml", LLAMA4.format(flavor=flavor, ep=3), cli(num_devices=48))
    d = one(bad, "MOE301") if experts % 3 else None
    if d is not None:
        assert f'"num_experts ({experts}) must be divisible by expert_parallel_degree (3)."' in d.message


def test_deepspeed_bf16_and_fp16_both_enabled_is_deepspeeds_start_up_error():
    both = DS.replace('"bf16": {"enabled": true}', '"bf16": {"enabled": true},\n  "fp16": {"enabled": true}')
    result = check("ds_config.json", both, cli(num_devices=8))
    d = one(result, "DSP002")
    assert d.severity.value == "error" and token(both, d) == "true" and d.range.start.line == 5
    assert '"bfloat16 and fp16 modes cannot be simultaneously enabled" (deepspeed/runtime/config.py:827-828)' in \
        d.message
    assert [r.range.start.line for r in d.related] == [6]            # where fp16 is enabled
    # the older "bfloat16" section is what DeepSpeed reads when there is no "bf16" (precision_config.py:34-38)
    old = both.replace('"bf16"', '"bfloat16"')
    assert "bfloat16.enabled and fp16.enabled" in one(check("ds_config.json", old, cli(num_devices=8)), "DSP002").message
    assert "DSP002" not in codes(check("ds_config.json", DS, cli(num_devices=8)))
    off = both.replace('"fp16": {"enabled": true}', '"fp16": {"enabled": false}')
    assert "DSP002" not in codes(check("ds_config.json", off, cli(num_devices=8)))


# ------------------------------------------------------------------------------------------------ refused fixes

def test_the_text_report_lists_only_the_fixes_it_can_write_and_says_why_the_others_are_refused(tmp_path, capsys):
    import json

    from deploylint.core.frontends.cli import main

    # dp 8 = 16 processes / tp 2 is no multiple of dp_replicate_size 3: no shard size gives it
    odd = tmp_path / "accelerate.yaml"
    odd.write_text(ACCEL.replace("num_processes: 8", "num_processes: 16").replace("dp_replicate_size: 2",
                                                                                  "dp_replicate_size: 3"))
    main(["check", str(odd), "--no-cache"])
    out = capsys.readouterr().out
    par = next(line for line in out.splitlines() if " PAR401 " in line)
    assert par.endswith("; no fix offered: Accelerate's dp is parallelism_config_dp_replicate_size × "
                        "parallelism_config_dp_shard_size, and dp = 8 is not a multiple of "
                        "parallelism_config_dp_replicate_size = 3: set the two so that their product is 8")
    assert "= fix" not in out and "fixable" not in out
    main(["check", str(odd), "--format", "json", "--no-cache"])
    (d,) = [d for d in json.loads(capsys.readouterr().out)["diagnostics"] if d["code"] == "PAR401"]
    assert d["fixes"] == [] and par.split(" PAR401 error ", 1)[1] == d["message"]       # the same words
    # with a replicate size that divides, the fix is the shard size, and the text report offers it
    even = tmp_path / "accelerate2.yaml"
    even.write_text(ACCEL.replace("num_processes: 8", "num_processes: 16"))
    main(["check", str(even), "--no-cache"])
    out = capsys.readouterr().out
    assert "= fix: set dp = 16 / (tp·pp·cp) = 8" in out and "1 fixable with --fix" in out
    main(["check", str(even), "--fix", "--no-cache"])
    capsys.readouterr()
    assert "parallelism_config_dp_shard_size: 4" in even.read_text()


def test_torchtitan_a_fix_it_cannot_write_says_so_in_torchtitans_terms():
    # Llama 3.1 8B on 8 H100s: the layout search proposes ZeRO-2, which TorchTitan (FSDP over dp_shard) has not
    job = TITAN_NO_WORLD.replace('flavor = "70B"', 'flavor = "8B"').replace("tensor_parallel_degree = 8  # 8-way TP",
                                                                          "tensor_parallel_degree = 1").replace(
        "local_batch_size = 8", "local_batch_size = 2")
    result = check("llama3_8b.toml", job, cli(num_devices=8, accelerator="h100-sxm"))
    refused = [d for d in result.diagnostics if "no fix offered" in d.message]
    assert refused and all(d.fixes == () for d in refused)
    assert any(d.message.endswith("no fix offered: TorchTitan shards parameters, gradients and optimizer states with "
                                  "FSDP over data_parallel_shard_degree (ZeRO-3 when it is above 1); it has no setting "
                                  "for ZeRO stage 2") for d in refused)


def test_torchtitan_recomputation_the_file_leaves_out_is_added_as_its_table():
    job = TITAN_NO_WORLD.replace('[activation_checkpoint]\nmode = "none"\n', "")
    assert "activation_checkpoint" not in job
    config = cli(num_devices=64, accelerator="a100-80gb")
    d = one(check("llama3_70b.toml", job, config), "MEM101")
    fix = next(f for f in d.fixes if "full" in f.message)
    (edit,) = fix.edits
    fixed = job[:edit.start] + edit.new_text + job[edit.end:]
    assert fixed == job + '\n[activation_checkpoint]\nmode = "full"\n'
    assert check("llama3_70b.toml", fixed, config).plan.parallelism.recompute == "full"


@pytest.mark.parametrize("path, text, named", [
    ("accelerate.yaml", "distributed_type: FSDP\nnum_processes: 8\nparallelism_config: [1, 2]\nfsdp_config: 3\n",
     ["parallelism_config = [1, 2]: not a mapping", "fsdp_config = 3: not a mapping"]),
    ("accelerate.yaml", "distributed_type: FSDP\nnum_processes: 8\nfsdp_config:\n  fsdp_sharding_strategy: [1]\n",
     ["fsdp_config.fsdp_sharding_strategy = [1]: not one of FULL_SHARD"]),
    ("accelerate.yaml", "distributed_type: DEEPSPEED\nnum_processes: 8\ndeepspeed_config: on\n",
     ["deepspeed_config = True: not a mapping"]),
    ("job.toml", '[model]\nname = ["llama3"]\nflavor = "8B"\n[training]\nlocal_batch_size = 1\n',
     ["model ['llama3'] flavor '8B': not in deploylint's table of TorchTitan flavors"]),
])
def test_a_config_of_the_wrong_shape_is_named_in_infos_never_a_plugin_failure(path, text, named):
    result = check(path, text, cli(num_devices=8))
    assert result.documents[0].partial                                   # still read by its adapter
    assert not [d for d in result.diagnostics if d.severity.value == "error"]
    infos = [d.message for d in result.diagnostics if d.code == "DL010"]
    for words in named:
        assert any(words in m for m in infos), infos


def test_a_layout_fix_keeps_a_global_batch_the_file_derives_by_writing_it():
    # global_batch_size left at -1 is local × dp: a layout that changes dp or the local batch would change the global
    # batch too, so the fix writes the batch the plan keeps (64) next to local_batch_size
    job = TITAN_NO_WORLD.replace("global_batch_size = -1\n", "")
    config = cli(accelerator="a100-80gb", num_devices=64)
    result = check("llama3_70b.toml", job, config)
    # a fix moving the plan to a searched layout (PAR405, MEM101): tp 8 → 2 makes dp 8 → 16
    fix = next(f for d in result.diagnostics for f in d.fixes if "tp=2" in f.message)
    fixed = job
    for edit in sorted(fix.edits, key=lambda e: e.start, reverse=True):
        fixed = fixed[:edit.start] + edit.new_text + fixed[edit.end:]
    assert "tensor_parallel_degree = 2" in fixed and "\nglobal_batch_size = 64\n" in fixed
    assert fixed.index("local_batch_size") < fixed.index("global_batch_size = 64") < fixed.index("seq_len")
    after = check("llama3_70b.toml", fixed, config)
    assert after.plan.workload.batch_size == 64 and after.plan.parallelism.dp == 16
    assert not [x for x in after.diagnostics if x.data.get("origin") == "derived"]       # written now, not derived
    # a ds_config that leaves train_batch_size out gets it as its first key
    text = '{\n  "train_micro_batch_size_per_gpu": 2,\n  "gradient_accumulation_steps": 4\n}\n'
    doc = check("ds_config.json", text, cli(num_devices=8)).documents[0]
    from deploylint.core import Fix
    from deploylint.core.document.writers import apply_changes

    assert apply_changes(doc, Fix.set("/workload/batch_size", 64, "x").changes) == \
        '{\n  "train_batch_size": 64,\n  "train_micro_batch_size_per_gpu": 2,\n  "gradient_accumulation_steps": 4\n}\n'


def test_torchtitan_a_mode_it_does_not_know_is_ttn003_at_the_word_and_no_memory_finding_rests_on_it():
    config = cli(num_devices=64, accelerator="a100-80gb")
    typo = TITAN_NO_WORLD.replace('mode = "none"', 'mode = "fulll"')
    result = check("llama3_70b.toml", typo, config)
    d = one(result, "TTN003")
    assert d.severity.value == "error" and "activation_checkpoint.mode = 'fulll' is not a mode TorchTitan knows" in d.message
    assert token(typo, d) == '"fulll"' and result.plan.parallelism.recompute == "full"
    assert "MEM101" not in codes(result)                   # counted as full recompute, the least memory any mode keeps
    (fix,) = d.fixes
    (edit,) = fix.edits
    assert typo[:edit.start] + edit.new_text + typo[edit.end:] == typo.replace('"fulll"', '"full"')
    # a number is refused the same way, with no word to suggest
    assert one(check("llama3_70b.toml", TITAN_NO_WORLD.replace('mode = "none"', "mode = 3"), config), "TTN003").fixes == ()
    # memory_budget is TorchTitan's own: no TTN003, and an info says how it is counted
    budget = check("llama3_70b.toml", TITAN_NO_WORLD.replace('mode = "none"', 'mode = "memory_budget"'), config)
    assert "TTN003" not in codes(budget) and budget.plan.parallelism.recompute == "full"
    assert any('"memory_budget"' in d.message and d.code == "DL010" for d in budget.diagnostics)


def test_deepspeed_a_layout_fix_that_changes_the_micro_batch_writes_the_accumulation_that_keeps_the_batch():
    # DeepSpeed checks train_batch_size = micro × gradient accumulation × world size at start-up
    # (deepspeed/runtime/config.py, "Check batch related parameters"): Llama 3.1 8B at ZeRO-1 does not fit 8 A100
    # 40 GB; the layout that fits (ZeRO-3, micro 1) keeps the batch of 64 only with 8 accumulation steps, not 4
    import json

    from deploylint.core.pipeline.config import config_from_table
    from deploylint.core.pipeline.fixing import apply_edits

    cfg = config_from_table({"hardware": {"accelerator": "a100-40gb", "num_devices": 8}, "workload": {"seq_len": 2048},
                             "models": {"ds_config.json": {"id": "meta-llama/Llama-3.1-8B"}}})
    text = ('{\n  "train_batch_size": 64,\n  "train_micro_batch_size_per_gpu": 2,\n  "gradient_accumulation_steps": 4,\n'
            '  "bf16": {"enabled": true},\n  "zero_optimization": {"stage": 1}\n}\n')
    result = check("ds_config.json", text, cfg)
    fix = next(f for d in result.diagnostics if d.code == "MEM101" for f in d.fixes if "feasible layout" in f.message)
    fixed = apply_edits(text, list(fix.edits))
    after = check("ds_config.json", fixed, cfg)
    assert "DSP001" not in codes(after) and "MEM101" not in codes(after)
    assert json.loads(fixed) == {**json.loads(text), "train_micro_batch_size_per_gpu": 1,
                                 "gradient_accumulation_steps": 8, "zero_optimization": {"stage": 3}}
