"""The ``deploylint`` command.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 a usage or configuration error (nothing was checked); 3 the run was
incomplete (a plugin or rule failed — DL005 — so findings may be missing).
Third-party plugins run in a worker process, so nothing a plugin does (exit,
hang, print) changes this; only a crash of deploylint itself exits otherwise,
never with 0.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False        # typing itself is not imported: a replayed check never needs it
if TYPE_CHECKING:
    import argparse
    from typing import Sequence

    from ..pipeline.config import Config

# argparse, the configuration and the diagnostics are imported where they are used: a repeated plain check is
# answered before any of them is needed (frontends/replay.py)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
from .replay import FORMATS  # noqa: E402  (the one list; replay imports only os, sys and cache_inputs)


class UsageError(Exception):
    pass


def _codes(value: str) -> list[str]:
    return [c.strip().upper() if c.strip().upper() != "ALL" else "ALL" for c in value.split(",") if c.strip()]


def _check_codes(registries, options: dict[str, list[str]]) -> None:
    """A code or prefix that matches no rule of any registry is a typo: say so instead of silently selecting nothing."""
    known = sorted(set().union(*(registry.known_codes() for registry in registries)))
    for option, values in options.items():
        for value in values:
            if value == "ALL" or any(code.startswith(value) for code in known):
                continue
            import difflib

            prefixes = sorted({c.rstrip("0123456789") for c in known} | set(known))
            close = difflib.get_close_matches(value, prefixes, n=3, cutoff=0.5)
            raise UsageError(f"{option} {value}: no rule has this code or prefix"
                             + (f"; did you mean {', '.join(close)}?" if close else "; `deploylint rules` lists them"))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command``, only that subcommand's parser is built under it.

    One command runs per invocation, and each subparser costs its construction (argparse builds a help
    formatter and translates its texts for every parser): a pre-commit hook's ``deploylint check`` builds
    one, not ten. ``--help``, ``--version`` and a bare path (the implicit ``check``) build them all.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="deploylint",
        description="Lint deployment plans of large models: memory, compute, experts, parallelism and claims.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, build in _SUBCOMMANDS.items():
        if command is None or command == name:
            build(sub)
    return parser


def _check_parser(sub) -> None:
    from ..diagnostics import Severity

    check = sub.add_parser("check", help="check plan files and folders", description="Check plan files and folders.")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    check.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    check.add_argument("--select", type=_codes, help="only these codes or prefixes (comma-separated)")
    check.add_argument("--extend-select", type=_codes, default=[], help="add codes or prefixes to the selection")
    check.add_argument("--ignore", type=_codes, default=[], help="skip these codes or prefixes (comma-separated)")
    check.add_argument("--fail-on", choices=[s.value for s in Severity], help="lowest severity that fails the run (default: warning)")
    check.add_argument("--config", help="use this configuration file instead of searching upward")
    check.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="load a local plugin module (repeatable)")
    check.add_argument("--no-plugin-autoload", action="store_true", help="do not load installed third-party plugins")
    check.add_argument("--allow-local-plugins", action="store_true",
                       help="import the local plugin modules the configuration names (code from the checked repository; "
                            "off by default, see `deploylint trust`)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes")
    check.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff, also apply unsafe fixes")
    check.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    check.add_argument("--no-fixes", action="store_true", help="do not show the fixes offered")
    check.add_argument("--rule-timeout", type=float, help="seconds a rule may run on one file (default 10)")
    check.add_argument("-q", "--quiet", action="store_true", help="print the findings only: no progress line, no summary")
    check.add_argument("--no-cache", action="store_true",
                       help="check every file, neither reading nor writing the result cache (see docs/ci.md)")
    check.add_argument("-j", "--jobs", type=_positive, metavar="N",
                       help="check files in N worker processes (default: one per core for more than a few files; "
                            "1: in this process)")
    _hardware_flags(check)


def _analyze_parser(sub) -> None:
    analyze = sub.add_parser("analyze", help="print the estimate of one plan", description="Print the estimate of one plan.")
    analyze.add_argument("path", metavar="PLAN")
    analyze.add_argument("--format", choices=("text", "json", "html"), default="text")
    analyze.add_argument("--config")
    analyze.add_argument("--plugin", action="append", default=[], metavar="MODULE")
    _hardware_flags(analyze)


def _suggest_parser(sub) -> None:
    suggest = sub.add_parser("suggest", help="rank the feasible layouts on the plan's devices; --apply K writes one",
                             description="Rank the feasible layouts on the plan's devices (the layout search of PAR405).")
    suggest.add_argument("path", metavar="PLAN")
    suggest.add_argument("--top", type=int, metavar="N", help="show the N best (default: all)")
    suggest.add_argument("--objective", choices=("throughput", "latency", "memory"),
                         help="rank by (default: throughput for training, latency for serving)")
    suggest.add_argument("--apply", type=int, metavar="K", help="write the K-th layout into the plan (through the fixer)")
    suggest.add_argument("--format", choices=("text", "json"), default="text")
    suggest.add_argument("--any-savers", action="store_true",
                         help="a training plan that fits: also vary its memory savers (recompute, ZeRO stage, sequence "
                              "parallelism), which PAR405 keeps")
    suggest.add_argument("--config")
    suggest.add_argument("--plugin", action="append", default=[], metavar="MODULE")


def _rules_parser(sub) -> None:
    rules = sub.add_parser("rules", help="list the registered rules")
    rules.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    rules.add_argument("--plugin", action="append", default=[], metavar="MODULE")
    rules.add_argument("--config", help="the configuration whose plugins to include (default: the nearest one above this folder)")


def _rule_parser(sub) -> None:
    rule = sub.add_parser("rule", help="explain one rule")
    rule.add_argument("code")
    rule.add_argument("--plugin", action="append", default=[], metavar="MODULE")
    rule.add_argument("--config")


def _plugins_parser(sub) -> None:
    plugins = sub.add_parser("plugins", help="list the loaded plugins with their versions and rules")
    plugins.add_argument("--plugin", action="append", default=[], metavar="MODULE")
    plugins.add_argument("--config", help="the configuration whose plugins to include (default: the nearest one above this folder)")


def _hardware_parser(sub) -> None:
    hardware = sub.add_parser("hardware", help="list the accelerator catalog")
    hardware.add_argument("--format", choices=("text", "json"), default="text")
    hardware.add_argument("--plugin", action="append", default=[], metavar="MODULE")
    hardware.add_argument("--config")


def _trust_parser(sub) -> None:
    trust = sub.add_parser("trust", help="let a folder's configuration load its local plugin modules",
                           description="Add FOLDER to your trusted folders (a user-level file outside any repository), "
                                       "so that the plugins = [...] its deploylint configuration names are imported.")
    trust.add_argument("folder", nargs="?", metavar="FOLDER")
    trust.add_argument("--list", action="store_true", help="print the trusted folders and the file that holds them")


#: each subcommand's parser, in the order ``deploylint --help`` lists them
_SUBCOMMANDS = {
    "check": _check_parser, "analyze": _analyze_parser, "suggest": _suggest_parser, "rules": _rules_parser,
    "rule": _rule_parser, "plugins": _plugins_parser, "hardware": _hardware_parser, "trust": _trust_parser,
    "schema": lambda sub: sub.add_parser("schema", help="print the plan's JSON schema (for editors)"),
    "lsp": lambda sub: sub.add_parser("lsp", help="run the language server over stdio"),
}


def _positive(value: str) -> int:
    import argparse

    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {n}")
    return n


def _hardware_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("what adapted files do not say (serving commands, launch scripts)")
    group.add_argument("--accelerator", metavar="NAME", help="the accelerator (a `deploylint hardware` name)")
    group.add_argument("--num-devices", type=_positive, metavar="N", help="accelerators in the deployment")
    group.add_argument("--devices-per-node", type=_positive, metavar="N", help="accelerators per node")


def cli_hardware(args) -> dict:
    """The hardware values given on the command line (highest precedence for adapted files)."""
    out = {}
    for key in ("accelerator", "num_devices", "devices_per_node"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv if argv is not None else sys.argv[1:])
    if argv == ["--version"]:        # what argparse's --version gives, without building every parser for it
        from .. import __version__

        print(f"deploylint {__version__}")
        return EXIT_CLEAN
    from .replay import plain_check

    plain = plain_check(argv)       # the plain `check PATH... [--format F]`, read without argparse
    # the first word names the command (options before it are --help and --version, which need every parser)
    args = plain or build_parser(argv[0] if argv and argv[0] in _SUBCOMMANDS else None).parse_args(argv)
    try:
        if plain is not None:
            return _replayed_check(argv, plain)
        if args.version:
            from .. import __version__

            print(f"deploylint {__version__}")
            return EXIT_CLEAN
        command = args.command or "check"
        if args.command is None:
            args = build_parser("check").parse_args(["check", *argv])
        handler = {
            "check": _cmd_check, "analyze": _cmd_analyze, "suggest": _cmd_suggest, "rules": _cmd_rules, "rule": _cmd_rule,
            "plugins": _cmd_plugins, "hardware": _cmd_hardware, "schema": _cmd_schema, "lsp": _cmd_lsp,
            "trust": _cmd_trust,
        }[command]
        return handler(args)
    except (_config_error(), UsageError) as exc:
        print(f"deploylint: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141  # 128 + SIGPIPE, as the shell reports a reader that went away: never "clean"
    except _registry_error() as exc:
        print(f"deploylint: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _config_error():
    from ..pipeline.config import ConfigError

    return ConfigError


def _registry_error():
    from ..host.registry import RegistryError

    return RegistryError


def _registry(plugins: list[str], *, autoload: bool = True, cfg: Config | None = None, allow_local: bool = False,
              budget_s: float | None = None):
    """Installed plugins, ``--plugin`` modules and, when trusted, the ``plugins = [...]`` of ``cfg``.

    A configuration's local modules are code from the repository being checked: they are imported only with
    ``--allow-local-plugins`` or when the user trusts the configuration's folder (``core/host/trust.py``);
    otherwise the registry carries a DL009 notice for every file that configuration governs.
    """
    from ..host.registry import Registry

    config_plugins = [m for m in (cfg.plugins if cfg else []) if m not in plugins]
    notices = []
    if config_plugins and not allow_local:
        from ..host.trust import is_trusted, untrusted

        if not is_trusted(cfg.root):
            notices.append(untrusted(config_plugins, cfg.source, cfg.root))
            config_plugins = []
    module_dirs = [os.getcwd(), *([cfg.root] if config_plugins and cfg.root else [])]
    registry = Registry(budget_s=budget_s).load(autoload=autoload, modules=plugins, module_dirs=module_dirs,
                                                config_modules=config_plugins, config_source=cfg.source if cfg else None)
    registry.notices = notices
    return registry


def _catalog_registry(args):
    """The registry the catalog commands (rules, rule, plugins, hardware) describe: the same one
    ``deploylint check`` would use in this folder (or with ``--config``)."""
    from ..pipeline.config import load_config

    cfg = load_config(args.config) if args.config else load_config(start_dir=os.getcwd())
    return _registry(args.plugin, cfg=cfg)


# -- check -----------------------------------------------------------------------
class _Configs:
    """The configuration of each file: --config, or the nearest one above it (cached per folder).

    The command line's overrides are applied once, when a configuration is first read.
    """

    def __init__(self, explicit: str | None, overrides) -> None:
        from ..pipeline.config import load_config

        self.overrides = overrides
        self.explicit = self._apply(load_config(explicit)) if explicit else None
        self._by_dir: dict[str, Config] = {}
        self._by_source: dict[str | None, Config] = {}

    def __call__(self, path: str) -> Config:
        if self.explicit is not None:
            return self.explicit
        directory = os.path.dirname(os.path.abspath(path))
        if directory not in self._by_dir:
            from ..pipeline.config import load_config

            cfg = load_config(start_dir=directory)
            if cfg.source not in self._by_source:
                self._by_source[cfg.source] = self._apply(cfg)
            self._by_dir[directory] = self._by_source[cfg.source]
        return self._by_dir[directory]

    def _apply(self, cfg: Config) -> Config:
        from ..diagnostics import Severity

        a = self.overrides
        if a.select:
            cfg.select = list(a.select)
        cfg.select = cfg.select + a.extend_select
        cfg.ignore = cfg.ignore + a.ignore
        if a.fail_on:
            cfg.fail_on = Severity.parse(a.fail_on)
        cfg.cli_hardware = cli_hardware(a)
        if a.rule_timeout is not None:
            if not a.rule_timeout > 0:
                raise UsageError("--rule-timeout must be a positive number of seconds")
            cfg.rule_timeout_s = a.rule_timeout
        return cfg


class _Registries:
    """One registry per distinct set of plugins: the installed ones, ``--plugin`` and the file's ``plugins = [...]``.

    A plugin named in ``a/deploylint.toml`` is loaded only for the files that configuration governs. Local
    modules are looked up next to the configuration that names them, so the key includes its folder.
    """

    def __init__(self, cli_plugins: list[str], *, autoload: bool, allow_local: bool = False) -> None:
        self.cli_plugins = list(cli_plugins)
        self.autoload = autoload
        self.allow_local = allow_local
        self._by_key: dict[tuple, object] = {}

    def __call__(self, cfg: Config):
        key = (tuple(cfg.plugins), cfg.root if cfg.plugins else None)
        if key not in self._by_key:
            self._by_key[key] = _registry(self.cli_plugins, autoload=self.autoload, cfg=cfg if cfg.plugins else None,
                                          allow_local=self.allow_local, budget_s=cfg.rule_timeout_s)
        return self._by_key[key]

    def all(self) -> list:
        return list(self._by_key.values())


def _replayed_check(argv: list[str], args) -> int:
    """A plain ``check``: the stored output of the same run with the same inputs, or the check (stored when its
    output depends on nothing but those inputs; see frontends/replay.py)."""
    from . import replay

    key = replay.key(argv, args) if replay.wanted(args) else None
    if key is None:
        return _cmd_check(args)
    stored = replay.get(key)
    if stored is not None:
        code, output = stored
        sys.stdout.write(output)
        return code
    outcome: dict = {}
    out, err = replay.Tee(sys.stdout), replay.Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        code = _cmd_check(args, outcome)
    finally:
        sys.stdout, sys.stderr = out.stream, err.stream
    # the inputs read again: a file or configuration edited during the check is not stored under the old key
    if outcome.get("replayable") and not err.parts and replay.key(argv, args) == key:
        replay.put(key, code, "".join(out.parts))
    return code


def _cmd_check(args, outcome: dict | None = None) -> int:
    """``deploylint check``; ``outcome["replayable"]`` says whether the output depended on nothing but the
    inputs a replay key holds (frontends/replay.py)."""
    from ..pipeline.engine import Engine, discover
    from .progress import Progress

    if args.diff and args.format != "text":
        raise UsageError(f"--diff prints a patch; it does not combine with --format {args.format}")
    configs = _Configs(args.config, args)
    files, problems, candidates = discover(args.paths, configs)
    if problems:
        raise UsageError("; ".join(problems))
    registries = _Registries(args.plugin, autoload=not args.no_plugin_autoload, allow_local=args.allow_local_plugins)
    distinct = list({id(configs(f)): configs(f) for f in files}.values()) or [configs(os.path.join(os.getcwd(), "-"))]
    for cfg in distinct:
        registries(cfg)
    _check_codes(registries.all(), {"--select": args.select or [], "--extend-select": args.extend_select, "--ignore": args.ignore})
    engines: dict[int, Engine] = {}
    results = []
    failing = False
    fixing = args.fix or args.diff
    fixed_total = 0
    progress = Progress(sys.stderr, len(files), enabled=not args.quiet)
    cache = None
    if not (fixing or args.no_cache):    # a fix run checks every file: what it writes must come from a check
        from ..pipeline.cache import ResultCache

        cache = ResultCache()

    def check_one(path: str):
        """(result, diff, fixes applied) of one file."""
        cfg = configs(path)
        engine = engines.get(id(cfg))
        if engine is None:
            # text and github output show which fixes exist; only these need their text edits
            engine = engines[id(cfg)] = Engine(registries(cfg), cfg,   # a threshold no rule owns: ConfigError
                                               render_fixes=fixing or args.format in ("json", "sarif"))
        if fixing:
            from ..pipeline.fixing import fix_file

            outcome = fix_file(engine, path, unsafe=args.unsafe_fixes, write=args.fix and not args.diff,
                               candidate=path in candidates)
            return outcome.result, outcome.diff, outcome.fixed
        if cache is not None:
            result = cache.check(engine, path, candidate=path in candidates)
        else:
            result = engine.check_path(path, candidate=path in candidates)
        if not engine.render_fixes and result.document is not None and result.document.partial:
            # an adapter's file (a launch script, an engine config) may hold no single token for a value: its fixes
            # are rendered so that the report lists only those --fix can write and says why the others are not
            from ..pipeline.engine import render_fixes

            render_fixes(result)
        return result, "", 0

    jobs = _jobs(args.jobs, len(files), registries.all())
    if jobs > 1:
        from .pool import ordered_map

        if cache is not None:
            cache.prepare()
        outcomes = ordered_map(lambda path: _portable(*check_one(path), written=args.format == "json"), files, jobs)
    else:
        outcomes = map(check_one, files)
    for done, path in enumerate(files):
        cfg = configs(path)
        progress.step(done, path)
        result, diff, fixed = next(outcomes)
        if args.diff and diff:
            progress.clear()
            sys.stdout.write(diff)
        fixed_total += fixed
        if not result.claimed:
            continue            # a candidate no source adapter reads: not a plan, left alone
        # after selection and suppression: a repository's own configuration cannot silence it
        result.diagnostics.extend(d.with_(file=path) for d in registries(cfg).notices)
        results.append(result)
        # each file's findings count against its own configuration's fail-on
        # (DL009 counts whatever the repository's own fail-on says: an untrusted run is never clean)
        failing = failing or bool(registries(cfg).notices) or any(d.severity.at_least(cfg.fail_on)
                                                                   for d in result.diagnostics)
    if files and not results and len(candidates) == len(files):
        raise UsageError(f"nothing to check: none of the {len(files)} files found is a plan or a file a source "
                         "adapter reads (a serving command, a launch script, an engine config)")

    progress.clear()
    load_failures = [d for registry in registries.all() for d in registry.failures]
    diagnostics = _unique(load_failures) + [d for r in results for d in r.diagnostics]
    if args.diff:
        # stdout is the patch alone; what the fixes leave (and any refusal) goes to stderr, never unsaid
        _print_text(diagnostics, results, len(results), fixed_total, args, stream=sys.stderr)
    elif args.format == "json":
        from .report.json_report import render

        print(render(diagnostics, len(results), fixed=fixed_total))
    elif args.format == "sarif":
        from .report.sarif import render as render_sarif

        print(render_sarif(diagnostics, [r for registry in registries.all() for r in registry.all_rules()]))
    elif args.format == "github":
        from .report.github import render as render_github

        out = render_github(diagnostics)
        if out:
            print(out)
    else:
        _print_text(diagnostics, results, len(results), fixed_total, args)
    incomplete = bool(load_failures) or any(r.incomplete for r in results)
    if outcome is not None:
        outcome["replayable"] = (cache is not None and not cache.outside_key and jobs == 1 and not incomplete
                                 and all(r.builtin_only() and not r.notices for r in registries.all()))
    if incomplete:
        return EXIT_INCOMPLETE
    if args.diff:
        return EXIT_FINDINGS if fixed_total or failing else EXIT_CLEAN
    return EXIT_FINDINGS if failing else EXIT_CLEAN


#: fewer files than this per core are checked in this process: below it a worker's fork and the results' trip back
#: cost more than the worker saves (measured with bench/run.py's plans; bench/README.md)
POOL_MIN_FILES_PER_CORE = 8


def _jobs(asked: int | None, files: int, registries: list) -> int:
    """How many worker processes check the files (1: this process does).

    Third-party plugins already run in a worker process of the registry (core/host/isolation.py), which a forked
    process cannot share: with one, the files are checked here."""
    if files < 2:
        return 1
    from .pool import available, cores

    if not available() or any(r.hosts_plugins() for r in registries):
        return 1
    if asked is not None:
        return min(asked, files)
    n = cores()
    return n if files >= n * POOL_MIN_FILES_PER_CORE else 1


def _portable(result, diff: str, fixed: int, *, written: bool = False):
    """A worker's outcome as it is sent back (see ``FileResult.portable``); ``written``: its findings as their text
    in the JSON report (``json_report.written``), all a JSON run reads of them."""
    result = result.portable()
    if written:
        from .report.json_report import written as text_of

        result.diagnostics = [text_of(d) for d in result.diagnostics]
    return result, diff, fixed


def _unique(diagnostics: list) -> list:
    """A plugin that fails to load in two registries is one failure, reported once."""
    seen: set = set()
    out = []
    for d in diagnostics:
        key = (d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _print_text(diagnostics, results, files: int, fixed: int, args, stream=None) -> None:
    from .report.text import render_diagnostic, summary_line, use_colour

    stream = stream or sys.stdout
    colour = use_colour(stream)
    lines_by_file = {r.path: (r.document.lines if r.document is not None else _lines(r.text)) for r in results}
    blocks = [render_diagnostic(d, lines_by_file.get(d.file), colour=colour, show_fixes=not args.no_fixes) for d in diagnostics]
    if blocks:
        print("\n\n".join(blocks), file=stream)
    if args.quiet:
        return
    if blocks:
        print(file=stream)
    print(summary_line(diagnostics, files, fixed=fixed), file=stream)


def _lines(text: str | None):
    if text is None:
        return None
    from ..document import LineIndex

    return LineIndex(text)


# -- analyze ---------------------------------------------------------------------
def _cmd_analyze(args) -> int:
    from ..pipeline.config import load_config
    from ..pipeline.engine import Engine
    from .report.text import render_diagnostic

    cfg = load_config(args.config) if args.config else load_config(start_dir=os.path.dirname(os.path.abspath(args.path)))
    cfg.cli_hardware = cli_hardware(args)
    if not os.path.isfile(args.path):
        raise UsageError(f"no such file: {args.path}")
    registry = _registry(args.plugin, cfg=cfg)
    result = Engine(registry, cfg).check_path(args.path)
    if result.analysis is None:
        for d in result.diagnostics:
            print(render_diagnostic(d, result.document.lines if result.document else _lines(result.text)), file=sys.stderr)
        print(f"deploylint: cannot analyze {args.path}: fix the errors above first", file=sys.stderr)
        return EXIT_FINDINGS
    if args.format == "json":
        import json

        print(json.dumps(result.analysis.to_json(), indent=2))
    elif args.format == "html":
        from .report.analysis_html import render_html

        print(render_html(result.analysis, result.plan, result.diagnostics, rules={r.code: r for r in registry.all_rules()}), end="")
    else:
        from .report.analysis_text import render_text

        print(render_text(result.analysis, result.plan, result.diagnostics))
    return EXIT_CLEAN


def _cmd_suggest(args) -> int:
    from ..pipeline.config import load_config
    from .suggest import run

    cfg = load_config(args.config) if args.config else load_config(start_dir=os.path.dirname(os.path.abspath(args.path)))
    if not os.path.isfile(args.path):
        raise UsageError(f"no such file: {args.path}")
    return run(args, _registry(args.plugin, cfg=cfg), cfg)


# -- catalog commands -----------------------------------------------------------------
def _cmd_rules(args) -> int:
    from ..diagnostics import Severity

    registry = _catalog_registry(args)
    rules = registry.all_rules()
    if args.format == "markdown":
        from .report.rules_markdown import render_markdown

        print(render_markdown(registry), end="")
        return EXIT_CLEAN
    if args.format == "json":
        import json

        print(json.dumps([{"code": r.code, "name": r.name, "severity": Severity.parse(r.severity).value, "plugin": r.plugin,
                           "summary": r.summary, "thresholds": dict(r.thresholds or {})} for r in rules], indent=2))
    else:
        width = max(len(r.name) for r in rules)
        for r in rules:
            print(f"{r.code:<8}{r.name:<{width + 2}}{Severity.parse(r.severity).value:<9}{r.summary}")
        core = sum(1 for r in rules if r not in registry.rules)
        print(f"\n{len(rules)} rules ({len(registry.rules)} from {len([p for p in registry.plugins if p.rules])} plugins, "
              f"{core} from the core).")
    _print_failures(registry)
    return EXIT_INCOMPLETE if registry.failures else EXIT_CLEAN


def _cmd_rule(args) -> int:
    from ..rule import describe

    registry = _catalog_registry(args)
    code = args.code.upper()
    rule = registry.rule(code)
    if rule is not None:
        print(describe(rule), end="")
        return EXIT_CLEAN
    import difflib

    close = difflib.get_close_matches(code, sorted(registry.known_codes()), n=3, cutoff=0.5)
    raise UsageError(f"no rule {code}" + (f"; did you mean {', '.join(close)}?" if close else "; `deploylint rules` lists them"))


def _cmd_plugins(args) -> int:
    registry = _catalog_registry(args)
    rows = [(p.name, p.version or "-", p.source, f"FAILED: {p.error}" if p.error else (", ".join(p.rules) or "no rules"))
            for p in registry.plugins]
    widths = [max((len(r[i]) for r in rows), default=0) + 2 for i in range(3)]
    for name, version, source, status in rows:
        print(f"{name:<{widths[0]}}{version:<{widths[1]}}{source:<{widths[2]}}{status}")
    for notice in registry.notices:
        print(f"DL009 {notice.message}", file=sys.stderr)
    _print_failures(registry)
    return EXIT_INCOMPLETE if registry.failures else EXIT_CLEAN


def _cmd_trust(args) -> int:
    from ..host.trust import trust, trust_file, trusted_folders

    if args.list:
        print(f"# {trust_file()}")
        for folder in trusted_folders():
            print(folder)
        return EXIT_CLEAN
    if not args.folder:
        raise UsageError("name the folder to trust (a repository's root), e.g. `deploylint trust .`")
    if not os.path.isdir(args.folder):
        raise UsageError(f"no such folder: {args.folder}")
    real = os.path.realpath(args.folder)
    if real in (os.path.realpath(os.sep), os.path.realpath(os.path.expanduser("~"))):
        raise UsageError(f"refusing to trust {real}: that would trust every repository below it; name the repository")
    path = trust(args.folder)
    print(f"trusted {os.path.realpath(args.folder)} (in {path}): its configuration's local plugins will be imported")
    return EXIT_CLEAN


def _cmd_hardware(args) -> int:
    registry = _catalog_registry(args)
    catalog = registry.accelerators()
    if args.format == "json":
        import dataclasses
        import json

        print(json.dumps({n: dataclasses.asdict(a) for n, a in sorted(catalog.items())}, indent=2))
        return EXIT_CLEAN
    print(f"{'name':<14}{'memory':>9}{'bf16 TF':>9}{'fp8 TF':>8}{'HBM GB/s':>10}{'intra GB/s':>11}{'inter GB/s':>11}  source")
    for name, a in sorted(catalog.items()):
        bf16 = a.peak_for("bf16")
        fp8 = a.peak_for("fp8")
        print(f"{name:<14}{a.memory_gib:>6g} GiB{_num(bf16):>9}{_num(fp8):>8}{_num(a.memory_bandwidth_gbps):>10}"
              f"{_num(a.intra_node_bandwidth_gbps):>11}{_num(a.inter_node_bandwidth_gbps):>11}  {a.source.splitlines()[0] if a.source else ''}")
    return EXIT_CLEAN


def _num(v) -> str:
    return "-" if v is None else f"{v:g}"


def _cmd_schema(args) -> int:
    from ..pipeline.schema import load_schema
    import json

    print(json.dumps(load_schema(), indent=2, ensure_ascii=False))
    return EXIT_CLEAN


def _cmd_lsp(args) -> int:
    try:
        from .lsp import serve
    except ImportError as exc:
        raise UsageError(f"the language server needs pygls: pip install 'deploylint[lsp]' ({exc})") from None
    serve()
    return EXIT_CLEAN


def _print_failures(registry) -> None:
    for d in registry.failures:
        print(f"deploylint: {d.code} {d.message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
