"""The accelerator catalog: datasheet transcriptions, and the invariants every entry must keep."""

import pytest

from deploylint.core.hardware import CATALOG, lookup

# name: (memory GiB, dense bf16 TFLOP/s, HBM GB/s) as the vendor datasheet states them (see each entry's `source`)
DATASHEET = {
    "h100-sxm": (80, 989.4, 3350),       # NVIDIA H100 datasheet: BF16 1,979 TFLOPS with sparsity → 989.4 dense; 3.35 TB/s
    "h100-pcie": (80, 756.5, 2000),      # H100 PCIe: 1,513 with sparsity → 756.5; 2 TB/s
    "h200": (141, 989.4, 4800),          # H200 SXM: 141 GB HBM3e, 4.8 TB/s
    "a100-80gb": (80, 312, 2039),        # A100 80GB SXM: BF16 312 (624 with sparsity), 2,039 GB/s
    "a100-40gb": (40, 312, 1555),        # A100 40GB SXM: 1,555 GB/s
    "b200": (180, 2250, 8000),           # DGX B200: 1,440 GB / 8 GPUs, 8 TB/s per GPU
    "mi300x": (192, 1307.4, 5300),       # AMD MI300X: 192 GB HBM3, 5.3 TB/s, FP16/BF16 1,307.4 dense
    "l40s": (48, 362.05, 864),           # NVIDIA L40S: 48 GB GDDR6, 864 GB/s, BF16 362.05 (733 with sparsity)
    "ascend-910b": (64, 320, 1600),      # widely reported figures (Huawei publishes no per-chip datasheet)
}


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_datasheet_figures(name):
    acc = CATALOG[name]
    mem, bf16, hbm = DATASHEET[name]
    assert (acc.memory_gib, acc.peak_for("bf16"), acc.memory_bandwidth_gbps) == (mem, bf16, hbm)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_entry_is_complete_and_cites_a_source(name):
    acc = CATALOG[name]
    assert acc.name == name and acc.source and "https://" in acc.source
    assert acc.memory_gib > 0 and acc.memory_bandwidth_gbps > 0 and acc.devices_per_node >= 1
    assert all(v > 0 for v in acc.peak_tflops.values())
    assert acc.intra_node_bandwidth_gbps and acc.inter_node_bandwidth_gbps
    assert acc.inter_node_bandwidth_gbps <= acc.intra_node_bandwidth_gbps   # the network is never faster than the node's links
    fp8 = acc.peak_for("fp8")
    if fp8 is not None:
        # every vendor here (about) doubles the rate for FP8 (L40S: 733 vs 2 × 362.05 = 724.1)
        assert fp8 == pytest.approx(2 * acc.peak_for("bf16"), rel=0.02)
    assert acc.peak_for("fp16") == acc.peak_for("bf16")


def test_required_entries_and_lookup():
    assert {"h100-sxm", "h100-pcie", "h200", "a100-80gb", "a100-40gb", "b200", "mi300x", "l40s", "ascend-910b"} <= set(CATALOG)
    assert lookup("H100-SXM") is CATALOG["h100-sxm"] and lookup("nope") is None
