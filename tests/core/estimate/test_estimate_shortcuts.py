"""The estimator's shortcuts give what the long way gives, figure for figure.

What an estimate keeps between calls — the stages of a pipeline depth (``stage_layers``), the sums over a model's
layers that ``ParamCounts`` keeps once, the figures of one device repeated for the devices of its stage and EP rank
when every device is estimated — is checked here against the same quantity worked out directly, over a range of
models and layouts drawn by hypothesis (feasible or not: stages short of devices, stages past the last device, more
EP ranks than a stage has devices, uneven expert placements). A shortcut can never hand out a stale figure: each
answer below is compared with the one computed without it.
"""

from hypothesis import given, settings, strategies as st

from deploylint.core.estimate.layout import stage_layers
from deploylint.core.estimate.memory import MemoryEstimate, distinct_devices, estimate_memory, representative_devices
from deploylint.core.estimate.params import count_params
from deploylint.core.plan import Hardware, Model, MoE, Parallelism, Plan, Training, Workload

H100 = dict(memory_gib=80, peak_tflops=989.4, memory_bandwidth_gbps=3350, devices_per_node=8,
            intra_node_bandwidth_gbps=450, inter_node_bandwidth_gbps=50)


def _even_split(layers: int, pp: int) -> list[range]:
    """The stages as the docstring of stage_layers says: as even as possible, the earlier stages taking the rest."""
    sizes = [layers // pp + (1 if s < layers % pp else 0) for s in range(pp)]
    return [range(sum(sizes[:s]), sum(sizes[:s + 1])) for s in range(pp)]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 130), st.integers(1, 20), st.one_of(st.none(), st.lists(st.integers(0, 30), max_size=8)))
def test_stage_layers_asked_again_gives_the_stages_worked_out_directly(layers, pp, split):
    split = tuple(split) if split is not None else None
    if split and len(split) == pp and sum(split) == layers:
        expected = [range(sum(split[:s]), sum(split[:s + 1])) for s in range(pp)]
    else:
        expected = _even_split(layers, pp)
    assert list(stage_layers(layers, pp, split)) == expected
    assert list(stage_layers(layers, pp, list(split) if split else split)) == expected   # asked again, another type


MODELS = st.builds(
    lambda layers, h, moe, dense, freq, experts, k, shared: Model(
        layers=layers, hidden_size=h, num_attention_heads=8, vocab_size=32000, num_kv_heads=8, head_dim=h // 8,
        ffn_hidden_size=4 * h,
        moe=MoE(num_experts=experts, top_k=min(k, experts), expert_ffn_hidden_size=h, dense_layers=dense,
                layer_frequency=freq, shared_expert_ffn_hidden_size=shared * h, router_bias=bool(freq % 2))
        if moe else None),
    st.integers(1, 24), st.sampled_from([256, 512, 1024]), st.booleans(), st.integers(0, 4), st.integers(1, 3),
    st.integers(1, 16), st.integers(1, 4), st.integers(0, 2))


@settings(max_examples=100, deadline=None)
@given(MODELS)
def test_the_sums_a_param_count_keeps_are_the_sums_over_its_layers(model):
    counts = count_params(model)
    layers = counts.layers
    for _ in range(2):      # the first call fills what the second one reads
        assert counts.router_params == sum(l.router for l in layers)
        assert counts.routed_active_params == sum(l.top_k * l.expert for l in layers)
        assert counts.first_expert_params == next((l.expert for l in layers if l.is_moe), 0)
        for start in range(len(layers) + 1):
            for stop in range(start, len(layers) + 1):
                held = layers[start:stop]
                assert counts.moe_span(range(start, stop)) == (sum(1 for l in held if l.is_moe),
                                                               sum(l.expert for l in held))


LAYOUTS = st.builds(
    lambda tp, pp, dp, cp, ep, etp, extra, placement, mode, zero, mbs: (
        Parallelism(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, etp=etp, zero_stage=zero, micro_batch_size=mbs,
                    expert_placement=placement[:ep] if placement and len(placement) >= ep else None),
        tp * pp * dp * cp + extra, mode),
    st.sampled_from([1, 2, 4]), st.integers(1, 6), st.integers(1, 6), st.sampled_from([1, 2]), st.integers(1, 8),
    st.sampled_from([1, 2]), st.integers(-5, 5), st.one_of(st.none(), st.lists(st.integers(0, 6), min_size=1, max_size=8)),
    st.sampled_from(["training", "inference"]), st.integers(0, 3), st.sampled_from([1, 2]))


def _plan(model, layout, dualpipe):
    par, devices, mode = layout
    return Plan(1, model, Hardware(max(1, devices), **H100), par,
                Workload(mode, batch_size=48, seq_len=2048, output_len=0 if mode == "training" else 64),
                training=Training(pipeline_schedule="dualpipe" if dualpipe else "1f1b"))


@settings(max_examples=200, deadline=None)
@given(MODELS, LAYOUTS, st.booleans())
def test_every_device_estimated_at_once_is_each_device_estimated_on_its_own(model, layout, dualpipe):
    plan = _plan(model, layout, dualpipe)
    devices = plan.hardware.num_devices
    counts = count_params(model)
    whole = estimate_memory(plan, counts)
    # the device-by-device way: each device named, so no figure is repeated from another device's
    alone = [estimate_memory(plan, counts, [i]).devices[0] for i in range(devices)]
    assert list(whole.devices) == alone
    # the busiest device and whether all fit, which the whole estimate reads from the devices it computed
    fresh = MemoryEstimate(tuple(alone))
    assert whole.busiest == fresh.busiest and whole.busiest.index == fresh.busiest.index
    assert whole.fits == fresh.fits
    assert whole.imbalance == fresh.imbalance


@settings(max_examples=200, deadline=None)
@given(MODELS, LAYOUTS, st.booleans(), st.floats(0.0, 1.5))
def test_one_device_per_stage_and_experts_held_is_what_the_distinct_estimate_keeps(model, layout, dualpipe, limit):
    """The layout search and the one-of-each-kind estimate name one device per stage and number of experts held
    (distinct_devices), not one per stage and EP rank (representative_devices): the same estimate, also when it stops
    at the first device past a limit."""
    plan = _plan(model, layout, dualpipe)
    par, n = plan.parallelism, plan.hardware.num_devices
    counts = count_params(model)
    experts = model.moe.num_experts if model.moe else 0
    fewer, every = distinct_devices(par, n, experts), representative_devices(par, n)
    assert set(fewer) <= set(every) and fewer == sorted(fewer)
    stop = limit * estimate_memory(plan, counts).busiest.total
    for stop_above in (None, stop):
        memo_a, memo_b = {}, {}
        a = estimate_memory(plan, counts, fewer, distinct=True, stop_above=stop_above, memo=memo_a)
        b = estimate_memory(plan, counts, every, distinct=True, stop_above=stop_above, memo=memo_b)
        assert a == b and a.busiest.index == b.busiest.index
        # and a memo filled by another layout's estimate gives the figures an empty one gives
        assert estimate_memory(plan, counts, fewer, distinct=True, stop_above=stop_above, memo=_filled(model)) == a


def _filled(model):
    """A search's memo after other layouts of the model (other depths, widths, batches) were estimated with it."""
    memo: dict = {}
    counts = count_params(model)
    for tp, pp, dp, mode in ((1, 1, 8, "inference"), (2, 2, 2, "training"), (4, 3, 1, "inference"), (1, 4, 2, "training")):
        other = _plan(model, (Parallelism(tp=tp, pp=pp, dp=dp), tp * pp * dp, mode), False)
        estimate_memory(other, counts, distinct_devices(other.parallelism, tp * pp * dp, 0), distinct=True, memo=memo)
    return memo
