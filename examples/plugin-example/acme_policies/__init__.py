"""ACME's deployment policies, as deploylint rules.

Two rules and one accelerator:

- ACME001 — expert-parallel groups stay inside one node (all-to-all over the
  inter-node network is what ACME's clusters are slowest at);
- ACME002 — production plans use an approved accelerator (a list the team
  sets in ``[tool.deploylint.plugins.acme] approved``);
- ``acme-npu-x1`` — an in-house accelerator entry for the catalog.
"""

from __future__ import annotations

from deploylint.core import Accelerator, Fix, Rule, Severity, hookimpl

__version__ = "1.0.0"

DEFAULT_APPROVED = ("h100-sxm", "h200", "b200", "acme-npu-x1")
_options: dict = {}


class EpWithinNode(Rule):
    code = "ACME001"
    name = "ep-within-node"
    severity = Severity.WARNING
    summary = "Expert-parallel groups should stay inside one node."
    explanation = """
        Every MoE layer sends each token to its experts and back (two
        all-to-alls forward, two backward). Inside a node that traffic rides
        NVLink; across nodes it shares the NIC, which is several times slower.
    """
    bad_example = """
        [hardware]
        devices_per_node = 8
        [parallelism]
        ep = 16
    """
    good_example = """
        [parallelism]
        ep = 8
    """

    def check(self, ctx):
        par, hw = ctx.plan.parallelism, ctx.plan.hardware
        if par.ep > hw.devices_per_node:
            yield self.report(
                "/parallelism/ep",
                f"ep={par.ep} spans {par.ep // hw.devices_per_node} nodes",
                data={"ep": par.ep, "devices_per_node": hw.devices_per_node},
                fixes=[Fix.set("/parallelism/ep", hw.devices_per_node,
                               "keep experts inside a node", applicability="unsafe")],
            )


class ApprovedAccelerator(Rule):
    code = "ACME002"
    name = "approved-accelerator"
    severity = Severity.ERROR
    summary = "Plans must name an accelerator from ACME's approved list."
    explanation = """
        Capacity planning, support contracts and the on-call runbooks cover
        only the approved accelerators. A plan that gives raw figures instead
        of a catalog name, or names another part, cannot be scheduled.
    """
    bad_example = """
        [hardware]
        accelerator = "l40s"
    """
    good_example = """
        [hardware]
        accelerator = "h100-sxm"
    """

    def check(self, ctx):
        approved = tuple(_options.get("approved", DEFAULT_APPROVED))
        name = ctx.plan.hardware.accelerator
        if name in approved:
            return
        if name is None:
            yield self.report("/hardware", "the plan gives raw hardware figures instead of an approved accelerator",
                              data={"approved": list(approved)})
            return
        yield self.report(
            "/hardware/accelerator",
            f"accelerator {name!r} is not approved (approved: {', '.join(approved)})",
            data={"accelerator": name, "approved": list(approved)},
            fixes=[Fix.set("/hardware/accelerator", a, f"use {a}", applicability="display") for a in approved[:1]],
        )


@hookimpl
def deploylint_rules():
    return [EpWithinNode(), ApprovedAccelerator()]


@hookimpl
def deploylint_accelerators():
    return {
        "acme-npu-x1": Accelerator(
            name="acme-npu-x1",
            vendor="ACME",
            memory_gib=96,
            peak_tflops={"bf16": 600.0, "fp16": 600.0, "fp8": 1200.0},
            memory_bandwidth_gbps=4000,
            intra_node_bandwidth_gbps=400,
            inter_node_bandwidth_gbps=50,
            devices_per_node=8,
            source="ACME internal datasheet X1 rev. 3 (example entry)",
        )
    }


@hookimpl
def deploylint_configure(config):
    _options.clear()
    _options.update(config.plugin_options("acme"))
