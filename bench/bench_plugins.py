"""What running third-party plugins in the worker process costs.

Third-party plugins are imported and run in a worker process (docs/plugins.md,
"Where your plugin runs"); ``DEPLOYLINT_PLUGINS_IN_PROCESS=1`` runs them in the
deploylint process instead. This measures both ways on the same plugin (one
rule that reports one finding per plan), inside one Python process, so that
the figures are the worker's own and not a shared machine's noise:

* loading: ``Registry().load()`` with the plugin — in the worker this includes
  starting the process, importing deploylint there and the plugin import;
* one plan: ``Engine.check_text()`` of the seed plan — in the worker this
  adds the plan pickled across once and one request per rule.

    python bench/bench_plugins.py                  # 15 loads, 200 checks each way
    python bench/bench_plugins.py --loads 31 --checks 500

Medians are printed (with the minimum); reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAN = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")
SWITCH = "DEPLOYLINT_PLUGINS_IN_PROCESS"

PLUGIN = """\
from deploylint.core import Rule, Severity, hookimpl

class OneFinding(Rule):
    code = "BNCH001"
    name = "one-finding"
    severity = Severity.INFO
    summary = "Reports the plan's device count."

    def check(self, ctx):
        yield self.report("/hardware/num_devices", f"{ctx.plan.hardware.num_devices} devices",
                          data={"devices": ctx.plan.hardware.num_devices})

@hookimpl
def deploylint_rules():
    return [OneFinding()]
"""


def _registry(folder: str, in_process: bool):
    from deploylint.core.host.registry import Registry

    if in_process:
        os.environ[SWITCH] = "1"
    else:
        os.environ.pop(SWITCH, None)
    return Registry().load(modules=["bench_rules"], module_dirs=[folder])


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:9.2f} {min(samples) * 1000:9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--checks", type=int, default=200)
    args = parser.parse_args()
    from deploylint.core.pipeline.config import Config
    from deploylint.core.pipeline.engine import Engine

    folder = tempfile.mkdtemp(prefix="deploylint-bench-")
    try:
        with open(os.path.join(folder, "bench_rules.py"), "w") as fh:
            fh.write(PLUGIN)
        sys.path.insert(0, folder)   # the in-process import is cached after the first load, as in a real run
        text = open(PLAN, encoding="utf-8").read()
        loads = {True: [], False: []}
        checks = {True: [], False: []}
        # the two ways alternate, so that both see the same machine (a shared one changes from second to second)
        for _ in range(args.loads):
            for in_process in (True, False):
                start = time.perf_counter()
                reg = _registry(folder, in_process)
                loads[in_process].append(time.perf_counter() - start)
                assert not reg.failures, [d.message for d in reg.failures]
                reg.close()
        engines = {way: Engine(_registry(folder, way), Config()) for way in (True, False)}
        for _ in range(args.checks):
            for in_process, engine in engines.items():
                start = time.perf_counter()
                result = engine.check_text("plan.toml", text)
                checks[in_process].append(time.perf_counter() - start)
                assert "BNCH001" in {d.code for d in result.diagnostics}
        for engine in engines.values():
            engine.registry.close()
        print(f"{'':<46}{'median ms':>9} {'min ms':>9}")
        print(f"{'load: plugin in-process':<46}{_ms(loads[True])}")
        print(f"{'load: plugin in the worker (process start)':<46}{_ms(loads[False])}")
        print(f"{'check one plan: plugin in-process':<46}{_ms(checks[True])}")
        print(f"{'check one plan: plugin in the worker':<46}{_ms(checks[False])}")
        per_run = statistics.median(loads[False]) - statistics.median(loads[True])
        per_plan = statistics.median(checks[False]) - statistics.median(checks[True])
        print(f"\nworker cost: {per_run * 1000:.1f} ms once per run, {per_plan * 1000:.2f} ms per plan "
              f"({args.loads} loads, {args.checks} checks each way)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
