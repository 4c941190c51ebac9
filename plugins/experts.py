"""MOE3xx — experts: how the routed experts are split over the expert-parallel ranks."""

from __future__ import annotations

from deploylint.core import Fix, Rule, Severity, hookimpl

from ._shared import fix_layouts, layout_fixes, ms, num, own_candidate
from ._startup import engine_says, profile


def balanced_counts(num_experts: int, ep: int) -> list[int]:
    base, extra = divmod(num_experts, ep)
    return [base + (1 if r < extra else 0) for r in range(ep)]


def balanced_ids(num_experts: int, ep: int) -> list[list[int]]:
    out, start = [], 0
    for n in balanced_counts(num_experts, ep):
        out.append(list(range(start, start + n)))
        start += n
    return out


def _placement_fix(ctx, message: str) -> Fix:
    moe, par = ctx.plan.model.moe, ctx.plan.parallelism
    written = ((ctx.document.data or {}).get("parallelism") or {}).get("expert_placement") or []
    as_ids = any(isinstance(p, list) for p in written)
    value = (balanced_ids(moe.num_experts, par.ep) if as_ids and not par.redundant_experts
             else balanced_counts(par.expert_slots(moe.num_experts), par.ep))
    return Fix.set("/parallelism/expert_placement", value, message, applicability="safe")


def _effect(ctx, cand) -> str:
    if "hardware" in ctx.plan.unknown:
        return "no accelerator known, so no speed estimate"
    own = own_candidate(ctx)
    if ctx.plan.workload.training:
        return f"est. {num(cand.throughput_samples_per_s)} samples/s (now {num(own.throughput_samples_per_s)})"
    return f"est. latency ≥ {ms(cand.min_latency_ms)} (now {ms(own.min_latency_ms)})"


class ExpertsNotDivisible(Rule):
    code = "MOE301"
    requires = frozenset()          # sizes only: runs without an accelerator or a workload
    name = "experts-not-divisible"
    severity = Severity.WARNING
    summary = "The number of routed experts is not divisible by ep, so EP ranks hold different numbers of experts."
    explanation = """
        With 64 experts on ep=3 the ranks hold 22, 21 and 21 experts: the rank
        with 22 carries ~3% more weights and, with uniform routing, ~3% more
        tokens, and every step waits for it. Severity follows the engine the
        plan is for: Megatron-LM, TorchTitan and SGLang require an even
        split outright, vLLM under EPLB too — for a plan read from (or
        marked as) one of them this is an error quoting the engine; vLLM
        without EPLB splits unevenly and starts (a warning saying so).
        Choose an ep that divides the expert count (and the devices of a
        stage), hold redundant experts — replicas of the hottest ones, as
        DeepSeek's EPLB does (DeepSeek-V3 §3.4) — so that (experts +
        redundant) % ep == 0, or, a model change, an expert count divisible
        by ep.
    """
    bad_example = """
        [model.moe]
        num_experts = 64
        [parallelism]
        ep = 3
    """
    good_example = """
        [model.moe]
        num_experts = 64
        [parallelism]
        ep = 4
    """
    fix_safety = "Unsafe: the fixes change the layout, or (said so) the model's expert count."

    def check(self, ctx):
        moe, par, serving = ctx.plan.model.moe, ctx.plan.parallelism, ctx.plan.serving
        # redundant experts (EPLB replicas, in the plan's layout or the engine's options: Parallelism.redundant_experts
        # holds both) fill the slots: (experts + replicas) % ep == 0 is an even split
        if moe is None:
            return
        served = serving.redundant_experts if serving is not None else 0
        redundant, physical = par.redundant_experts, par.expert_slots(moe.num_experts)
        if par.ep <= 1 or par.ep > physical or physical % par.ep == 0:
            return
        dist = balanced_counts(physical, par.ep)
        mean = physical / par.ep
        fixes = []
        near = self._nearest_feasible_ep(ctx)
        if near is not None:
            fixes += layout_fixes(ctx, near, f"use ep={near.parallelism.ep} (dp={near.parallelism.dp}): {_effect(ctx, near)}")
        lower = moe.num_experts // par.ep * par.ep
        upper = lower + par.ep
        # replicas of the hottest experts even the ranks out without touching the model (DeepSeek-V3 §3.4, EPLB)
        slots = -(-physical // par.ep) * par.ep
        replicas = slots - physical
        if replicas > 0:
            where, now = ("/serving/redundant_experts", served) if served else ("/parallelism/redundant_experts",
                                                                                redundant)
            fixes.append(Fix.set(where, now + replicas,
                                 f"hold {redundant + replicas} redundant experts (replicas of the hottest, as "
                                 f"DeepSeek's EPLB does): {slots // par.ep} slots per rank, the model unchanged",
                                 applicability="unsafe"))
        per_expert = next((l.expert for l in ctx.analysis.params.layers if l.is_moe), 0)
        moe_layers = sum(1 for l in ctx.analysis.params.layers if l.is_moe)
        for count in (lower, upper):
            if count >= max(par.ep, moe.top_k):
                delta = (count - moe.num_experts) * per_expert * moe_layers
                fixes.append(Fix.set("/model/moe/num_experts", count,
                                     f"model change: {count} experts ({count // par.ep} per rank, max/mean 1.000; "
                                     f"{delta / 1e6:+,.1f}M parameters) — retrains the model", applicability="unsafe"))
        counted = (f"{moe.num_experts} experts + {redundant} redundant = {physical}" if redundant
                   else f"{moe.num_experts} experts")
        _, engine = profile(ctx)
        eplb = serving is not None and serving.expert_load_balancing
        condition = "experts_eplb" if eplb and engine is not None and engine.check("experts_eplb") else "experts"
        message, data, severity = engine_says(
            ctx, condition,
            f"{counted} do not divide by ep={par.ep}: ranks hold {'-'.join(map(str, dist))} experts, "
            f"max/mean {max(dist) / mean:.3f}",
            {"num_experts": moe.num_experts, "ep": par.ep, "distribution": dist,
             **({"redundant_experts": redundant} if redundant else {}), "imbalance": round(max(dist) / mean, 3),
             "nearest_feasible_ep": near.parallelism.ep if near is not None else None,
             "divisible_expert_counts": [lower, upper]}, experts=moe.num_experts, ep=par.ep, redundant=redundant,
            physical=physical)
        yield self.report("/parallelism/ep", message, data=data, fixes=fixes, severity=severity)

    @staticmethod
    def _nearest_feasible_ep(ctx):
        par = ctx.plan.parallelism
        found = fix_layouts(ctx)
        if not found:
            return None
        same = [c for c in found if (c.parallelism.tp, c.parallelism.pp, c.parallelism.cp) == (par.tp, par.pp, par.cp)]
        pool = same or found
        return min(pool, key=lambda c: (abs(c.parallelism.ep - par.ep), -c.throughput_samples_per_s, c.min_latency_ms))


class PlacementInvalid(Rule):
    code = "MOE302"
    requires = frozenset()          # sizes only: runs without an accelerator or a workload
    name = "placement-invalid"
    severity = Severity.ERROR
    summary = "expert_placement does not add up: wrong number of ranks, wrong total, or missing/duplicate expert ids."
    explanation = """
        An explicit placement must list one entry per EP rank, and place every
        expert exactly once: as counts, they sum to num_experts; as id lists,
        every id 0..num_experts-1 appears once. Anything else leaves experts
        unplaced (tokens routed to them fail) or doubles them (memory wasted).
    """
    bad_example = """
        [parallelism]
        ep = 3
        expert_placement = [22, 21, 20]   # 63 of 64 experts
    """
    good_example = """
        [parallelism]
        ep = 3
        expert_placement = [22, 21, 21]
    """
    fix_safety = "Safe: the balanced placement for the same ep and expert count."

    def check(self, ctx):
        moe, par = ctx.plan.model.moe, ctx.plan.parallelism
        placement = par.expert_placement
        if not placement or moe is None:
            return
        problems = []
        data = {"ep": par.ep, "num_experts": moe.num_experts, "ranks": len(placement)}
        if len(placement) != par.ep:
            problems.append(f"lists {len(placement)} ranks but ep={par.ep}")
        slots = par.expert_slots(moe.num_experts)
        if all(isinstance(p, int) for p in placement):
            total = sum(placement)
            data["placed"] = total
            if total != slots:
                problems.append(f"places {total} experts but the model has {moe.num_experts}"
                                + (f" and {par.redundant_experts} redundant" if par.redundant_experts else ""))
        elif all(isinstance(p, tuple) for p in placement):
            ids = [i for p in placement for i in p]
            seen, dups = set(), set()
            for i in ids:
                (dups if i in seen else seen).add(i)
            missing = sorted(set(range(moe.num_experts)) - seen)
            bad = sorted(i for i in seen if i >= moe.num_experts)
            data.update(missing=missing[:64], duplicates=sorted(dups)[:64], out_of_range=bad[:64])
            if missing:
                problems.append(f"leaves {len(missing)} expert(s) unplaced ({_few(missing)})")
            extra = len(ids) - len(seen)
            if dups and extra > par.redundant_experts:
                problems.append(f"places expert(s) {_few(sorted(dups))} more than once"
                                + (f" ({extra} copies for {par.redundant_experts} redundant slots)" if par.redundant_experts else ""))
            if bad:
                problems.append(f"names expert id(s) {_few(bad)} beyond num_experts={moe.num_experts}")
        else:
            problems.append("mixes counts and id lists")
        if not problems:
            return
        fixes = [_placement_fix(ctx, f"use the balanced placement for ep={par.ep}")] if 1 <= par.ep <= moe.num_experts else []
        yield self.report("/parallelism/expert_placement", "expert_placement " + "; ".join(problems), data=data, fixes=fixes)


def _few(ids) -> str:
    shown = ", ".join(map(str, ids[:8]))
    return shown + (", …" if len(ids) > 8 else "")


class EpExceedsExperts(Rule):
    code = "MOE303"
    requires = frozenset()          # sizes only: runs without an accelerator or a workload
    name = "ep-exceeds-experts"
    severity = Severity.ERROR
    summary = "ep is larger than the number of routed experts: some EP ranks hold no expert at all."
    explanation = """
        Expert parallelism places whole experts on ranks; with more ranks than
        experts, the extra ranks hold none and receive no tokens in the MoE
        layers, while still counting in the layout. Redundant experts (EPLB
        replicas) are held by ranks too: DeepSeek-V3 decodes on EP320 with
        256 routed and 64 redundant experts, one per GPU (§3.4.2).
    """
    bad_example = """
        [model.moe]
        num_experts = 8
        [parallelism]
        ep = 16
    """
    good_example = """
        [parallelism]
        ep = 8
    """
    fix_safety = "Unsafe: it changes the layout."

    def check(self, ctx):
        moe, par = ctx.plan.model.moe, ctx.plan.parallelism
        if moe is None:
            return
        slots = par.expert_slots(moe.num_experts)      # replicas are held by ranks too (DeepSeek-V3 §3.4.2: EP320)
        if par.ep <= slots:
            return
        fixes = []
        pool = fix_layouts(ctx, lambda c: c.parallelism.ep <= slots)
        if pool:
            best = max(pool, key=lambda c: (c.parallelism.ep, c.throughput_samples_per_s))
            fixes += layout_fixes(ctx, best, f"use ep={best.parallelism.ep} ({best.describe()})")
        held = (f"the {moe.num_experts} routed experts and {par.redundant_experts} redundant" if par.redundant_experts
                else f"the {moe.num_experts} routed experts")
        yield self.report("/parallelism/ep", f"ep={par.ep} exceeds {held}: {par.ep - slots} EP ranks hold none",
                          data={"ep": par.ep, "num_experts": moe.num_experts,
                                **({"redundant_experts": par.redundant_experts} if par.redundant_experts else {})},
                          fixes=fixes)


class PlacementImbalanced(Rule):
    code = "MOE304"
    requires = frozenset()          # sizes only: runs without an accelerator or a workload
    name = "placement-imbalanced"
    severity = Severity.WARNING
    summary = "expert_placement is more uneven than the expert count requires."
    explanation = """
        The busiest EP rank sets the pace of every MoE layer. A valid
        placement whose largest and smallest ranks differ by more than one
        expert is needlessly uneven; the balanced placement differs by at most
        one.
    """
    bad_example = """
        [parallelism]
        ep = 4
        expert_placement = [20, 12, 16, 16]
    """
    good_example = """
        [parallelism]
        ep = 4
        expert_placement = [16, 16, 16, 16]
    """
    fix_safety = "Safe: the balanced placement keeps ep and the expert count."

    def check(self, ctx):
        moe, par = ctx.plan.model.moe, ctx.plan.parallelism
        placement = par.expert_placement
        if not placement or moe is None or len(placement) != par.ep:
            return
        counts = list(par.expert_counts(moe.num_experts))
        slots = par.expert_slots(moe.num_experts)
        if sum(counts) != slots:
            return  # MOE302's case
        if all(isinstance(p, tuple) for p in placement):
            ids = [i for p in placement for i in p]
            if sorted(set(ids)) != list(range(moe.num_experts)) or len(ids) != slots:
                return
        if max(counts) - min(counts) <= 1:
            return
        best = balanced_counts(slots, par.ep)
        mean = slots / par.ep
        yield self.report(
            "/parallelism/expert_placement",
            f"expert_placement {'-'.join(map(str, counts))} is uneven: the busiest rank holds {max(counts)} experts "
            f"(max/mean {max(counts) / mean:.3f}); balanced is {'-'.join(map(str, best))} ({max(best) / mean:.3f})",
            data={"distribution": counts, "imbalance": round(max(counts) / mean, 3), "balanced": best,
                  "balanced_imbalance": round(max(best) / mean, 3)},
            fixes=[_placement_fix(ctx, f"balance the placement: {'-'.join(map(str, best))}")],
        )


@hookimpl
def deploylint_rules():
    return [ExpertsNotDivisible(), PlacementInvalid(), EpExceedsExperts(), PlacementImbalanced()]
