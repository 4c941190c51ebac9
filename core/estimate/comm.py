"""Communication per device: bytes each parallel group moves, and over which link.

Ring collectives (docs/analysis.md §A10): an all-reduce of M bytes over n
devices moves ``2(n−1)/n·M`` per device, an all-gather or reduce-scatter
``(n−1)/n·M``. A group uses the intra-node link when all its devices share a
node (``devices_per_node``), the inter-node network otherwise.

Training, per step: TP all-reduces (2 forward and 2 backward per block and
micro-batch; reduce-scatter + all-gather with sequence parallelism, the same
volume), EP all-to-all (dispatch and combine, forward and backward, per MoE
block), the DP gradient all-reduce (ZeRO-3: 1.5×, ZeRO paper §7), and PP
activations and gradients between stages. Inference, per request batch:
the forward half of each, for prefill and for each decode step.
"""

from __future__ import annotations


from ..records import record
from ..plan import DTYPE_BYTES
from .layout import expert_data_parallel, micro_batches, stage_layers, virtual_stages
from .memory import activation_bytes_per_element


@record(frozen=True, slots=True)
class Traffic:
    kind: str        # "tp", "ep", "dp", "pp"
    bytes: float     # per device, per step (training) or per request batch (inference)
    link: str        # "intra" or "inter"
    group: int


@record(frozen=True, slots=True)
class CommEstimate:
    traffic: tuple[Traffic, ...] = ()
    decode_traffic: tuple[Traffic, ...] = ()   # inference: per decode step
    request_traffic: tuple[Traffic, ...] = ()  # inference: the prefill of one request (continuous batching)

    def bytes_on(self, link: str, decode: bool = False, *, request: bool = False) -> float:
        chosen = self.request_traffic if request else (self.decode_traffic if decode else self.traffic)
        return sum(t.bytes for t in chosen if t.link == link)


def _link(span: int, devices_per_node: int) -> str:
    return "intra" if span <= devices_per_node else "inter"


def _ring(n: int, kind: str) -> float:
    if n <= 1:
        return 0.0
    return (2 if kind == "all-reduce" else 1) * (n - 1) / n


def collective(kind: str, n: int, stride: int, dpn: int, message: float) -> list[tuple[str, float]]:
    """Bytes per device, per link, of one collective of ``message`` bytes over a group of ``n`` devices whose members
    sit ``stride`` ranks apart.

    Inside one node it is a ring over the fast links. A group spanning nodes runs hierarchically, as NCCL's tree and
    NVLS/CollNet algorithms and Megatron's distributed optimizer do (Jeaugey, "Massively scale your deep learning
    training with NCCL 2.4", NVIDIA 2019; Rajbhandari et al. 2020 §7): reduce-scatter among the members of each node,
    the node's 1/local shard across the nodes, all-gather back inside the node — so each device's network traffic is
    the ring volume over the nodes of its shard only, ``2(nodes−1)/nodes · M/local`` for an all-reduce.
    """
    if n <= 1 or message <= 0:
        return []
    local = max(1, min(n, dpn // max(1, stride))) if stride <= dpn else 1
    nodes = -(-n // local)
    if nodes <= 1:
        return [("intra", _ring(n, kind) * message)]
    out = [("inter", _ring(nodes, kind) * message / local)]
    if local > 1:
        out.append(("intra", _ring(local, kind) * message))
    return out


def _distinct(candidates: float, picks: float) -> float:
    """Expected distinct bins among ``candidates`` that ``picks`` uniform choices land in."""
    if candidates <= 1:
        return min(1.0, candidates)
    return candidates * (1 - (1 - 1 / candidates) ** picks)


def all_to_all_copies(moe, ep: int, etp: int, dpn: int) -> tuple[float, float]:
    """Copies of one token each MoE dispatch (and combine) sends: (over the network, over NVLink).

    As DeepSeek-V3 (§3.2, §3.4) and DeepEP run it: a token goes once to each *node* holding one of its experts, never
    once per expert, and is forwarded inside that node over NVLink to the expert-parallel ranks (and all etp devices of
    each) that need it. Node-limited routing (``n_group``/``topk_group``: experts in groups, a token's experts drawn
    from at most ``topk_group`` groups; V3: 8 groups, 4, so at most 4 nodes) caps the nodes. Routing is uniform (what
    auxiliary-loss-free balancing aims at).
    """
    k = moe.top_k
    group_devices = ep * etp
    nodes = max(1, -(-group_devices // dpn))
    ranks_per_node = max(1, ep // nodes)
    if moe.n_group and moe.topk_group and nodes > 1:
        nodes_per_group = max(1.0, nodes / moe.n_group)
        candidates = min(nodes, moe.topk_group * nodes_per_group)
        picks = moe.topk_group if nodes <= moe.n_group else k
        dest_nodes = _distinct(candidates, picks)
    else:
        dest_nodes = _distinct(nodes, k)
    off_node = dest_nodes * (nodes - 1) / nodes if nodes > 1 else 0.0
    # inside each destination node: the distinct ranks its share of the token's experts land on, etp devices each
    experts_per_node = k / max(dest_nodes, 1.0)
    ranks = _distinct(ranks_per_node, experts_per_node) * dest_nodes
    device_copies = ranks * etp * (group_devices - 1) / group_devices
    return off_node, max(0.0, device_copies - off_node)


def _kv_width(model) -> int:
    """Key and value elements per token per layer that attention exchanges (K + V of every KV head; MLA's latent)."""
    if model.attention == "mla" and model.mla is not None:
        return (model.mla.kv_lora_rank + model.mla.qk_rope_head_dim) // 2 or 1
    return model.num_kv_heads * model.head_dim


def estimate_comm(plan, counts, memory) -> CommEstimate:
    model, hw, par, work = plan.model, plan.hardware, plan.parallelism, plan.workload
    a = activation_bytes_per_element(work.dtype)
    h = model.hidden_size
    dpn = hw.devices_per_node
    stages = stage_layers(model.layers, par.pp, par.pipeline_layers)
    busiest_stage = max(range(par.pp), key=lambda s: len(stages[s]))
    layers = stages[busiest_stage]
    moe_layers, expert_unit = counts.moe_span(layers)
    pp_link = _link(par.tp * par.cp * par.dp * par.pp, dpn)
    # Serving keeps every token on all tp ranks of its replica (no sequence parallelism): an expert group inside the
    # tp group already holds the tokens, and the combine is the MLP's tp all-reduce.
    replicated = not work.training or not par.sequence_parallel
    ep_needed = par.ep > 1 and moe_layers and not (replicated and par.ep * par.etp <= par.tp)
    off_node, on_node = all_to_all_copies(model.moe, par.ep, par.etp, dpn) if ep_needed else (0.0, 0.0)
    # FP8 dispatch, BF16 combine (DeepSeek-V3 §3.3.2; DeepEP) when the plan computes in fp8
    dispatch_bytes = 1 if work.dtype == "fp8" else a
    chunks = virtual_stages(plan) if work.training else 1

    def per_pass(tokens: float, passes: int) -> list[Traffic]:
        """Traffic of ``passes`` (forward=1, forward+backward=2) over ``tokens`` tokens of one replica's micro-batch."""
        out = []
        msg = tokens * h * a
        for link, volume in collective("all-reduce", par.tp, 1, dpn, msg):
            out.append(Traffic("tp", 2 * passes * len(layers) * volume, link, par.tp))
        if ep_needed:
            # each device sends the tokens it holds (a replica's tokens spread over its tp·cp devices)
            per_device = tokens / (par.tp * par.cp) * h * (dispatch_bytes + a) * passes * moe_layers
            for link, copies in (("inter", off_node), ("intra", on_node)):
                if copies:
                    out.append(Traffic("ep", per_device * copies, link, par.ep))
        if par.cp > 1:
            # ring attention (Liu et al. 2023; Megatron context parallelism): each rank's K and V chunk visits the
            # cp − 1 other ranks in every layer, forward and (twice, K/V and their gradients) backward
            kv = tokens * 2 * _kv_width(model) * a / par.tp
            for link, volume in collective("all-gather", par.cp, par.tp, dpn, kv * par.cp):
                out.append(Traffic("cp", (2 * passes - 1) * len(layers) * volume, link, par.cp))
        if par.pp > 1:
            # each of a rank's v model chunks sends its output on (interleaved schedule: v times the 1F1B traffic,
            # Narayanan et al. 2021, §2.2.2)
            out.append(Traffic("pp", chunks * passes * msg / (par.tp if par.sequence_parallel else 1), pp_link, par.pp))
        return out

    if work.training:
        m = micro_batches(plan)
        tokens = par.micro_batch_size * work.seq_len / par.cp
        traffic = [Traffic(t.kind, t.bytes * m, t.link, t.group) for t in per_pass(tokens, 2)]
        busiest = memory.busiest
        grad_bytes = DTYPE_BYTES[work.dtype]
        expert_params = busiest.experts and expert_unit * busiest.experts / max(1, par.etp)
        dense_params = max(0.0, busiest.params - (expert_params or 0))
        edp = expert_data_parallel(par)
        volumes: dict[str, float] = {}
        for n, stride, params in ((par.dp * par.cp, par.tp, dense_params),
                                  (edp, par.ep * par.etp, expert_params or 0)):
            if par.zero_stage >= 3:
                # ZeRO-3 / FSDP gather every weight before its forward and again before its backward, for each
                # micro-batch, and reduce-scatter the gradients: (2m + 1)Ψ per step (ZeRO paper §7 gives 3Ψ for
                # m = 1); with many micro-batches per step this is what Narayanan et al. 2021 (§5.3) measured ZeRO-3
                # losing to pipeline parallelism at 175B–530B
                parts = [("all-gather", 2 * m), ("reduce-scatter", 1)]
            else:
                parts = [("all-reduce", 1)]      # ZeRO-1/2: reduce-scatter + all-gather, the same volume
            for kind, times in parts:
                for link, volume in collective(kind, n, stride, dpn, params * grad_bytes):
                    volumes[link] = volumes.get(link, 0.0) + times * volume
        traffic += [Traffic("dp", v, link, par.dp) for link, v in volumes.items() if v]
        return CommEstimate(tuple(traffic))
    batch = -(-work.batch_size // max(1, par.dp))
    prefill = per_pass(batch * work.seq_len / par.cp, 1) if work.phase != "decode" or not work.output_len else []
    request = per_pass(work.seq_len / par.cp, 1) if work.phase != "decode" or not work.output_len else []
    steps = work.output_len and work.phase != "prefill"
    decode = per_pass(batch * (1 + work.speculative_tokens), 1) if steps else []
    return CommEstimate(tuple(prefill), tuple(decode), tuple(request))
