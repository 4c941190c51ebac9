"""Megatron-LM launch scripts linted in place: plans from shell flags, findings at the value token,
Megatron-LM's own start-up checks (messages quoted from megatron/training/arguments.py at d98e8a6),
fixes that edit only the token or the variable's definition.

The scripts are written here in the shape of Megatron-LM's examples/*/train_*.sh (bash arrays of
flags, ``${VAR:-default}``, ``$((…))``, ``\\`` continuations, comments between flags).
"""

from __future__ import annotations

import pytest

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine

GPT = """#!/bin/bash
# a 175B-style run
GPUS_PER_NODE=8
NUM_NODES=1
WORLD_SIZE=$(($GPUS_PER_NODE*$NUM_NODES))

DISTRIBUTED_ARGS=(
    --nproc_per_node $GPUS_PER_NODE
    --nnodes $NUM_NODES
)
MODEL_ARGS=(
    --num-layers 96
    --hidden-size 12288
    --num-attention-heads 96
    --seq-length 2048
    --max-position-embeddings 2048
)
TRAINING_ARGS=(
    --micro-batch-size 1
    --global-batch-size 1536
    --bf16
)
PARALLEL_ARGS=(
    --tensor-model-parallel-size 8
    --pipeline-model-parallel-size 16
)
torchrun ${DISTRIBUTED_ARGS[@]} pretrain_gpt.py \\
    ${MODEL_ARGS[@]} \\
    ${TRAINING_ARGS[@]} \\
    ${PARALLEL_ARGS[@]} \\
    --vocab-size 50304
"""

MOE = """#!/bin/bash
#SBATCH --job-name=moe
GPUS_PER_NODE=8
NNODES=${SLURM_NNODES:-"1"}
torchrun --nproc_per_node $GPUS_PER_NODE --nnodes $NNODES pretrain_gpt.py \\
    --num-layers 32 --hidden-size 4096 --ffn-hidden-size 14336 --num-attention-heads 32 \\
    --group-query-attention --num-query-groups 8 --swiglu \\
    --num-experts 8 --moe-router-topk 2 \\
    --seq-length 4096 --max-position-embeddings 32768 --vocab-size 32000 \\
    --micro-batch-size 1 --global-batch-size 256 --bf16 \\
    --tensor-model-parallel-size 1 --pipeline-model-parallel-size 4 --expert-model-parallel-size 8 \\
    --use-distributed-optimizer --sequence-parallel
"""


def engine(config=None):
    return Engine(Registry().load(autoload=True), config or Config())


def check(text, path="train.sh", config=None, **kw):
    return engine(config).check_text(path, text, **kw)


def one(result, code):
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [(d.code, d.message) for d in result.diagnostics]
    return found[0]


def at(text, d):
    lines = text.splitlines()
    r = d.range
    return lines[r.start.line - 1][r.start.column - 1:r.end.column - 1]


def test_the_world_size_megatron_rejects_is_an_error_at_the_tp_token_with_megatrons_message():
    result = check(GPT)
    assert result.plan.hardware.num_devices == 8 and result.plan.parallelism.tp == 8
    d = one(result, "PAR401")
    assert d.severity.value == "error"
    assert 'Megatron-LM refuses to start: "world size (8) is not divisible by total_model_size (128)"' in d.message
    assert at(GPT, d) == "8" and d.range.start.line == 24          # --tensor-model-parallel-size 8, in its array
    info = [x.message for x in result.diagnostics if x.code == "DL010"]
    assert any("hardware.num_devices = 8: torchrun --nproc_per_node 8 × --nnodes 1" in m for m in info)


def test_architecture_and_batch_come_from_the_flags_with_megatron_defaults():
    plan = check(GPT.replace("--pipeline-model-parallel-size 16", "--pipeline-model-parallel-size 1")).plan
    m, p, w = plan.model, plan.parallelism, plan.workload
    assert (m.layers, m.hidden_size, m.num_attention_heads, m.vocab_size) == (96, 12288, 96, 50304)
    assert m.ffn_activation == "gelu" and m.ffn_hidden_size == 4 * 12288      # no --swiglu: GeLU MLP of 4h
    assert m.tie_embeddings                                                   # tied unless --untie-…
    assert (p.tp, p.pp, p.dp, p.micro_batch_size, p.zero_stage) == (8, 1, 1, 1, 0)
    assert (w.mode, w.batch_size, w.seq_len, w.dtype) == ("training", 1536, 2048, "bf16")
    assert plan.training.framework == "megatron"
    moe = check(MOE).plan
    assert moe.model.num_kv_heads == 8 and moe.model.ffn_activation == "swiglu" and moe.model.moe.num_experts == 8
    assert moe.parallelism.etp == 1 and moe.parallelism.zero_stage == 1     # etp defaults to tp; distributed optimizer


def test_expert_grid_on_one_node_and_the_slurm_node_count_from_sbatch():
    # 8 GPUs: tp·pp = 4, dp = 2, but the expert grid etp·ep·pp = 1·8·4 = 32 does not divide 8
    result = check(MOE)
    d = one(result, "PAR401")
    assert ('"world_size (8) is not divisible by expert_tensor_model_pipeline_parallel size (32)"' in d.message
            and d.severity.value == "error" and at(MOE, d) == "8" and d.range.start.line == 11)
    # the same script submitted with #SBATCH --nodes=4: $SLURM_NNODES is 4, world 32, the grid divides
    on_four = MOE.replace("#SBATCH --job-name=moe", "#SBATCH --nodes=4")
    result = check(on_four)
    assert result.plan.hardware.num_devices == 32
    assert "PAR401" not in [x.code for x in result.diagnostics]
    world = next(x for x in result.diagnostics if x.code == "DL010" and "num_devices = 32" in x.message)
    assert any("#SBATCH --nodes" in r.message for r in world.related)


def test_experts_that_do_not_divide_by_ep_are_an_error_for_megatron():
    text = MOE.replace("--num-experts 8", "--num-experts 6").replace("--expert-model-parallel-size 8",
                                                                      "--expert-model-parallel-size 4")
    d = one(check(text), "MOE301")
    assert d.severity.value == "error"
    assert '"Number of experts should be a multiple of expert model parallel_size."' in d.message


def test_a_value_from_a_variable_points_at_the_token_and_the_fix_edits_the_definition():
    text = GPT.replace("    --tensor-model-parallel-size 8 \n", "").replace(
        "    --tensor-model-parallel-size 8\n", "    --tensor-model-parallel-size $TP\n").replace(
        "NUM_NODES=1\n", "NUM_NODES=1\nTP=${TP:-3}\n").replace("--pipeline-model-parallel-size 16",
                                                               "--pipeline-model-parallel-size 1").replace(
        "--num-attention-heads 96", "--num-attention-heads 64").replace("--num-layers 96", "--num-layers 8").replace(
        "--hidden-size 12288", "--hidden-size 4096")
    result = check(text)
    d = one(result, "PAR402")                     # 64 heads do not divide by tp=3
    assert at(text, d) == "$TP"
    assert 'num_attention_heads (64) must be a multiple of tensor_model_parallel_size (3).' in d.message
    assert any(r.message == "TP is set here" and r.range.start.line == 5 for r in d.related)
    # a layout fix (needs an accelerator to estimate the candidates) rewrites the 3 of TP=${TP:-3}
    cfg = Config(hardware={"accelerator": "h100-sxm"})
    fixed, _, _ = _fix(cfg, text, "PAR402")
    changed = [(a, b) for a, b in zip(text.splitlines(), fixed.splitlines()) if a != b]
    assert len(changed) >= 1 and changed[0][0] == "TP=${TP:-3}" and changed[0][1].startswith("TP=${TP:-")
    assert "PAR402" not in [x.code for x in check(fixed, config=cfg).diagnostics]


def _fix(config, text, code):
    result = check(text, config=config)
    d = one(result, code)
    assert d.fixes, d
    edits = sorted(d.fixes[0].edits, key=lambda e: e.start, reverse=True)
    out = text
    for e in edits:
        out = out[:e.start] + e.new_text + out[e.end:]
    return out, d, result


def test_megatron_only_checks_batch_flags_cp_positions_virtual_stages():
    base = GPT.replace("--pipeline-model-parallel-size 16", "--pipeline-model-parallel-size 8")
    conflict = base.replace("--global-batch-size 1536", '--global-batch-size 1536 --step-batch-size-schedule "0:16 100:1536"')
    d = one(check(conflict), "MEG001")
    assert d.severity.value == "error" and "Cannot specify both --step-batch-size-schedule and --global-batch-size" in d.message
    cp = base.replace("--seq-length 2048", "--seq-length 2050 --context-parallel-size 1").replace(
        "--tensor-model-parallel-size 8", "--tensor-model-parallel-size 4").replace("--pipeline-model-parallel-size 8",
                                                                                  "--pipeline-model-parallel-size 1")
    cp = cp.replace("--context-parallel-size 1", "--context-parallel-size 2")
    d = one(check(cp), "MEG002")
    assert d.data == {"seq_len": 2050, "cp": 2, "multiple_of": 4} and at(cp, d) == "2050"
    short = base.replace("--max-position-embeddings 2048", "--max-position-embeddings 1024")
    result = check(short)
    d = one(result, "MEG003")
    assert at(short, d) == "1024" and '"max_position_embeddings (1024) must be greater than or equal to seq_length (2048)."' in d.message
    (e,) = d.fixes[0].edits
    fixed = short[:e.start] + e.new_text + short[e.end:]
    assert fixed == base                                # only that token changed
    vpp = base.replace("--pipeline-model-parallel-size 8", "--pipeline-model-parallel-size 8 "
                       "--num-layers-per-virtual-pipeline-stage 5")
    d = one(check(vpp), "MEG004")
    assert d.data["layers_per_stage"] == 12 and d.data["divisors"] == [1, 2, 3, 4, 6, 12]


def test_sequence_parallel_hints_and_warnings():
    d = one(check(MOE.replace("--num-experts 8", "--num-experts 16").replace("--pipeline-model-parallel-size 4",
                                                                           "--pipeline-model-parallel-size 1")), "MEG006")
    assert d.severity.value == "hint" and at(MOE, d) == "--sequence-parallel"
    ep_tp = MOE.replace("--tensor-model-parallel-size 1", "--tensor-model-parallel-size 2").replace(
        " --sequence-parallel", "").replace("--pipeline-model-parallel-size 4", "--pipeline-model-parallel-size 1").replace(
        "--expert-model-parallel-size 8", "--expert-model-parallel-size 4")
    d = one(check(ep_tp), "MEG005")
    assert d.severity.value == "warning" and d.data == {"ep": 4, "tp": 2}


def test_unresolved_values_are_named_and_every_other_check_still_runs():
    text = GPT.replace("--num-layers 96", "--num-layers $(cat layers.txt)")
    result = check(text)
    infos = [d.message for d in result.diagnostics if d.code == "DL010"]
    assert any("--num-layers $(cat layers.txt): $(…) cannot be known without running the script" in m for m in infos)
    assert "PAR401" in [d.code for d in result.diagnostics]          # the world check does not need the layers
    assert not [d for d in result.diagnostics if d.code == "DL005"]


def test_a_comment_inside_a_continued_command_is_reported():
    text = GPT.replace("    ${TRAINING_ARGS[@]} \\\n", "    # ${TRAINING_ARGS[@]} \\\n")
    infos = [d.message for d in check(text).diagnostics if d.code == "DL010"]
    assert any("a comment line inside a `\\`-continued command ends the command" in m for m in infos)


@pytest.mark.parametrize("text", [
    "#!/bin/bash\nset -e\necho hello\npython train.py --lr 1e-4\n",
    "#!/bin/bash\n# runs pretrain_gpt.py later\nexport X=1\n",
    "",
    "#!/bin/bash\ntorchrun pretrain_gpt.py --num-layers 'unterminated\n",
])
def test_scripts_that_are_not_training_launches_are_left_alone(text):
    result = check(text, candidate=True)
    assert not result.diagnostics or all(d.code != "DL005" for d in result.diagnostics)
    if "torchrun" not in text:
        assert result.claimed is False and result.diagnostics == []
