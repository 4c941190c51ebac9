"""The core's own rules, DL001–DL011: the document-level problems the pipeline itself reports.

They are :class:`~deploylint.core.rule.Rule` objects like any plugin's — code, name, severity, summary,
explanation, examples — so ``deploylint rules``, ``deploylint rule DL006``, docs/rules.md and the SARIF
rule metadata describe them the same way. They have no ``check``: the loaders, the schema, resolution,
suppressions, the fixer and the plugin host emit them, each through :func:`core_diagnostic`, so the severity
declared here is the one every output shows (text, JSON, SARIF, GitHub, the language server).
"""

from __future__ import annotations

from typing import Any, Iterable

from ..diagnostics import Diagnostic, Fix, Range, Severity
from ..rule import Rule

#: the plugin name the core's rules and diagnostics carry
CORE_PLUGIN = "deploylint.core"


class ParseError(Rule):
    code = "DL001"
    name = "parse-error"
    severity = Severity.ERROR
    summary = "The file cannot be read as a plan (syntax error, bad encoding, not a literal)."
    explanation = """
        Nothing else can be checked in a file that does not parse, so this is
        reported alone, at the line and column where reading stopped, in
        deploylint's own words whatever parser sits underneath. It covers
        syntax errors, text that is not UTF-8, files too deeply nested or too
        large to read safely, and Python plans whose PLAN is not a plain
        literal (plans are read statically and never executed).
    """
    bad_example = """
        [parallelism]
        tp = = 4
    """
    good_example = """
        [parallelism]
        tp = 4
    """


class SchemaViolation(Rule):
    code = "DL002"
    name = "schema-violation"
    severity = Severity.ERROR
    summary = "A value has the wrong type, is out of range, or a required key is missing."
    explanation = """
        The plan format (docs/plan-format.md, `deploylint schema`) fixes the
        type and range of every key. A value outside it would make every
        estimate built on it meaningless, so the plan is not analysed until it
        is corrected; the message names the key, what was found and what is
        allowed.
    """
    bad_example = """
        [parallelism]
        tp = 0
    """
    good_example = """
        [parallelism]
        tp = 2
    """


class UnknownKey(Rule):
    code = "DL003"
    name = "unknown-key"
    severity = Severity.ERROR
    summary = "A key the plan format does not know; usually a typo (a did-you-mean fix is offered)."
    explanation = """
        A misspelt key is silently ignored by most tools, so the setting the
        author meant never takes effect and the default is used instead. The
        key is reported where it is written, with the closest known key as a
        rename fix; the rest of the plan is still checked without it.
    """
    bad_example = """
        [parallelism]
        tensor_parallel = 4
    """
    good_example = """
        [parallelism]
        tp = 4
    """


class UnresolvedReference(Rule):
    code = "DL004"
    name = "unresolved-reference"
    severity = Severity.ERROR
    summary = "An accelerator name or a Hugging Face config.json that cannot be resolved."
    explanation = """
        A plan may name a catalog accelerator (`deploylint hardware` lists
        them) or import its model from a config.json with `from`. When the name
        is not in the catalog or the file cannot be read and mapped, the
        figures that depend on it are unknown, so the plan is not analysed;
        the message says which name or file and, for names, the closest
        catalog entries.
    """
    bad_example = """
        [hardware]
        accelerator = "h100-sxn"
    """
    good_example = """
        [hardware]
        accelerator = "h100-sxm"
    """


class PluginFailure(Rule):
    code = "DL005"
    name = "plugin-failure"
    severity = Severity.ERROR
    summary = "A plugin or rule failed (import error, exception, bad output, time budget); the run is incomplete."
    explanation = """
        A plugin that fails to import, a rule that raises, returns something
        that is not a diagnostic, or runs past its time budget would otherwise
        make a run look cleaner than it is. Each such failure is one DL005
        naming the plugin and the rule; every other rule still runs, the
        selection cannot hide it, and the exit code is 3 (incomplete).
    """
    bad_example = """
        # deploylint check plans/ --plugin acme_rules
        # where acme_rules raises in its check(): DL005 names acme_rules
    """
    good_example = """
        # deploylint check plans/ --plugin acme_rules
        # where every rule of acme_rules returns diagnostics or nothing
    """


class Suppression(Rule):
    code = "DL006"
    name = "suppression"
    severity = Severity.WARNING
    summary = "A suppression comment names an unknown code or suppresses nothing."
    explanation = """
        A suppression that names a code no rule has is usually a typo, and one
        that silences nothing is stale: the problem it hid was fixed, and the
        comment will now hide the next, different finding on that line. Both
        are reported where the comment is written, so suppressions stay few
        and each one still means something.
    """
    bad_example = """
        [parallelism]
        ep = 8  # deploylint: ignore[MOE399]
    """
    good_example = """
        [parallelism]
        ep = 3  # deploylint: ignore[MOE301] -- uneven experts accepted for this test rig
    """


class FixFailure(Rule):
    code = "DL007"
    name = "fix-failure"
    severity = Severity.ERROR
    summary = "A fix could not be applied safely, or fixing did not converge."
    explanation = """
        `--fix` re-checks the plan after every round and never keeps a fix
        that would make it unreadable or invalid, nor loops forever on fixes
        that undo each other. When a fix is refused, fixing stops without
        converging, or the file changed on disk while it was being fixed, the
        plan is left as it was for that fix and this names the fix and why.
    """
    bad_example = """
        # a plugin's fix sets parallelism.tp = 0, which the plan format forbids:
        # deploylint check --fix reports DL007 and leaves tp as it was
    """
    good_example = """
        # fixes that keep the plan valid are applied and re-checked
    """


class MissingHardwareFigure(Rule):
    code = "DL008"
    name = "missing-hardware-figure"
    severity = Severity.INFO
    summary = "A bound was skipped because a hardware figure it needs is missing."
    explanation = """
        The communication bound needs the link bandwidths of the devices. A
        custom accelerator described without them still gets its memory and
        compute checks, but the communication part of the roofline is skipped
        rather than guessed; this says which figure to add (or which catalog
        accelerator has it). It is information, not a problem in the plan.
    """
    bad_example = """
        [hardware]
        num_devices = 16
        devices_per_node = 8
        memory_gib = 80
        peak_tflops = 989
        memory_bandwidth_gbps = 3350
    """
    good_example = """
        [hardware]
        num_devices = 16
        devices_per_node = 8
        memory_gib = 80
        peak_tflops = 989
        memory_bandwidth_gbps = 3350
        intra_node_bandwidth_gbps = 450
        inter_node_bandwidth_gbps = 50
    """


class LocalPluginsNotTrusted(Rule):
    code = "DL009"
    name = "local-plugins-not-trusted"
    severity = Severity.WARNING
    summary = ("The configuration names local plugin modules that were not run: they are "
               "code from the checked repository (allow with --allow-local-plugins or `deploylint trust`).")
    explanation = """
        A `plugins = [...]` entry in a repository's configuration is Python
        code from that repository; checking a pull request must not run it
        unasked. Such modules are imported only with --allow-local-plugins or
        after `deploylint trust FOLDER`; otherwise every file that
        configuration governs gets this notice, so a run without the team's
        policy rules never looks as if they had passed. The repository itself
        cannot silence it.
    """
    bad_example = """
        # deploylint.toml of the checked repository
        plugins = ["acme_policy"]
        # deploylint check plans/  -> DL009: acme_policy was not run
    """
    good_example = """
        # deploylint trust .   (once, by the user), or:
        # deploylint check plans/ --allow-local-plugins
    """


class FilledValue(Rule):
    code = "DL010"
    name = "filled-value"
    severity = Severity.INFO
    summary = ("A value the file does not state was filled in (command line, configuration, inferred from the file), "
               "or a part of the file was not read; says where from.")
    explanation = """
        A serving command or a launch script names the layout but rarely the
        accelerator, the device count or the load. deploylint fills what is
        missing from --accelerator/--num-devices/--devices-per-node, then
        [tool.deploylint.hardware]/[tool.deploylint.workload] (per file glob
        or for every file), then what the file implies (GPUs the pods
        request, GPU node labels); the model of a file that names none (a
        ds_config) from [tool.deploylint.models]; and says so for
        every value; a flag it does not read or a variable it cannot resolve is
        named too. Nothing is guessed silently. It is information, not a problem.
    """
    bad_example = """
        vllm serve meta-llama/Llama-3.1-70B -tp 8     # which GPU? (nothing says)
    """
    good_example = """
        deploylint check serve.sh --accelerator h100-sxm
    """


class NotAPlan(Rule):
    code = "DL011"
    name = "not-a-plan"
    severity = Severity.INFO
    summary = "A file named on the command line is neither a plan nor a file a source adapter reads; it was not checked."
    explanation = """
        A plan is named as one (the include patterns: *.plan.toml,
        deploy*.yaml, …) or has the plan format's tables at its top level
        (schema_version, [model], [parallelism], …; a near miss such as
        [paralelism] still counts, and gets its schema findings). A file
        without any of them that
        no source adapter recognises — a Kubernetes Service, a package.json, a
        script that runs no serving engine or trainer — is not reported as a
        broken plan: this one info says so, names the adapters that were
        asked, and nothing else is checked in it. Folder walks leave such
        files alone without a word.
    """
    bad_example = """
        # deploylint check k8s/service.yaml    (a Service: no engine runs in it)
    """
    good_example = """
        # deploylint check k8s/                (the folder: only what is readable is checked)
    """


def _instances() -> tuple[Rule, ...]:
    rules = tuple(cls() for cls in (ParseError, SchemaViolation, UnknownKey, UnresolvedReference, PluginFailure,
                                    Suppression, FixFailure, MissingHardwareFigure, LocalPluginsNotTrusted,
                                    FilledValue, NotAPlan))
    for rule in rules:
        rule.plugin = CORE_PLUGIN
    return rules


#: the core's rules, in code order
CORE_RULES: tuple[Rule, ...] = _instances()
#: code → rule
CORE_CODES: dict[str, Rule] = {rule.code: rule for rule in CORE_RULES}


def core_diagnostic(code: str, message: str, path: str = "", *, range: Range | None = None, fixes: Iterable[Fix] = (),
                    data: dict[str, Any] | None = None) -> Diagnostic:
    """A diagnostic of one of the core's rules, with that rule's name and its one severity."""
    rule = CORE_CODES[code]
    return Diagnostic(code, Severity.parse(rule.severity), message, path, range=range, fixes=tuple(fixes),
                      data=dict(data or {}), rule=rule.name, plugin=CORE_PLUGIN)
