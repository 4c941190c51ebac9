"""Megatron-LM launch scripts, linted in place, and Megatron-LM's own start-up checks.

The adapter reads a shell script that runs ``pretrain_*.py`` (usually through
``torchrun``): the flags of ``megatron/training/arguments.py`` — architecture,
parallelism, batch, precision — collected in bash arrays, variables,
``${VAR:-default}``, ``$((…))`` and ``\\``-continued lines (the shared splitter
:mod:`deploylint.core.document.shell`). The world size is ``torchrun
--nproc_per_node × --nnodes`` (or ``deepspeed --num_gpus × --num_nodes``, or
``srun`` with ``#SBATCH --nodes × --ntasks-per-node``); ``#SBATCH --nodes``
also gives ``$SLURM_NNODES``. Every value keeps the span of its token; a
value that came from a variable points at the ``$VAR`` in the command and
carries the variable's definition as a related location, and a fix edits the
definition. A script that runs no ``pretrain_*.py`` is not claimed.

Megatron-LM semantics (commit d98e8a6): dp = world / (tp·pp·cp)
(``arguments.py:424-447``); ``--expert-tensor-parallel-size`` defaults to tp
(``arguments.py:587-588``); the global batch defaults to micro × dp; without
``--swiglu`` the MLP is GeLU of 4h, with it ``int(4h·2/3 / 64)·64``; embeddings
are tied unless ``--untie-embeddings-and-output-weights``; the vocabulary is
padded to a multiple of 128·tp; without ``--bf16``/``--fp16`` training is fp32;
``--use-distributed-optimizer`` shards the optimizer over dp (ZeRO-1).
"""

from __future__ import annotations

import math
import os
import re

from deploylint.core import Derived, Related, Rule, Severity, Span, hookimpl

from deploylint.core.document.writers.span_writer import Binding

from ._training import PlanBuilder, as_int, refuse, related_for, world_gives_dp

#: Megatron-LM's own messages for the conditions the generic PAR/MOE rules check (see _startup.engine_says)
STARTUP_CHECKS = {
    "world": ("world size ({world}) is not divisible by total_model_size ({model_size})",
              "megatron/training/arguments.py:432-434"),
    "expert_grid": ("world_size ({world}) is not divisible by expert_tensor_model_pipeline_parallel size ({grid})",
                    "megatron/core/parallel_state.py:881-884"),
    "experts": ("Number of experts should be a multiple of expert model parallel_size.",
                "megatron/training/arguments.py:1655-1658"),
    "layers": ("Number of layers should be divisible by the pipeline-model-parallel size",
               "megatron/training/arguments.py:968-1000"),
    "heads": ("num_attention_heads ({heads}) must be a multiple of tensor_model_parallel_size ({tp}).",
              "megatron/core/transformer/transformer_config.py:1446-1450"),
    "kv_heads_split": ("num_query_groups ({kv}) must be a multiple or divisor of tensor_model_parallel_size ({tp}).",
                       "megatron/core/transformer/transformer_config.py:1461-1468"),
    "batch": ("global batch size ({batch}) is not divisible by micro batch size ({micro}) times data parallel size "
              "({dp})", "megatron/core/num_microbatches_calculator.py:380-385"),
}

_SCRIPT = re.compile(r"(?:^|/)pretrain_\w+\.py$")

#: flag → plan pointer, for flags that take an integer
_INT_FLAGS = {
    "--num-layers": "/model/layers",
    "--hidden-size": "/model/hidden_size",
    "--ffn-hidden-size": "/model/ffn_hidden_size",
    "--num-attention-heads": "/model/num_attention_heads",
    "--num-query-groups": "/model/num_kv_heads",
    "--kv-channels": "/model/head_dim",
    "--vocab-size": "/model/vocab_size",
    "--max-position-embeddings": "/model/max_position_embeddings",
    "--num-experts": "/model/moe/num_experts",
    "--moe-router-topk": "/model/moe/top_k",
    "--moe-ffn-hidden-size": "/model/moe/expert_ffn_hidden_size",
    "--moe-shared-expert-intermediate-size": "/model/moe/shared_expert_ffn_hidden_size",
    "--q-lora-rank": "/model/mla/q_lora_rank",
    "--kv-lora-rank": "/model/mla/kv_lora_rank",
    "--qk-head-dim": "/model/mla/qk_nope_head_dim",
    "--qk-pos-emb-head-dim": "/model/mla/qk_rope_head_dim",
    "--v-head-dim": "/model/mla/v_head_dim",
    "--tensor-model-parallel-size": "/parallelism/tp",
    "--pipeline-model-parallel-size": "/parallelism/pp",
    "--context-parallel-size": "/parallelism/cp",
    "--expert-model-parallel-size": "/parallelism/ep",
    "--expert-tensor-parallel-size": "/parallelism/etp",
    "--micro-batch-size": "/parallelism/micro_batch_size",
    "--global-batch-size": "/workload/batch_size",
    "--seq-length": "/workload/seq_len",
    "--num-layers-per-virtual-pipeline-stage": "/training/layers_per_virtual_stage",
    "--num-virtual-stages-per-pipeline-rank": "/training/virtual_stages_per_rank",
}
_STRING_FLAGS = {"--recompute-granularity", "--fp8-format", "--step-batch-size-schedule", "--moe-layer-freq",
                 "--tokenizer-type", "--tokenizer-model", "--data-parallel-sharding-strategy", "--rampup-batch-size",
                 "--recompute-method", "--normalization", "--pipeline-model-parallel-layout",
                 "--decoder-first-pipeline-num-layers", "--decoder-last-pipeline-num-layers"}
_BOOL_FLAGS = {"--swiglu", "--group-query-attention", "--untie-embeddings-and-output-weights", "--sequence-parallel",
               "--use-distributed-optimizer", "--bf16", "--fp16", "--multi-latent-attention", "--use-megatron-fsdp",
               "--use-torch-fsdp2", "--recompute-activations", "--account-for-embedding-in-pipeline-split",
               "--account-for-loss-in-pipeline-split"}
_LAUNCHERS = {"torchrun": ("--nproc_per_node", "--nproc-per-node", "--nnodes"),
              "deepspeed": ("--num_gpus", "--num-gpus", "--num_nodes")}
_SBATCH = re.compile(r"^#SBATCH[ \t]+(?:--(?P<long>[\w-]+)(?:[= \t]+(?P<lv>\S+))?|-(?P<short>[A-Za-z])[ \t]*(?P<sv>\S+))",
                     re.M)


def read(path: str, text: str):
    """The plans of the Megatron-LM launches in ``text`` (one per ``pretrain_*.py`` command), or None."""
    low = path.lower()
    if not (low.endswith((".sh", ".bash", ".slurm", ".sbatch")) or text.startswith("#!")):
        return None
    if "pretrain_" not in text:
        return None
    from deploylint.core.document import shell

    script = shell.parse(text)
    sbatch = _sbatch(text, script)
    if "nodes" in sbatch and ("SLURM_NNODES" in text or "SLURM_JOB_NUM_NODES" in text):
        # the job's environment has SLURM_NNODES from #SBATCH --nodes: read again with it
        script = shell.parse(text, {"SLURM_NNODES": sbatch["nodes"][0], "SLURM_JOB_NUM_NODES": sbatch["nodes"][0]})
    launches = [(cmd, k) for cmd in script.commands for k, w in enumerate(cmd.words)
                if w.value is not None and _SCRIPT.search(w.value) and _launched(cmd.words[:k])]
    if not launches:
        return None
    docs = []
    for index, (cmd, at) in enumerate(launches):
        label = f"launch {index + 1} (line {text.count(chr(10), 0, cmd.span.start) + 1})" if len(launches) > 1 else None
        docs.append(_plan(path, text, cmd, at, sbatch, script.notes, label, index))
    return docs


#: programs that run a training script given as a later word (a ``[ -f …/pretrain_gpt.py ]`` test or an ``echo``
#: naming the script is not a launch)
_RUNNERS = ("torchrun", "python", "python3", "deepspeed", "srun", "mpirun", "nsys", "numactl", "env", "uv", "exec")


def _launched(before) -> bool:
    if not before:
        return True                      # ./pretrain_gpt.py run directly
    return any(w.value is not None and os.path.basename(w.value).startswith(_RUNNERS) for w in before)


_SBATCH_NAMES = {"N": "nodes", "nodes": "nodes", "ntasks-per-node": "ntasks-per-node", "gpus-per-node": "gpus-per-node"}


def _sbatch(text: str, script) -> dict[str, tuple[str, Span, Span | None, tuple]]:
    """``#SBATCH`` options → (value, span of the value as written, the token a fix edits, related places): the
    lines of the script and the lines of its heredocs as the program reads them (``<<-`` strips leading tabs; an
    unquoted ``<<EOF`` body has this script's ``$VAR`` expanded first). The last line giving an option wins."""
    found: list[tuple[int, str, tuple]] = []
    bodies = [h.span for h in script.heredocs]
    for m in _SBATCH.finditer(text):
        if any(b.start <= m.start() < b.end for b in bodies):
            continue          # read below as the heredoc delivers it
        key, group = _SBATCH_NAMES.get(m["long"] or m["short"] or ""), "lv" if m["long"] else "sv"
        if key and m[group]:
            span = Span(m.start(group), m.end(group))
            found.append((m.start(), key, (m[group], span, span, ())))
    for heredoc in script.heredocs:
        for line in heredoc.lines:
            raw = line.raw(text)
            written = _SBATCH.match(raw)
            if written is None:
                continue
            key, group = _SBATCH_NAMES.get(written["long"] or written["short"] or ""), "lv" if written["long"] else "sv"
            if not key or not written[group]:
                continue
            span = Span(line.span.start + written.start(group), line.span.start + written.end(group))
            m = _SBATCH.match(line.value) if line.value is not None else None
            if m is None or not m[group]:
                # $(cmd) or an unset variable in an unquoted heredoc: what sbatch reads is not known
                value = f"{written[group]} ({', '.join(line.unresolved)})" if line.unresolved else written[group]
                found.append((line.span.start, key, (value, span, None, ())))
                continue
            found.append((line.span.start, key, (m[group], span, line.locate(m.start(group), m.end(group)),
                                                 related_for(line))))
    return {key: entry for _, key, entry in sorted(found, key=lambda f: f[0])}


def _flags(words, start: int) -> dict[str, tuple]:
    """flag → (value word or None, flag word, offset of the value inside the word) for the words after ``start``."""
    out: dict[str, tuple] = {}
    k = start
    while k < len(words):
        w = words[k]
        k += 1
        if w.value is None or not w.value.startswith("--"):
            continue
        name, eq, _ = w.value.partition("=")
        if eq:
            out[name] = (w, w, len(name) + 1)
            continue
        if name in _BOOL_FLAGS:
            if not (w.conditional and name in out and not out[name][1].conditional):
                out[name] = (None, w, 0)      # a switch also given unconditionally is on whatever the condition
            continue
        nxt = words[k] if k < len(words) else None
        if nxt is not None and not (nxt.value or "").startswith("--"):
            out[name] = (nxt, w, 0)
            k += 1
        else:
            out[name] = (None, w, 0)
    return out


def _plan(path, text, cmd, at, sbatch, notes, label, index):
    words = cmd.words
    script_word = words[at]
    b = PlanBuilder(path, text, "megatron", "shell", label)
    b.anchor(script_word.span)
    flags = _flags(words, at + 1)

    def value_of(flag):
        """(text, span, binding, related) of a flag's value, or None (absent); unresolved values are noted."""
        if flag not in flags:
            return None
        word, flag_word, offset = flags[flag]
        if word is None:
            if flag in _INT_FLAGS and not flag_word.conditional:
                # last on the line, or followed by another flag: argparse stops the launch at it
                b.skip(f"{flag} is given no value (Megatron-LM's argument parser refuses the launch there)",
                       _INT_FLAGS[flag])
            return None
        if word.conditional or flag_word.conditional:
            b.skip(f"{flag} (added to its array only under a condition)", _INT_FLAGS.get(flag, ""))
            return None
        if word.value is None:
            b.skip(f"{flag} {word.raw(text)[:60]}: {', '.join(word.unresolved)} cannot be known without running the "
                   "script", _INT_FLAGS.get(flag, ""))
            return None
        value = word.value[offset:]
        own = word.locate(offset) if offset else None
        span = own or word.span
        return value, span, word.locate(offset), related_for(word), flag_word.span

    def put_int(flag, pointer=None):
        got = value_of(flag)
        if got is None:
            return None
        value, span, binding, related, key = got
        number = as_int(value)
        pointer = pointer or _INT_FLAGS[flag]
        if number is None or number < (0 if pointer.endswith("q_lora_rank") else 1):
            b.skip(f"{flag} {value!r} is not a positive integer", pointer)
            return None
        b.put(pointer, number, span, key=key, binding=binding, related=related)
        return number

    # a switch appended to its array only under a condition may be off: not read, and named
    present = {f for f in flags if not flags[f][1].conditional}
    for f in sorted(set(flags) - present):
        if f in _BOOL_FLAGS:
            b.skip(f"{f} (added to its array only under a condition)")

    # -- the world: the launcher's process count ------------------------------------------------------------
    _world(b, cmd, at, sbatch, text)

    # -- architecture -------------------------------------------------------------------------------------
    for flag in ("--num-layers", "--hidden-size", "--num-attention-heads", "--kv-channels", "--vocab-size",
                 "--max-position-embeddings"):
        put_int(flag)
    if "--group-query-attention" in present:
        put_int("--num-query-groups")
    swiglu = "--swiglu" in present
    b.put("/model/ffn_activation", "swiglu" if swiglu else "gelu")
    if put_int("--ffn-hidden-size") is None and isinstance(b.get("/model/hidden_size"), int):
        h = b.get("/model/hidden_size")
        b.put("/model/ffn_hidden_size", int((4 * h * 2 / 3) / 64) * 64 if swiglu else 4 * h)
    b.put("/model/tie_embeddings", "--untie-embeddings-and-output-weights" not in present)
    if "--multi-latent-attention" in present:
        b.put("/model/attention", "mla")
        defaults = {"q_lora_rank": 0, "kv_lora_rank": 32, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
                    "v_head_dim": 128}   # Megatron-LM's MLATransformerConfig defaults
        for key, value in defaults.items():
            b.put(f"/model/mla/{key}", value)
        for flag in ("--q-lora-rank", "--kv-lora-rank", "--qk-head-dim", "--qk-pos-emb-head-dim", "--v-head-dim"):
            put_int(flag)
    if put_int("--num-experts") is not None:
        b.put("/model/moe/top_k", 2)   # Megatron-LM's --moe-router-topk default
        put_int("--moe-router-topk")
        put_int("--moe-ffn-hidden-size")
        if put_int("--moe-shared-expert-intermediate-size") is not None:
            b.put("/model/moe/shared_experts", 1)
        _layer_freq(b, value_of("--moe-layer-freq"), b.get("/model/layers"))
    if not isinstance(b.get("/model/vocab_size"), int):
        _vocab(b, value_of("--tokenizer-type"))

    # -- parallelism --------------------------------------------------------------------------------------
    for flag in ("--tensor-model-parallel-size", "--pipeline-model-parallel-size", "--context-parallel-size",
                 "--expert-model-parallel-size", "--micro-batch-size"):
        put_int(flag)
    tp = b.get("/parallelism/tp", 1)
    if b.get("/model/moe") is not None and put_int("--expert-tensor-parallel-size") is None:
        b.put("/parallelism/etp", tp if isinstance(tp, int) else 1)   # Megatron-LM: defaults to tp
    sp_word = flags["--sequence-parallel"][1] if "--sequence-parallel" in present else None
    sp_at = sp_word.locate() if sp_word is not None else None
    b.put("/parallelism/sequence_parallel", sp_word is not None, sp_word.span if sp_word is not None else None,
          binding=Binding(sp_at.start, sp_at.end, render=lambda on: "--sequence-parallel" if on is True else
                          "" if on is False else None) if sp_at is not None else None)
    zero = 1 if "--use-distributed-optimizer" in present else 0
    if "--use-megatron-fsdp" in present or "--use-torch-fsdp2" in present:
        strategy = value_of("--data-parallel-sharding-strategy")
        levels = {"no_shard": 0, "optim": 1, "optim_grads": 2, "optim_grads_params": 3}
        zero = levels.get(strategy[0], 3) if strategy else 3
    b.put("/parallelism/zero_stage", zero)
    recompute = value_of("--recompute-granularity")
    if recompute and recompute[0] in ("full", "selective"):
        b.put("/parallelism/recompute", recompute[0], recompute[1], binding=recompute[2])
    elif "--recompute-activations" in present:
        b.put("/parallelism/recompute", "selective")
    _recompute_modules(b, words, at)

    # -- batch, sequence, precision --------------------------------------------------------------------------
    put_int("--seq-length")
    if "--global-batch-size" not in flags:
        _default_batch(b, "--micro-batch-size" in flags)
    else:
        put_int("--global-batch-size")
    fp8 = value_of("--fp8-format")
    dtype = "fp8" if fp8 else "bf16" if "--bf16" in present else "fp16" if "--fp16" in present else "fp32"
    b.put("/workload/dtype", dtype)

    # -- Megatron options the plan format keeps in [training] ------------------------------------------------
    _rampup(b, words, at, text, "--train-iters" in present)
    schedule = value_of("--step-batch-size-schedule")
    if schedule is not None:
        b.put("/training/step_batch_size_schedule", schedule[0], schedule[1], key=schedule[4])
    put_int("--num-layers-per-virtual-pipeline-stage")
    put_int("--num-virtual-stages-per-pipeline-rank")
    if any(f in present for f in ("--decoder-first-pipeline-num-layers", "--decoder-last-pipeline-num-layers",
                                  "--pipeline-model-parallel-layout", "--account-for-embedding-in-pipeline-split",
                                  "--account-for-loss-in-pipeline-split")):
        b.put("/training/uneven_pipeline", True)
    if "--pipeline-model-parallel-layout" in present:
        b.engine["pipeline_layout"] = True              # a third way to ask for virtual stages (MEG009)
    b.engine["overlap_p2p"] = "--no-overlap-p2p-communication" not in present     # store_false: on by default
    for note in notes:
        inside = cmd.span.start <= note.span.start <= cmd.span.end
        right_after = note.span.start >= cmd.span.end and text[cmd.span.end:note.span.start].strip() in ("", "\\")
        if inside or right_after:
            b.skip(f"line {text.count(chr(10), 0, note.span.start) + 1}: {note.message}")

    b.placeholders({"layers": "--num-layers", "hidden_size": "--hidden-size",
                    "num_attention_heads": "--num-attention-heads"})
    end = cmd.span.end

    def insert(pointer, value, _end=end):
        if pointer == "/parallelism/dp":
            return _end, _dp_change(b, value)
        if pointer == "/parallelism/sequence_parallel":
            return (_end, " --sequence-parallel") if value is True else (_end, "") if value is False else None
        flag = next((f for f, p in _INT_FLAGS.items() if p == pointer), None)
        if flag is None or isinstance(value, bool) or not isinstance(value, int):
            return None
        if flag in flags:
            from deploylint.core.document.writers import WriteError

            word = flags[flag][0] or flags[flag][1]
            raise WriteError(f"{flag} {word.raw(text)} is not one token deploylint can change (its value is computed "
                             "or spread over several): set it to {value} in the script".replace("{value}", str(value)),
                             explained=True)
        return _end, f" {flag} {value}"

    return b.document(lambda new: read(path, new)[index], insert)


def _dp_change(b: PlanBuilder, dp) -> str:
    """Megatron-LM has no dp flag: dp = world / (tp·pp·cp). A fix's dp needs no edit when the launcher's world and
    the sizes the fix writes give it (``world_gives_dp``); any other dp means a different world, which is the
    launcher's to change — refused with a message saying so."""
    from deploylint.core.plan.resolve import model_parallel_size

    par = b.data["parallelism"]
    world = b.get("/hardware/num_devices")
    if world_gives_dp(par, world, dp):
        return ""           # implied by the world and the sizes the fix writes
    size = model_parallel_size(par)
    refuse(f"Megatron-LM has no flag for dp (dp = world size / (tp·pp·cp) = {world} / {size}); "
           f"dp = {dp} needs {dp * size if isinstance(dp, int) else '?'} GPUs: change the world size where "
           "the launcher sets it (torchrun --nproc_per_node × --nnodes, or #SBATCH --nodes × "
           "--ntasks-per-node), or the global batch")


def _world(b: PlanBuilder, cmd, at: int, sbatch, text: str) -> None:
    words = cmd.words
    launcher = next(((k, w) for k, w in enumerate(words[:at]) if w.value in _LAUNCHERS or
                     (w.value or "").endswith(("torch.distributed.run", "torch.distributed.launch"))), None)
    if launcher is None:
        chain, up = [], cmd           # the launch, and the commands that run it (srun … bash -c "…", sbatch <<EOF)
        while up is not None:
            chain.append(up)
            up = up.parent
        srun = any(c.words and c.words[0].value == "srun" for c in chain)
        if srun and "nodes" in sbatch and "ntasks-per-node" in sbatch:
            nodes, per = as_int(sbatch["nodes"][0]), as_int(sbatch["ntasks-per-node"][0])
            if not (nodes and per and nodes > 0 and per > 0):
                b.skip(f"the world size: #SBATCH --nodes={sbatch['nodes'][0]} --ntasks-per-node="
                       f"{sbatch['ntasks-per-node'][0]} are not process counts (give --num-devices)",
                       "/hardware/num_devices")
                return
            if nodes and per:
                span = sbatch["ntasks-per-node"][1]
                b.put("/hardware/num_devices", nodes * per, span,
                      related=(Related("#SBATCH --nodes is set here", start=sbatch["nodes"][1].start,
                                       end=sbatch["nodes"][1].end),) + sbatch["nodes"][3] + sbatch["ntasks-per-node"][3],
                      origin=f"hardware.num_devices = {nodes * per}: #SBATCH --nodes {nodes} × --ntasks-per-node {per}")
                b.put("/hardware/devices_per_node", per, span, binding=sbatch["ntasks-per-node"][2])
                return
        b.skip("the world size: no torchrun/deepspeed launcher (give --num-devices)", "/hardware/num_devices")
        return
    name = "deepspeed" if words[launcher[0]].value == "deepspeed" else "torchrun"
    nproc_flags = _LAUNCHERS[name][:2]
    nnodes_flag = _LAUNCHERS[name][2]
    found = {}
    k = launcher[0] + 1
    while k < at:
        w = words[k]
        name_, eq, rest = (w.value or "").partition("=")
        if name_ in nproc_flags + (nnodes_flag,):
            if eq:
                found[name_] = (w, len(name_) + 1)
            elif k + 1 < at:
                found[name_] = (words[k + 1], 0)
                k += 1
        k += 1
    nproc_entry = next((found[f] for f in nproc_flags if f in found), None)
    values = {}
    for key, entry, default in (("nproc", nproc_entry, 1), ("nnodes", found.get(nnodes_flag), 1)):
        if entry is None:
            values[key] = (default, None, None, ())
            continue
        word, offset = entry
        if word.value is None:
            b.skip(f"the world size: {word.raw(text)} ({', '.join(word.unresolved)}); give --num-devices",
                   "/hardware/num_devices")
            return
        number = as_int(word.value[offset:])
        if number is None or number < 1:
            b.skip(f"the world size: {word.value[offset:]!r} is not a process count (elastic ranges and 'gpu' are "
                   "not read); give --num-devices", "/hardware/num_devices")
            return
        related = related_for(word)
        for ref in word.refs:
            if ref.origin == "environment" and ref.name in ("SLURM_NNODES", "SLURM_JOB_NUM_NODES") and "nodes" in sbatch:
                sp = sbatch["nodes"][1]
                related += (Related(f"{ref.name} comes from #SBATCH --nodes here", start=sp.start, end=sp.end),)
        values[key] = (number, word.locate(offset) and (word.locate(offset) if offset else word.span) or word.span,
                       word.locate(offset), related)
    nproc, nnodes = values["nproc"][0], values["nnodes"][0]
    span = values["nproc"][1] or values["nnodes"][1] or words[launcher[0]].span
    related = values["nproc"][3] + values["nnodes"][3]
    if values["nnodes"][1] is not None:
        related += (Related(f"{nnodes_flag} {nnodes}", start=values["nnodes"][1].start, end=values["nnodes"][1].end),)
    b.put("/hardware/num_devices", nproc * nnodes, span, related=related,
          origin=f"hardware.num_devices = {nproc * nnodes}: {name} {nproc_flags[0]} {nproc} × {nnodes_flag} {nnodes}")
    b.put("/hardware/devices_per_node", nproc, span, binding=values["nproc"][2])
    if values["nnodes"][2] is not None:
        b.bindings["/hardware/num_nodes"] = values["nnodes"][2]


def _rampup(b: PlanBuilder, words, at: int, text: str, iterations: bool) -> None:
    """``--rampup-batch-size START INCREMENT SAMPLES`` (argparse nargs=3), for MEG008."""
    k = next((i for i in range(at + 1, len(words)) if words[i].value == "--rampup-batch-size"), None)
    if k is None:
        return
    given = words[k + 1:k + 4]
    numbers = [as_int(w.value) for w in given]
    if len(given) < 3 or any(n is None or n < 0 for n in numbers) or any(w.conditional for w in given):
        b.skip("--rampup-batch-size: not three numbers deploylint can read (start, increment, ramp-up samples)",
               "/training")
        return
    first, last = given[0].span, given[-1].span
    span = Span(first.start, last.end) if text.count("\n", first.start, last.end) == 0 else first
    b.put("/training/rampup_batch_size", numbers, span, key=words[k].span)
    b.engine["train_iters"] = iterations


def _recompute_modules(b: PlanBuilder, words, at: int) -> None:
    """``--recompute-modules M [M ...]`` (argparse nargs="*"): what selective recompute rebuilds."""
    from deploylint.core.estimate.memory import RECOMPUTE_MODULES

    k = next((i for i in range(at + 1, len(words)) if words[i].value == "--recompute-modules"), None)
    if k is None:
        return
    given = []
    for w in words[k + 1:]:
        if w.value is not None and w.value.startswith("--"):
            break
        given.append(w)
    names = [w.value for w in given]
    if not given or any(w.conditional or n not in RECOMPUTE_MODULES for w, n in zip(given, names)):
        b.skip("--recompute-modules: not a list of modules deploylint prices (" + ", ".join(RECOMPUTE_MODULES) +
               "); the default, core_attn, is assumed", "/parallelism/recompute_modules")
        return
    first, last = given[0].span, given[-1].span
    b.put("/parallelism/recompute_modules", list(dict.fromkeys(names)), Span(first.start, last.end), key=words[k].span)


def _layer_freq(b: PlanBuilder, got, layers) -> None:
    if got is None:
        return
    text = got[0].replace(" ", "")
    if text.isascii() and text.isdigit():
        b.put("/model/moe/layer_frequency", int(text), got[1], binding=got[2])
        return
    m = re.fullmatch(r"\(?\[0\]\*(\d+)\+\[1\]\*(\d+)\)?", text)
    if m and (not isinstance(layers, int) or int(m[1]) + int(m[2]) == layers):
        b.put("/model/moe/dense_layers", int(m[1]), got[1])
        return
    b.skip(f"--moe-layer-freq {got[0]!r}: only an integer or [0]*k+[1]*n is read (every layer counted as MoE)",
           "/model/moe")


#: vocabulary sizes of the tokenizers whose files Megatron-LM examples name (GPT-2 BPE: the 50,257 tokens of
#: gpt2-vocab.json, Radford et al. 2019)
_TOKENIZER_VOCAB = {"GPT2BPETokenizer": 50257}


def _vocab(b: PlanBuilder, tokenizer) -> None:
    tp = b.get("/parallelism/tp", 1) if isinstance(b.get("/parallelism/tp", 1), int) else 1
    raw = _TOKENIZER_VOCAB.get(tokenizer[0]) if tokenizer else None
    if raw is None:
        what = f"--tokenizer-type {tokenizer[0]}" if tokenizer else "no --tokenizer-type or --vocab-size"
        b.skip(f"the vocabulary size ({what}: the tokenizer file is not read); the estimate counts no embedding "
               "and output layer — give --vocab-size to include them", "/model/vocab_size")
        b.put("/model/vocab_size", 1)
        return
    unit = 128 * tp    # --make-vocab-size-divisible-by 128, times tp (megatron/training/tokenizer)
    b.put("/model/vocab_size", math.ceil(raw / unit) * unit)


def _default_batch(b: PlanBuilder, micro_given: bool) -> None:
    """No --global-batch-size: Megatron-LM uses micro batch × dp (megatron/training/arguments.py:702-704 at
    d98e8a6), dp being known once the world is (the launcher's process count here, or --num-devices / the
    configuration): the fill step computes it then."""
    micro = b.get("/parallelism/micro_batch_size")
    if micro is None and micro_given:
        return                  # --micro-batch-size is there but not read (already named): the batch is not known
    b.derived["/workload/batch_size"] = Derived(micro or 1, ("dp",), "no --global-batch-size: Megatron-LM's default "
                                                "is --micro-batch-size × dp")


# ------------------------------------------------------------------------------------------------ rules


class _MegatronRule(Rule):
    requires = frozenset()          # sizes only: runs without an accelerator

    def applies(self, ctx) -> bool:
        return ctx.plan.training.framework == "megatron" and ctx.plan.workload.training


class BatchFlagsConflict(_MegatronRule):
    code = "MEG001"
    name = "megatron-batch-flags-conflict"
    severity = Severity.ERROR
    summary = "Megatron-LM: --step-batch-size-schedule and --global-batch-size are both given."
    explanation = """
        A step schedule sets the global batch at given iterations, so
        Megatron-LM's validate_args rejects a run that also fixes it: "Cannot
        specify both --step-batch-size-schedule and --global-batch-size"
        (megatron/training/arguments.py:697-701). The job fails at start-up,
        after the allocation.
    """
    bad_example = """
        torchrun --nproc_per_node 8 pretrain_gpt.py --global-batch-size 1536 \\
            --step-batch-size-schedule "0:16 1000:1536" ...
    """
    good_example = """
        torchrun --nproc_per_node 8 pretrain_gpt.py --step-batch-size-schedule "0:16 1000:1536" ...
    """
    fix_safety = "No fix: which of the two you meant is yours to say."

    def check(self, ctx):
        if not self.applies(ctx) or ctx.plan.training.step_batch_size_schedule is None:
            return
        if "/workload/batch_size" not in ctx.document.spans:
            return
        yield self.report("/training/step_batch_size_schedule",
                          "Megatron-LM refuses to start: \"Cannot specify both --step-batch-size-schedule and "
                          f"--global-batch-size\" (megatron/training/arguments.py:697-701); --global-batch-size is "
                          f"{ctx.plan.workload.batch_size}",
                          data={"global_batch_size": ctx.plan.workload.batch_size,
                                "step_batch_size_schedule": ctx.plan.training.step_batch_size_schedule})


class SeqLengthContextParallel(_MegatronRule):
    code = "MEG002"
    name = "megatron-seq-length-cp"
    severity = Severity.ERROR
    summary = "Megatron-LM: with context parallelism the sequence length must be a multiple of 2·cp."
    explanation = """
        Context parallelism splits each sequence into 2·cp chunks (each rank
        takes one from the front and one from the back, to balance causal
        attention), so Megatron-LM requires "seq-length should be a multiple
        of 2 * context-parallel-size if context-parallel-size > 1."
        (megatron/training/arguments.py:1335-1338).
    """
    bad_example = "pretrain_gpt.py --seq-length 4100 --context-parallel-size 2"
    good_example = "pretrain_gpt.py --seq-length 4096 --context-parallel-size 2"
    fix_safety = "Unsafe: a different sequence length is different training data."

    def check(self, ctx):
        cp, s = ctx.plan.parallelism.cp, ctx.plan.workload.seq_len
        if not self.applies(ctx) or cp <= 1 or "workload" in ctx.plan.unknown or s % (2 * cp) == 0:
            return
        yield self.report("/workload/seq_len",
                          f"seq_length {s} is not a multiple of 2·cp = {2 * cp}: Megatron-LM refuses to start: "
                          "\"seq-length should be a multiple of 2 * context-parallel-size if context-parallel-size > "
                          "1.\" (megatron/training/arguments.py:1335-1338)",
                          data={"seq_len": s, "cp": cp, "multiple_of": 2 * cp})


class PositionsBelowSeqLength(_MegatronRule):
    code = "MEG003"
    name = "megatron-positions-below-seq-length"
    severity = Severity.ERROR
    summary = "Megatron-LM: --max-position-embeddings is smaller than --seq-length."
    explanation = """
        The position table must cover every position of a training sequence,
        so validate_args stops the job before the first step, after the
        allocation and the container start: "max_position_embeddings ({p})
        must be greater than or equal to seq_length ({s})."
        (megatron/training/arguments.py:1353-1356).
    """
    bad_example = "pretrain_gpt.py --seq-length 4096 --max-position-embeddings 2048"
    good_example = "pretrain_gpt.py --seq-length 4096 --max-position-embeddings 4096"
    fix_safety = "Safe in a launch script: raises --max-position-embeddings to the sequence length (rope has no table)."

    def check(self, ctx):
        from deploylint.core import Fix

        p, s = ctx.plan.model.max_position_embeddings, ctx.plan.workload.seq_len
        if not self.applies(ctx) or p is None or "workload" in ctx.plan.unknown or p >= s:
            return
        yield self.report("/model/max_position_embeddings",
                          f"Megatron-LM refuses to start: \"max_position_embeddings ({p}) must be greater than or "
                          f"equal to seq_length ({s}).\" (megatron/training/arguments.py:1353-1356)",
                          data={"max_position_embeddings": p, "seq_len": s},
                          fixes=[Fix.set("/model/max_position_embeddings", s,
                                         f"set --max-position-embeddings to {s}", applicability="unsafe")])


class VirtualPipelineSplit(_MegatronRule):
    code = "MEG004"
    name = "megatron-virtual-pipeline-split"
    severity = Severity.ERROR
    summary = "Megatron-LM: the layers of a pipeline stage do not divide into virtual stages of the given size."
    explanation = """
        The interleaved (virtual pipeline) schedule cuts each pipeline
        stage's layers into virtual stages of
        --num-layers-per-virtual-pipeline-stage layers, so the layers of one
        stage must split into whole virtual stages:
        "number of layers per pipeline stage must be divisible number of
        layers per virtual pipeline stage" (megatron/training/arguments.py,
        validate_args).
    """
    bad_example = "pretrain_gpt.py --num-layers 96 --pipeline-model-parallel-size 8 --num-layers-per-virtual-pipeline-stage 5"
    good_example = "pretrain_gpt.py --num-layers 96 --pipeline-model-parallel-size 8 --num-layers-per-virtual-pipeline-stage 4"
    fix_safety = "Unsafe: a different virtual stage size changes the schedule."

    def check(self, ctx):
        per = ctx.plan.training.layers_per_virtual_stage
        L, pp = ctx.plan.model.layers, ctx.plan.parallelism.pp
        if not self.applies(ctx) or per is None or L % pp:
            return
        stage = L // pp
        if stage % per == 0:
            return
        yield self.report("/training/layers_per_virtual_stage",
                          f"{stage} layers per pipeline stage ({L} / pp {pp}) do not divide into virtual stages of "
                          f"{per}: Megatron-LM refuses to start: \"number of layers per pipeline stage must be "
                          "divisible number of layers per virtual pipeline stage\" (megatron/training/arguments.py)",
                          data={"layers_per_stage": stage, "layers_per_virtual_stage": per,
                                "divisors": [d for d in range(1, stage + 1) if stage % d == 0]})


class ExpertTensorWithoutSequenceParallel(_MegatronRule):
    code = "MEG005"
    name = "megatron-ep-tp-without-sp"
    severity = Severity.WARNING
    summary = "Megatron-LM: expert parallelism with tensor parallelism needs --sequence-parallel."
    explanation = """
        With tp > 1 and ep > 1 the MoE token dispatcher expects the tokens
        split over the tensor-parallel ranks as sequence parallelism splits
        them, and Megatron-LM says so at start-up: "When using expert parallelism and tensor
        parallelism for training, sequence parallelism must be used"
        (megatron/core/model_parallel_config.py:560-565).
    """
    bad_example = "pretrain_gpt.py --tensor-model-parallel-size 2 --expert-model-parallel-size 4"
    good_example = "pretrain_gpt.py --tensor-model-parallel-size 2 --expert-model-parallel-size 4 --sequence-parallel"
    fix_safety = "No automatic fix (a flag to add)."

    def check(self, ctx):
        par = ctx.plan.parallelism
        if not self.applies(ctx) or ctx.plan.model.moe is None or par.ep <= 1 or par.tp <= 1 or par.sequence_parallel:
            return
        yield self.report("/parallelism/ep",
                          f"ep={par.ep} with tp={par.tp} but no --sequence-parallel: \"When using expert parallelism "
                          "and tensor parallelism for training, sequence parallelism must be used\" "
                          "(megatron/core/model_parallel_config.py:560-565)",
                          data={"ep": par.ep, "tp": par.tp})


class SequenceParallelWithoutTensor(_MegatronRule):
    code = "MEG006"
    name = "megatron-sp-without-tp"
    severity = Severity.HINT
    summary = "Megatron-LM: --sequence-parallel with tensor-model-parallel size 1 is silently turned off."
    explanation = """
        Sequence parallelism splits the activations outside attention over
        the tensor-parallel group; with tp = 1 there is nothing to split and
        Megatron-LM turns it off without a word
        (megatron/training/arguments.py:1430-1434). The flag promises a
        memory saving that the run does not get.
    """
    bad_example = "pretrain_gpt.py --tensor-model-parallel-size 1 --sequence-parallel"
    good_example = "pretrain_gpt.py --tensor-model-parallel-size 2 --sequence-parallel"
    fix_safety = "No fix: either drop the flag or raise tp."

    def check(self, ctx):
        written = ((ctx.document.data or {}).get("parallelism") or {}).get("sequence_parallel")
        if not self.applies(ctx) or ctx.plan.parallelism.tp != 1 or written is not True:
            return
        yield self.report("/parallelism/sequence_parallel",
                          "--sequence-parallel with tp = 1 is silently turned off by Megatron-LM "
                          "(megatron/training/arguments.py:1430-1434): it saves no memory in this run",
                          data={"tp": 1})


class HiddenNotDivisibleByHeads(_MegatronRule):
    code = "MEG007"
    name = "megatron-hidden-not-divisible-by-heads"
    severity = Severity.ERROR
    summary = "Megatron-LM: --hidden-size is not a multiple of --num-attention-heads (and no --kv-channels)."
    explanation = """
        Without --kv-channels the head width is hidden / heads, which must be
        a whole number: validate_args asserts args.hidden_size %
        args.num_attention_heads == 0 (megatron/training/arguments.py:1331-1333)
        and the job stops with a bare AssertionError after the allocation.
    """
    bad_example = "pretrain_gpt.py --hidden-size 1000 --num-attention-heads 16"
    good_example = "pretrain_gpt.py --hidden-size 1024 --num-attention-heads 16"
    fix_safety = "No fix: a model change."

    def check(self, ctx):
        m = ctx.plan.model
        written = (ctx.document.data or {}).get("model") or {}
        if not self.applies(ctx) or "head_dim" in written or m.hidden_size % m.num_attention_heads == 0:
            return
        yield self.report("/model/hidden_size",
                          f"hidden size {m.hidden_size} is not a multiple of {m.num_attention_heads} heads: Megatron-LM "
                          "asserts hidden_size % num_attention_heads == 0 (megatron/training/arguments.py:1331-1333)",
                          data={"hidden_size": m.hidden_size, "heads": m.num_attention_heads})


#: Megatron-LM before 532ad926 ("Replace rampup batch size scheduler with custom step batch size schedules",
#: 2026-04-21) ran the ramp: its parent 0b9bc20 checks it in RampupBatchsizeNumMicroBatchesCalculator
_RAMPUP_SOURCE = "megatron/core/num_microbatches_calculator.py"


def _rampup_problem(start: int, increment: int, samples: int, batch: int, unit: int | None, iterations: bool):
    """The first check a Megatron-LM that runs the ramp (before 532ad926) fails, as ``(message, source)``, or None."""
    if start <= 0:
        return f"start batch size should be positive, got {start}.", f"{_RAMPUP_SOURCE}:401-403 at 0b9bc20"
    if increment <= 0:
        return f"batch size increment should be positive, got {increment}.", f"{_RAMPUP_SOURCE}:404-406 at 0b9bc20"
    if samples < 0:
        return f"ramp-up samples should be non-negative, got {samples}.", f"{_RAMPUP_SOURCE}:407-409 at 0b9bc20"
    if batch < start:
        return ("expected global batch size to be greater than or equal to start batch size, "
                f"got {batch} and {start}", f"{_RAMPUP_SOURCE}:425-428 at 0b9bc20")
    if (batch - start) % increment:
        return (f"expected global batch size interval ({batch - start}) to be divisible by global batch size "
                f"increment ({increment})", f"{_RAMPUP_SOURCE}:429-433 at 0b9bc20")
    if iterations:
        return ("expected no batch-size rampup for iteration-based training",
                "megatron/training/arguments.py:1119-1120 at 0b9bc20 (with --train-iters)")
    if unit:
        bad = next((s for s in range(start, batch + 1, increment) if s % unit), None)
        if bad is not None:
            return (f"current global batch size ({bad}) is not divisible by micro-batch-size ({{micro}}) times"
                    f"data parallel size ({{dp}})", f"{_RAMPUP_SOURCE}:473-483 at 0b9bc20, when the ramp reaches {bad}")
    return None


class RampupBatchSize(_MegatronRule):
    code = "MEG008"
    name = "megatron-rampup-batch-size"
    severity = Severity.WARNING
    summary = "Megatron-LM: --rampup-batch-size is ignored (deprecated); a ramp older versions reject is named."
    explanation = """
        --rampup-batch-size START INCREMENT SAMPLES is still parsed (nargs=3,
        megatron/training/config/training_config.py:20-30: "Deprecated. Use
        step_batch_size_schedule instead.") but since 532ad926 (2026-04-21)
        the microbatch calculator is built without it
        (megatron/training/global_vars.py:148-157): the run trains at
        --global-batch-size from the first step, not along the ramp the
        script asks for. Megatron-LM before that commit ran the ramp and
        refused one that cannot reach the global batch in whole increments
        ("expected global batch size interval (…) to be divisible by global
        batch size increment (…)"), one starting above it, one with
        --train-iters, and stopped during the ramp at the first batch that
        micro × dp does not divide
        (megatron/core/num_microbatches_calculator.py at 0b9bc20, the parent
        of 532ad926); the finding names the first of these the ramp fails.
    """
    bad_example = "pretrain_gpt.py --micro-batch-size 1 --global-batch-size 1024 --rampup-batch-size 16 10 300000"
    good_example = 'pretrain_gpt.py --micro-batch-size 1 --step-batch-size-schedule "0:16 150000:512 300000:1024"'
    fix_safety = ("No fix: a --step-batch-size-schedule replaces the ramp (and excludes --global-batch-size, MEG001); "
                  "its steps are yours to choose.")

    def check(self, ctx):
        ramp = ctx.plan.training.rampup_batch_size
        if not self.applies(ctx) or not ramp:
            return
        start, increment, samples = ramp
        par, batch = ctx.plan.parallelism, ctx.plan.workload.batch_size
        unit = par.micro_batch_size * par.dp if "devices" not in ctx.plan.unknown else None
        message = (f"--rampup-batch-size {start} {increment} {samples} is ignored by Megatron-LM since 532ad926 "
                   "(deprecated: \"Deprecated. Use step_batch_size_schedule instead.\", "
                   "megatron/training/config/training_config.py:20-30; the microbatch calculator is built without it, "
                   f"megatron/training/global_vars.py:148-157): the run trains at --global-batch-size {batch} from "
                   "the first step")
        data = {"start": start, "increment": increment, "samples": samples, "global_batch_size": batch}
        problem = _rampup_problem(start, increment, samples, batch, unit, ctx.document.engine.get("train_iters"))
        if problem is not None:
            said, source = problem
            said = said.replace("{micro}", str(par.micro_batch_size)).replace("{dp}", str(par.dp))
            message += f"; a Megatron-LM before 532ad926, which runs the ramp, refuses it: \"{said}\" ({source})"
            data.update(older_megatron_message=said, older_megatron_source=source)
        yield self.report("/training/rampup_batch_size", message, data=data)


_VIRTUAL_FLAGS = (("/training/layers_per_virtual_stage", "--num-layers-per-virtual-pipeline-stage"),
                  ("/training/virtual_stages_per_rank", "--num-virtual-stages-per-pipeline-rank"))


class VirtualPipelineFlagsConflict(_MegatronRule):
    code = "MEG009"
    name = "megatron-virtual-pipeline-flags-conflict"
    severity = Severity.ERROR
    summary = "Megatron-LM: more than one of the flags that set virtual pipeline stages is given."
    explanation = """
        The interleaved schedule's virtual stages can be asked for in three
        ways: layers per virtual stage, virtual stages per pipeline rank, or
        an explicit --pipeline-model-parallel-layout. They can disagree, so
        Megatron-LM's validate_args accepts at most one: "No more than one of
        the following arguments can be set at the same time:
        --num-layers-per-virtual-pipeline-stage,
        --num-virtual-stages-per-pipeline-rank,
        --pipeline-model-parallel-layout" (megatron/training/arguments.py).
        The job stops at start-up, after the allocation.
    """
    bad_example = ("pretrain_gpt.py --num-layers 96 --pipeline-model-parallel-size 8 "
                   "--num-layers-per-virtual-pipeline-stage 4 --num-virtual-stages-per-pipeline-rank 3")
    good_example = "pretrain_gpt.py --num-layers 96 --pipeline-model-parallel-size 8 --num-virtual-stages-per-pipeline-rank 3"
    fix_safety = "No fix: which of the flags states the schedule you meant is yours to say."

    def check(self, ctx):
        if not self.applies(ctx):
            return
        given = [(path, flag) for path, flag in _VIRTUAL_FLAGS
                 if getattr(ctx.plan.training, path.rsplit("/", 1)[1]) is not None]
        if ctx.document.engine.get("pipeline_layout"):
            given.append(("/training/uneven_pipeline", "--pipeline-model-parallel-layout"))
        if len(given) < 2:
            return
        yield self.report(given[-1][0],
                          f"{' and '.join(flag for _, flag in given)} are both given: Megatron-LM refuses to start: "
                          "\"No more than one of the following arguments can be set at the same time: "
                          "--num-layers-per-virtual-pipeline-stage, --num-virtual-stages-per-pipeline-rank,"
                          "--pipeline-model-parallel-layout\" (megatron/training/arguments.py, validate_args)",
                          data={"flags": [flag for _, flag in given]})


class InterleavedWithoutPipeline(_MegatronRule):
    code = "MEG010"
    name = "megatron-interleaved-without-pipeline"
    severity = Severity.ERROR
    summary = "Megatron-LM: virtual pipeline stages on a pipeline too short for the interleaved schedule."
    explanation = """
        The interleaved schedule cycles each micro-batch through the virtual
        stages of every pipeline rank, so it needs a pipeline: Megatron-LM's
        validate_args requires "pipeline-model-parallel size should be greater
        than 1" when virtual stages are used, and greater than 2 when
        --no-overlap-p2p-communication turns the send/receive overlap off ("to
        avoid having multiple p2p sends and recvs between same 2 ranks per
        communication batch", megatron/training/arguments.py). A single
        virtual stage per rank is no interleaving and passes.
    """
    bad_example = "pretrain_gpt.py --num-layers 32 --pipeline-model-parallel-size 1 --num-virtual-stages-per-pipeline-rank 4"
    good_example = "pretrain_gpt.py --num-layers 32 --pipeline-model-parallel-size 4 --num-virtual-stages-per-pipeline-rank 2"
    fix_safety = "No fix: a longer pipeline or dropping the virtual stages are different layouts."

    def check(self, ctx):
        if not self.applies(ctx):
            return
        training, pp, L = ctx.plan.training, ctx.plan.parallelism.pp, ctx.plan.model.layers
        per, count = training.layers_per_virtual_stage, training.virtual_stages_per_rank
        if count is not None:
            virtual, path = count, "/training/virtual_stages_per_rank"
        elif per is not None and L % pp == 0 and (L // pp) % per == 0:       # else MEG004 (or PAR403) says why
            virtual, path = L // pp // per, "/training/layers_per_virtual_stage"
        else:
            return
        overlap = ctx.document.engine.get("overlap_p2p", True)
        least = 2 if overlap else 3
        if virtual <= 1 or pp >= least:
            return
        said = ("When interleaved schedule is used, pipeline-model-parallel size should be greater than 1" if overlap else
                "When interleaved schedule is used and p2p communication overlap is disabled, pipeline-model-parallel "
                "size should be greater than 2 to avoid having multiple p2p sends and recvs between same 2 ranks per "
                "communication batch")
        yield self.report(path, f"{virtual} virtual stages per pipeline rank with pipeline-model-parallel size {pp}: "
                                f"Megatron-LM refuses to start: \"{said}\" (megatron/training/arguments.py, validate_args)",
                          data={"virtual_stages": virtual, "pp": pp, "overlap_p2p": overlap, "least_pp": least})


@hookimpl
def deploylint_rules():
    return [BatchFlagsConflict(), SeqLengthContextParallel(), PositionsBelowSeqLength(), VirtualPipelineSplit(),
            ExpertTensorWithoutSequenceParallel(), SequenceParallelWithoutTensor(), HiddenNotDivisibleByHeads(),
            RampupBatchSize(), VirtualPipelineFlagsConflict(), InterleavedWithoutPipeline()]


#: Megatron-Bridge config keys (ConfigContainer: model = the Megatron TransformerConfig/ModelParallelConfig
#: fields, train = TrainingConfig) → plan pointers; docs/megatron-lm-to-megatron-bridge.md maps them to the flags
_BRIDGE = {
    "/model/num_layers": "/model/layers", "/model/hidden_size": "/model/hidden_size",
    "/model/ffn_hidden_size": "/model/ffn_hidden_size", "/model/num_attention_heads": "/model/num_attention_heads",
    "/model/num_query_groups": "/model/num_kv_heads", "/model/kv_channels": "/model/head_dim",
    "/model/num_moe_experts": "/model/moe/num_experts", "/model/moe_router_topk": "/model/moe/top_k",
    "/model/moe_ffn_hidden_size": "/model/moe/expert_ffn_hidden_size",
    "/model/max_position_embeddings": "/model/max_position_embeddings",
    "/model/tensor_model_parallel_size": "/parallelism/tp", "/model/pipeline_model_parallel_size": "/parallelism/pp",
    "/model/context_parallel_size": "/parallelism/cp", "/model/expert_model_parallel_size": "/parallelism/ep",
    "/model/expert_tensor_parallel_size": "/parallelism/etp", "/model/seq_length": "/workload/seq_len",
    "/train/global_batch_size": "/workload/batch_size", "/train/micro_batch_size": "/parallelism/micro_batch_size",
    "/model/virtual_pipeline_model_parallel_size": "/training/virtual_stages_per_rank",
}


def read_bridge(path: str, text: str):
    """A Megatron-Bridge override YAML (``model:``/``train:`` sections of a recipe's ConfigContainer), or None."""
    if not path.lower().endswith((".yaml", ".yml")) or "train:" not in text or "model:" not in text:
        return None
    from deploylint.core.document.sources import SourceError, load

    try:
        src = load(path, text, "yaml")
    except SourceError:
        return None
    data, spans = src.data, src.spans
    if not isinstance(data, dict) or "schema_version" in data:
        return None
    train, model = data.get("train"), data.get("model")
    if not isinstance(train, dict) or not isinstance(model, dict) or not (
            {"global_batch_size", "micro_batch_size", "train_iters"} & set(train)):
        return None
    b = PlanBuilder(path, text, "megatron", "yaml")
    first = spans.get("/model") or spans.get("/train")
    b.anchor(first.key or first.value)
    for file_ptr, plan_ptr in _BRIDGE.items():
        keys = file_ptr.strip("/").split("/")
        value = data.get(keys[0], {}).get(keys[1]) if isinstance(data.get(keys[0]), dict) else None
        if value is None:
            continue
        number = as_int(value)
        node = spans.get(file_ptr)
        if number is None or number < 1:
            b.skip(f"{keys[0]}.{keys[1]} = {value!r}: not a size deploylint reads", plan_ptr)
            continue
        b.put(plan_ptr, number, node.value if node else None, key=node.key if node else None,
              binding=node.value if node else None)
    if model.get("sequence_parallel") is not None:
        b.put("/parallelism/sequence_parallel", model.get("sequence_parallel") is True)
    dist = data.get("dist") if isinstance(data.get("dist"), dict) else {}
    if dist.get("use_megatron_fsdp") is True or dist.get("use_torch_fsdp2") is True:
        b.put("/parallelism/zero_stage", 3)
    b.put("/workload/dtype", "bf16")       # the recipes train in bf16 unless their mixed_precision says otherwise
    b.skip("the model's architecture: an override file changes a recipe (read in Python), which gives it; name "
           "the model with [tool.deploylint.models] \"glob\" = { id = \"org/name\" }", "/model")
    if "num_devices" not in b.data["hardware"]:
        b.skip("the world size: the recipe's launcher gives it (give --num-devices, or num_devices in "
               "[tool.deploylint.hardware])", "/hardware/num_devices")
    b.placeholders({})
    return [b.document(lambda new: read_bridge(path, new)[0])]


@hookimpl
def deploylint_source(path, text):
    if os.path.basename(path).startswith("."):
        return None
    return read(path, text) or read_bridge(path, text)
