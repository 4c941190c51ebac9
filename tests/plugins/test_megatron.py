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
from suite_helpers import one

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
    # Megatron derives dp from the world: the message names the sizes that do not divide, not a dp of 1
    assert "tp·pp·cp = 8·16·1 = 128 does not divide num_devices = 8" in d.message and "tp·pp·cp·dp = 8·16·1·1" not in d.message
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


# a launch in the shape of examples/megatron_fsdp/sbatch_mfsdp_*.sh: flags in an array extended under conditions,
# the command held in a string, run by `bash -c` inside the job script that `sbatch <<EOF` submits
SBATCH_HEREDOC = """#!/bin/bash
TP=${TP:-2}
MBS=${MBS:-1}
GBS=${GBS:-30}
USE_FSDP=${USE_FSDP:-1}
ARGS=(
    --tensor-model-parallel-size ${TP}
    --micro-batch-size ${MBS}
    --global-batch-size ${GBS}
    --use-distributed-optimizer
    --num-layers 8 --hidden-size 1024 --num-attention-heads 16
    --seq-length 2048 --max-position-embeddings 2048 --vocab-size 32000 --bf16
)
if [ "${USE_FSDP}" = 1 ]; then
    ARGS=(
        "${ARGS[@]}"
        --use-megatron-fsdp
        --use-distributed-optimizer
    )
fi
if [ "${PROFILE}" = 1 ]; then
    PROFILE_CMD="nsys profile -o out"
else
    PROFILE_CMD=""
fi
TRAINING_CMD="
cd /workspace;
${PROFILE_CMD} python /workspace/pretrain_gpt.py ${ARGS[@]}"
sbatch <<EOF
#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4

srun \\
    --mpi=pmix -l \\
    bash -x -c "${TRAINING_CMD}" 2>&1 | tee \\${SLURM_JOB_ID}.log

EOF
"""


def test_a_launch_inside_an_sbatch_heredoc_is_read_at_its_tokens_and_fixed_there():
    result = check(SBATCH_HEREDOC)
    plan = result.plan
    assert plan.hardware.num_devices == 8                      # #SBATCH --nodes 2 × --ntasks-per-node 4 in the body
    assert (plan.parallelism.tp, plan.parallelism.dp, plan.parallelism.zero_stage) == (2, 4, 1)
    infos = [d.message for d in result.diagnostics if d.code == "DL010"]
    assert any("--use-megatron-fsdp (added to its array only under a condition)" in m for m in infos)
    d = one(result, "PAR406")                                  # 30 over micro 1 × dp 4
    assert at(SBATCH_HEREDOC, d) == "${GBS}" and d.range.start.line == 9
    assert '"global batch size (30) is not divisible by micro batch size (1) times data parallel size (4)"' in d.message
    assert any(r.message == "GBS is set here" and r.range.start.line == 4 for r in d.related)
    (edit,) = d.fixes[0].edits
    fixed = SBATCH_HEREDOC[:edit.start] + edit.new_text + SBATCH_HEREDOC[edit.end:]
    assert fixed == SBATCH_HEREDOC.replace("GBS=${GBS:-30}", "GBS=${GBS:-28}")
    assert "PAR406" not in [x.code for x in check(fixed).diagnostics]


#: the same job submitted with `sbatch <<-EOF`: bash strips the body's leading tabs, so sbatch reads `#SBATCH` lines
#: written indented with tabs (the delimiter line too), and an unquoted body has this script's variables expanded
SBATCH_TABS = SBATCH_HEREDOC.replace("sbatch <<EOF\n#!/bin/bash\n#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=4\n",
                                     "NODES=2\nsbatch <<-EOF\n\t#!/bin/bash\n\t#SBATCH --nodes=${NODES}\n"
                                     "\t#SBATCH --ntasks-per-node=4\n").replace("\nEOF\n", "\n\tEOF\n")


def test_sbatch_lines_of_a_tab_stripped_heredoc_give_the_world_at_their_tokens():
    assert "\t#SBATCH --ntasks-per-node=4" in SBATCH_TABS and "\tEOF\n" in SBATCH_TABS
    result = check(SBATCH_TABS)
    assert result.plan.hardware.num_devices == 8                 # ${NODES} = 2 nodes × 4 tasks, read through <<-
    d = one(result, "PAR406")                                    # 30 over micro 1 × dp 8 / tp 2
    assert at(SBATCH_TABS, d) == "${GBS}"
    (world,) = [x for x in result.diagnostics if x.code == "DL010" and x.path == "/hardware/num_devices"]
    assert world.message.startswith("hardware.num_devices = 8: #SBATCH --nodes 2 × --ntasks-per-node 4")
    assert at(SBATCH_TABS, world) == "4"                         # the value token of --ntasks-per-node=4
    lines = SBATCH_TABS.splitlines()
    assert lines[world.range.start.line - 1] == "\t#SBATCH --ntasks-per-node=4"
    nodes = [r for r in world.related if r.message == "#SBATCH --nodes is set here"]
    assert [lines[r.range.start.line - 1][r.range.start.column - 1:r.range.end.column - 1] for r in nodes] == \
        ["${NODES}"]
    assert any(r.message == "NODES is set here" for r in world.related)     # where ${NODES} gets its 2


def test_sbatch_lines_sbatch_does_not_read_are_not_read():
    # outside a <<- heredoc an indented #SBATCH is a comment to sbatch; a quoted <<'EOF' body keeps $NODES as written
    indented = "#!/bin/bash\n\t#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=4\nsrun python pretrain_gpt.py " \
               "--num-layers 2 --hidden-size 64 --num-attention-heads 2\n"
    result = check(indented)
    assert "devices" in result.plan.unknown
    assert any("no torchrun/deepspeed launcher" in x.message for x in result.diagnostics)
    quoted = ("#!/bin/bash\nNODES=2\nsbatch <<-'EOF'\n\t#!/bin/bash\n\t#SBATCH --nodes=${NODES}\n"
              "\t#SBATCH --ntasks-per-node=4\n\tsrun python pretrain_gpt.py --num-layers 2 --hidden-size 64 "
              "--num-attention-heads 2\n\tEOF\n")
    result = check(quoted)
    assert any("#SBATCH --nodes=${NODES} --ntasks-per-node=4 are not process counts" in x.message
               for x in result.diagnostics)


RAMP = GPT.replace("--pipeline-model-parallel-size 16", "--pipeline-model-parallel-size 1").replace(
    "--global-batch-size 1536", "--global-batch-size 1024 --rampup-batch-size 16 {inc} 300000 --train-samples 900000")


def test_rampup_batch_size_is_read_and_checked_as_megatron_does():
    text = RAMP.replace("{inc}", "8")
    result = check(text)
    assert list(result.plan.training.rampup_batch_size) == [16, 8, 300000]
    d = one(result, "MEG008")
    assert d.severity.value == "warning" and at(text, d) == "16 8 300000"
    assert "is ignored by Megatron-LM since 532ad926" in d.message and "--global-batch-size 1024 from the first step" \
        in d.message and "refuses" not in d.message            # 16 + k·8 reaches 1024, each a multiple of 1 × dp 1
    # (1024 - 16) = 1008 is not a whole number of increments of 10: the Megatron-LM that ran ramps refused it
    d = one(check(RAMP.replace("{inc}", "10")), "MEG008")
    assert ('"expected global batch size interval (1008) to be divisible by global batch size increment (10)" '
            "(megatron/core/num_microbatches_calculator.py:429-433 at 0b9bc20)") in d.message
    # a ramp batch that micro × dp does not divide stops that Megatron-LM during the ramp, at the first such batch
    eight = text.replace("--tensor-model-parallel-size 8", "--tensor-model-parallel-size 1").replace(
        "--rampup-batch-size 16 8", "--rampup-batch-size 16 4")              # dp 8: 20 is the first bad batch
    d = one(check(eight), "MEG008")
    assert d.data["older_megatron_message"] == ("current global batch size (20) is not divisible by micro-batch-size "
                                                "(1) timesdata parallel size (8)")
    iters = text.replace("--train-samples 900000", "--train-iters 1000")
    assert "expected no batch-size rampup for iteration-based training" in one(check(iters), "MEG008").message


def test_megatron_has_no_dp_flag_a_dp_the_world_implies_needs_no_edit_any_other_is_refused_with_a_reason():
    from deploylint.core import Fix
    from deploylint.core.diagnostics import Diagnostic, Severity
    from deploylint.core.document.writers import WriteError, apply_changes
    from deploylint.core.pipeline.engine import rendered
    from deploylint.plugins import megatron

    text = GPT.replace("--pipeline-model-parallel-size 16", "--pipeline-model-parallel-size 1").replace(
        "--tensor-model-parallel-size 8", "--tensor-model-parallel-size 2")       # world 8, dp 4
    doc = megatron.read("train.sh", text)[0]
    assert apply_changes(doc, Fix.set("/parallelism/dp", 4, "x").changes) == text
    # tp 2 → 4 with dp 2: the fix's dp follows from the world, only the tp token changes
    both = Fix.combine([Fix.set("/parallelism/tp", 4), Fix.set("/parallelism/dp", 2)], "x")
    assert apply_changes(doc, both.changes) == text.replace("--tensor-model-parallel-size 2",
                                                            "--tensor-model-parallel-size 4")
    with pytest.raises(WriteError, match=r"Megatron-LM has no flag for dp .* dp = 8 needs 16 GPUs: change the world "
                                         r"size where the launcher sets it \(torchrun --nproc_per_node × --nnodes"):
        apply_changes(doc, Fix.set("/parallelism/dp", 8, "x").changes)
    d = Diagnostic("PAR401", Severity.ERROR, "world", "/parallelism/dp",
                   fixes=(Fix.set("/parallelism/dp", 8, "use 8 replicas", applicability="unsafe"),))
    out = rendered(doc, d)
    assert out.fixes == () and "no fix offered: Megatron-LM has no flag for dp" in out.message
    assert out.message.endswith(f"; no fix offered: {out.refusal}") and out.refusal.startswith("Megatron-LM has no flag")


def test_a_batch_fix_on_a_computed_global_batch_is_refused_not_appended_twice():
    text = GPT.replace("--pipeline-model-parallel-size 16", "--pipeline-model-parallel-size 1").replace(
        "--global-batch-size 1536", "--global-batch-size $((2*15))").replace("--tensor-model-parallel-size 8",
                                                                            "--tensor-model-parallel-size 2")
    d = one(Engine(Registry().load(autoload=True), Config(), render_fixes=True).check_text("train.sh", text), "PAR406")
    assert d.fixes == ()
    assert "no fix offered: --global-batch-size $((2*15)) is not one token deploylint can change" in d.message


def test_a_fix_of_several_values_keeps_each_at_its_token_when_an_earlier_one_changes_length():
    from deploylint.core import Fix
    from deploylint.core.document.writers import apply_changes
    from deploylint.plugins import megatron

    text = "#!/bin/bash\ntorchrun --nproc_per_node 8 pretrain_gpt.py --tensor-model-parallel-size 2 " \
           "--micro-batch-size 1 --num-layers 8\n"
    doc = megatron.read("t.sh", text)[0]
    fix = Fix.combine([Fix.set("/parallelism/tp", 1000), Fix.set("/parallelism/micro_batch_size", 2)], "x")
    assert apply_changes(doc, fix.changes) == text.replace("size 2 ", "size 1000 ").replace("batch-size 1", "batch-size 2")


def test_a_world_tp_does_not_divide_is_par401_alone_not_a_batch_split_over_a_floor_dp():
    text = GPT.replace("--pipeline-model-parallel-size 16", "--pipeline-model-parallel-size 1").replace(
        "--tensor-model-parallel-size 8", "--tensor-model-parallel-size 3")
    found = [x.code for x in check(text).diagnostics]
    assert "PAR401" in found and "PAR406" not in found          # 8 % 3: Megatron stops at the world check


def test_the_expert_grid_waits_for_a_world_size():
    text = MOE.replace("torchrun --nproc_per_node $GPUS_PER_NODE --nnodes $NNODES ", "python ")
    result = check(text)
    assert "devices" in result.plan.unknown
    assert "PAR401" not in [x.code for x in result.diagnostics]
    assert any("the world size: no torchrun/deepspeed launcher" in x.message for x in result.diagnostics)


def test_a_fix_on_a_crlf_script_changes_only_the_tokens_and_keeps_every_line_end():
    # A script saved with Windows line ends: bash would read a CR left mid-line as part of an argument.
    from deploylint.core import Fix
    from deploylint.core.document.writers import apply_changes
    from deploylint.plugins import megatron

    text = GPT.replace("\n", "\r\n")
    doc = megatron.read("train.sh", text)[0]
    fix = Fix.combine([Fix.set("/parallelism/tp", 4), Fix.set("/parallelism/pp", 2)], "x")
    fixed = apply_changes(doc, fix.changes)
    assert fixed == text.replace("--tensor-model-parallel-size 8", "--tensor-model-parallel-size 4").replace(
        "--pipeline-model-parallel-size 16", "--pipeline-model-parallel-size 2")
    assert fixed.count("\r\n") == text.count("\r\n") and "\r " not in fixed


# -- the interleaved schedule's own start-up checks (megatron/training/arguments.py, validate_args) ----------------
INTERLEAVED = """#!/bin/bash
torchrun --nproc_per_node 8 --nnodes 1 pretrain_gpt.py \\
    --num-layers 32 --hidden-size 4096 --num-attention-heads 32 --seq-length 4096 \\
    --max-position-embeddings 4096 --vocab-size 32000 --micro-batch-size 1 --global-batch-size 64 --bf16 \\
    --tensor-model-parallel-size 2 --pipeline-model-parallel-size {pp} {virtual}
"""


def codes(result):
    return [d.code for d in result.diagnostics]


def interleaved(pp, virtual):
    text = INTERLEAVED.format(pp=pp, virtual=virtual)
    return text, check(text)


def test_two_ways_of_asking_for_virtual_stages_are_refused_at_the_second_flag():
    text, result = interleaved(4, "--num-layers-per-virtual-pipeline-stage 2 --num-virtual-stages-per-pipeline-rank 4")
    d = one(result, "MEG009")
    assert d.severity.value == "error" and "No more than one of the following arguments" in d.message
    assert d.data["flags"] == ["--num-layers-per-virtual-pipeline-stage", "--num-virtual-stages-per-pipeline-rank"]
    assert at(text, d) == "4" and text.splitlines()[d.range.start.line - 1][d.range.start.column - 40:].startswith(
        "--num-virtual-stages-per-pipeline-rank")
    _, alone = interleaved(4, "--num-virtual-stages-per-pipeline-rank 4")
    assert "MEG009" not in codes(alone)


def test_a_pipeline_layout_beside_a_virtual_stage_flag_is_refused_too():
    _, result = interleaved(4, "--num-virtual-stages-per-pipeline-rank 2 --pipeline-model-parallel-layout 'Et*8|t*8|t*8|t*8L'")
    assert one(result, "MEG009").data["flags"] == ["--num-virtual-stages-per-pipeline-rank", "--pipeline-model-parallel-layout"]


def test_virtual_stages_need_a_pipeline_longer_than_one_rank_or_two_without_p2p_overlap():
    text, result = interleaved(1, "--num-virtual-stages-per-pipeline-rank 4")
    d = one(result, "MEG010")
    assert "pipeline-model-parallel size should be greater than 1" in d.message and at(text, d) == "4"
    # layers per virtual stage give 32 / 1 / 8 = 4 virtual stages: the same refusal, at that flag
    text, result = interleaved(1, "--num-layers-per-virtual-pipeline-stage 8")
    assert one(result, "MEG010").data["virtual_stages"] == 4 and at(text, one(result, "MEG010")) == "8"
    # pp 2 passes with the (default) overlap, and is refused without it
    assert "MEG010" not in codes(interleaved(2, "--num-virtual-stages-per-pipeline-rank 4")[1])
    d = one(interleaved(2, "--num-virtual-stages-per-pipeline-rank 4 --no-overlap-p2p-communication")[1], "MEG010")
    assert "should be greater than 2" in d.message and d.data["least_pp"] == 3
    # one virtual stage per rank is no interleaving: Megatron-LM resets it to None and starts
    assert "MEG010" not in codes(interleaved(1, "--num-virtual-stages-per-pipeline-rank 1")[1])
    assert "MEG010" not in codes(interleaved(1, "--num-layers-per-virtual-pipeline-stage 32")[1])


def test_recompute_modules_are_read_with_selective_granularity_and_price_the_memory():
    # Megatron-LM --recompute-modules (nargs="*", TransformerConfig.recompute_modules); layernorm and moe_act are
    # what Megatron-Bridge's GPT-OSS H100 recipe recomputes (scripts/performance/configs/gpt_oss at c0b9a00)
    base = MOE.replace("--use-distributed-optimizer", "--recompute-granularity selective --use-distributed-optimizer")
    partial = base.replace("--recompute-granularity selective", "--recompute-granularity selective "
                           "--recompute-modules layernorm moe_act")
    core, rebuilt = check(base), check(partial)
    assert core.plan.parallelism.recompute_modules == ("core_attn",)          # Megatron's default
    assert rebuilt.plan.parallelism.recompute_modules == ("layernorm", "moe_act")
    acts = [r.analysis.memory.busiest.activations for r in (core, rebuilt)]
    # bytes per token of one layer (bf16, tp 1, Megatron's default dropout), Korthikanti et al. 2022 §4.1's terms:
    # norm inputs 2·2h, norm outputs 2·2h, dropout masks 2h, Q/K/V and the attention output 2·(32 + 2·8 + 32)·128,
    # for each of the k = 2 routed copies its input 2h and its SwiGLU input and output 3·2f, fp32 router logits 4·8.
    # layernorm frees the norm outputs, moe_act the k SwiGLU outputs (2f each).
    h, f, k = 4096, 14336, 2
    kept = 4 * h + 4 * h + 2 * h + 2 * (32 + 16 + 32) * 128 + k * (2 * h + 6 * f) + 4 * 8
    saved = 4 * h + k * 2 * f
    assert acts[1] / acts[0] == pytest.approx(1 - saved / kept, rel=1e-9)
    bad = check(base.replace("--recompute-granularity selective", "--recompute-granularity selective "
                             "--recompute-modules everything"))
    assert bad.plan.parallelism.recompute_modules == ("core_attn",)
    assert any("--recompute-modules" in d.message for d in bad.diagnostics if d.code == "DL010")


def test_an_integer_flag_without_its_value_is_named_as_not_read():
    # last on the line, or followed by another flag: Megatron-LM's argument parser refuses the launch there
    for tail in ("--num-layers-per-virtual-pipeline-stage", "--num-layers-per-virtual-pipeline-stage --bf16"):
        text = INTERLEAVED.format(pp=4, virtual=tail)
        notes = [d.message for d in check(text).diagnostics if d.code == "DL010"]
        assert any("--num-layers-per-virtual-pipeline-stage is given no value" in m for m in notes), notes


def test_the_default_global_batch_is_micro_times_dp_once_the_world_is_known():
    # no --global-batch-size: Megatron-LM uses --micro-batch-size × dp; the world here is a variable the script does
    # not set, so dp (and the batch) is known only from --num-devices
    text = MOE.replace("--global-batch-size 256 ", "").replace("GPUS_PER_NODE=8\n", "")
    result = check(text)
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message.startswith("workload.batch_size is not known: no --global-batch-size: Megatron-LM's default is "
                                "--micro-batch-size × dp, and dp is not known without a device count")
    cfg = Config()
    cfg.cli_hardware = {"num_devices": 16}
    result = check(text, config=cfg)
    assert (result.plan.parallelism.dp, result.plan.workload.batch_size) == (4, 4)     # 16 / pp 4; micro 1 × 4
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message == ("workload.batch_size = 4: no --global-batch-size: Megatron-LM's default is "
                         "--micro-batch-size × dp (1 × dp 4; dp 4 = 16 devices / tp·pp·cp 4)")
    # a step schedule with no --global-batch-size is legal: the default batch is not a --global-batch-size flag
    scheduled = text.replace("--micro-batch-size 1 ", '--micro-batch-size 1 --step-batch-size-schedule "0:16 100:256" ')
    assert "MEG001" not in [x.code for x in check(scheduled, config=cfg).diagnostics]


def test_a_folder_walk_offers_slurm_job_files_to_the_adapter(tmp_path, capsys):
    import json

    from deploylint.core.frontends.cli import main

    (tmp_path / "job.sbatch").write_text(SBATCH_TABS)
    (tmp_path / "notes.slurm").write_text("#!/bin/bash\n#SBATCH --nodes=2\necho hello\n")    # no launch: left alone
    main(["check", str(tmp_path), "--format", "json", "--no-cache"])
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["files"] == 1
    assert {d["file"].rsplit("/", 1)[-1] for d in report["diagnostics"]} == {"job.sbatch"}
    assert "PAR406" in [d["code"] for d in report["diagnostics"]]


@pytest.mark.parametrize("nodes", ["-1", "0", "２"])          # U+FF12: a digit to Python's int, not to sbatch
def test_an_sbatch_node_count_that_is_no_count_gives_no_world(nodes):
    result = check(SBATCH_TABS.replace("NODES=2\n", f"NODES={nodes}\n"))
    note = next(d.message for d in result.diagnostics if d.code == "DL010" and "world size" in d.message)
    assert "are not process counts" in note
    assert not any(d.code == "DL010" and d.message.startswith("hardware.num_devices = -") for d in result.diagnostics)
