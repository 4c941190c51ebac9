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

from dataclasses import dataclass

from ..plan import DTYPE_BYTES
from .layout import expert_data_parallel, micro_batches, stage_layers
from .memory import activation_bytes_per_element


@dataclass(frozen=True, slots=True)
class Traffic:
    kind: str        # "tp", "ep", "dp", "pp"
    bytes: float     # per device, per step (training) or per request batch (inference)
    link: str        # "intra" or "inter"
    group: int


@dataclass(frozen=True, slots=True)
class CommEstimate:
    traffic: tuple[Traffic, ...] = ()
    decode_traffic: tuple[Traffic, ...] = ()   # inference: per decode step

    def bytes_on(self, link: str, decode: bool = False) -> float:
        return sum(t.bytes for t in (self.decode_traffic if decode else self.traffic) if t.link == link)


def _link(span: int, devices_per_node: int) -> str:
    return "intra" if span <= devices_per_node else "inter"


def _ring(n: int, kind: str) -> float:
    if n <= 1:
        return 0.0
    return (2 if kind == "all-reduce" else 1) * (n - 1) / n


def estimate_comm(plan, counts, memory) -> CommEstimate:
    model, hw, par, work = plan.model, plan.hardware, plan.parallelism, plan.workload
    a = activation_bytes_per_element(work.dtype)
    h = model.hidden_size
    dpn = hw.devices_per_node
    stages = stage_layers(model.layers, par.pp)
    busiest_stage = max(range(par.pp), key=lambda s: len(stages[s]))
    layers = stages[busiest_stage]
    moe_layers = sum(1 for li in layers if counts.layers[li].is_moe)
    k = model.moe.top_k if model.moe else 0
    tp_link = _link(par.tp, dpn)
    ep_link = _link(par.ep * par.etp, dpn)
    dp_link = _link(par.tp * par.cp * par.dp, dpn)
    pp_link = _link(par.tp * par.cp * par.dp * par.pp, dpn)

    def per_pass(tokens: float, passes: int) -> list[Traffic]:
        """Traffic of ``passes`` (forward=1, forward+backward=2) over ``tokens`` tokens of one device's micro-batch."""
        out = []
        msg = tokens * h * a
        if par.tp > 1:
            out.append(Traffic("tp", 2 * passes * len(layers) * _ring(par.tp, "all-reduce") * msg, tp_link, par.tp))
        if par.ep > 1 and moe_layers:
            out.append(Traffic("ep", 2 * passes * moe_layers * k * msg * (par.ep - 1) / par.ep, ep_link, par.ep))
        if par.pp > 1:
            out.append(Traffic("pp", passes * msg / (par.tp if par.sequence_parallel else 1), pp_link, par.pp))
        return out

    if work.training:
        m = micro_batches(plan)
        tokens = par.micro_batch_size * work.seq_len / par.cp
        traffic = [Traffic(t.kind, t.bytes * m, t.link, t.group) for t in per_pass(tokens, 2)]
        busiest = memory.busiest
        grad_bytes = DTYPE_BYTES[work.dtype]
        expert_params = busiest.experts and sum(counts.layers[li].expert for li in layers) * busiest.experts / max(1, par.etp)
        dense_params = max(0.0, busiest.params - (expert_params or 0))
        factor = 1.5 if par.zero_stage >= 3 else 1.0
        dp_bytes = factor * _ring(par.dp * par.cp, "all-reduce") * dense_params * grad_bytes
        edp = expert_data_parallel(par)
        dp_bytes += factor * _ring(edp, "all-reduce") * (expert_params or 0) * grad_bytes
        if dp_bytes:
            traffic.append(Traffic("dp", dp_bytes, dp_link, par.dp))
        return CommEstimate(tuple(traffic))
    batch = -(-work.batch_size // max(1, par.dp))
    prefill = per_pass(batch * work.seq_len / par.cp, 1)
    decode = per_pass(batch, 1) if work.output_len else []
    return CommEstimate(tuple(prefill), tuple(decode))
