"""Where each device sits in the parallel grid, and which layers and experts it holds.

Rank order follows Megatron-LM's default (tp fastest, then cp, then dp, then
pp); inside one pipeline stage the MoE layers regroup the same tp·cp·dp
devices as etp (fastest) × ep × expert-data-parallel. The estimator is exact
about *which* device is heaviest — with 22-21-21 experts it is EP rank 0, with
uneven pipeline stages the stage holding the embedding or the extra layer.
"""

from __future__ import annotations

from ..records import record


@record(frozen=True, slots=True)
class Coords:
    index: int
    stage: int
    dp_rank: int
    cp_rank: int
    tp_rank: int
    ep_rank: int
    etp_rank: int
    edp_rank: int


#: stage_layers' answers by (layers, pp, split): a pure function of three small values that every estimate asks for
#: (memory, communication, bounds, the schedule), hundreds of times in one layout search
_STAGES: dict[tuple, tuple[range, ...]] = {}


def stage_layers(layers: int, pp: int, split=None) -> tuple[range, ...]:
    """Layers of each pipeline stage: ``split`` when it places all of them over ``pp`` stages, else as even as
    possible, the earlier stages taking the remainder."""
    key = (layers, pp, tuple(split) if split else None)
    hit = _STAGES.get(key)
    if hit is None:
        if len(_STAGES) >= 4096:    # a long-running language server sees one key per model depth and layout
            _STAGES.clear()
        hit = _STAGES[key] = _split_layers(layers, pp, key[2])
    return hit


def _split_layers(layers: int, pp: int, split: tuple[int, ...] | None) -> tuple[range, ...]:
    if split and len(split) == pp and sum(split) == layers:
        out, start = [], 0
        for n in split:
            out.append(range(start, start + n))
            start += n
        return tuple(out)
    base, extra = divmod(layers, pp)
    out, start = [], 0
    for s in range(pp):
        n = base + (1 if s < extra else 0)
        out.append(range(start, start + n))
        start += n
    return tuple(out)


def coords(index: int, par) -> Coords:
    tp, cp, dp = par.tp, par.cp, par.dp
    tp_rank = index % tp
    cp_rank = (index // tp) % cp
    dp_rank = (index // (tp * cp)) % dp
    stage = min(index // (tp * cp * dp), par.pp - 1)
    local = index % (tp * cp * dp)
    etp = max(1, par.etp)
    etp_rank = local % etp
    ep_rank = (local // etp) % max(1, par.ep)
    edp_rank = local // (etp * max(1, par.ep))
    return Coords(index, stage, dp_rank, cp_rank, tp_rank, ep_rank, etp_rank, edp_rank)


def expert_data_parallel(par) -> int:
    """Replicas of each expert shard: (tp·cp·dp) / (ep·etp), at least 1."""
    return max(1, (par.tp * par.cp * par.dp) // max(1, par.ep * par.etp))


def micro_batches(plan) -> int:
    """Micro-batches per step on one pipeline (training) or concurrent groups (inference)."""
    par, work = plan.parallelism, plan.workload
    per_replica = -(-work.batch_size // max(1, par.dp))
    return max(1, -(-per_replica // max(1, par.micro_batch_size)))


def dualpipe(plan) -> bool:
    """DeepSeek-V3's DualPipe (technical report §3.2.1, Table 2): micro-batches fed from both ends of the pipeline,
    each rank holding stage r of one direction and stage pp − 1 − r of the other. It needs an even pp ≥ 2 (a plan that
    names it on another depth — a layout-search candidate — is priced as 1F1B)."""
    training, pp = getattr(plan, "training", None), plan.parallelism.pp
    return bool(training is not None and training.pipeline_schedule == "dualpipe" and pp >= 2 and pp % 2 == 0
                and plan.workload.training)


def rank_stages(plan, stages: tuple[range, ...]) -> list[tuple[range, ...]]:
    """The stages each pipeline rank holds: its own, or under DualPipe its own and its mirror (pp − 1 − r)."""
    if not dualpipe(plan):
        return [(r,) for r in stages]
    last = len(stages) - 1
    return [(stages[r], stages[last - r]) for r in range(len(stages))]


def virtual_stages(plan) -> int:
    """Model chunks each pipeline rank holds under an interleaved schedule (Narayanan et al. 2021, §2.2.2), 1 for
    plain 1F1B.

    ``[training] layers_per_virtual_stage`` gives the chunk size: a stage of n layers holds ⌈n / size⌉ chunks (the
    largest stage counts; Megatron-LM checks that they divide, MEG004). ``virtual_stages_per_rank`` gives the count
    itself. Either carries over to another pipeline depth — the layout search prices a candidate with the plan's own
    schedule — capped by the layers a stage has (a chunk holds at least one layer).
    """
    par, training = plan.parallelism, getattr(plan, "training", None)
    if par.pp <= 1 or training is None or dualpipe(plan):
        return 1
    per, count = training.layers_per_virtual_stage, training.virtual_stages_per_rank
    if not per and not count:
        return 1            # plain 1F1B: the stages' sizes are not needed (the layout search asks for every layout)
    most = max(len(r) for r in stage_layers(plan.model.layers, par.pp, par.pipeline_layers))
    if per:
        v = -(-most // per)
    else:
        v = count
    return max(1, min(v, most))
