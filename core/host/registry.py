"""Plugin loading: entry points, local modules, rule collection and fault isolation.

Every plugin, the built-in ones included, comes in through the same door: the
entry-point group ``deploylint`` (or ``--plugin module`` / ``plugins = [...]``
for local, uninstalled ones). Each plugin is imported and asked for its rules
on its own, so one broken plugin becomes one DL005 diagnostic naming it, and
every other plugin still runs. Two plugins claiming the same rule code is a
load-time error naming both: silently dropping one would hide a policy.

Plugins of the ``deploylint`` distribution itself run in this process; every
other one (another distribution's entry point, a ``--plugin`` or configured
module) is imported and run in the plugin worker process (:mod:`.isolation`),
behind a proxy registered under its name, so that nothing it does — exit,
hang, print — can end, stall or corrupt the run.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

from ..records import record, field
from . import hookspecs
from .hookcalls import BuiltinHooks, NeedsPluginManager
from ..diagnostics import Diagnostic, Severity
from ..rule import CODE_PATTERN, NAME_PATTERN, THRESHOLD_PATTERN, Rule
from .validation import BadOutput, exception_text, one_line
# the core's own rules (DL001–DL009) are Rule objects in core_rules; re-exported for the host's callers
from .core_rules import CORE_CODES, CORE_PLUGIN, CORE_RULES, core_diagnostic

GROUP = "deploylint"
#: the distribution whose plugins run in-process (deploylint's own); every other one runs in the worker
DISTRIBUTION = "deploylint"
#: what one plugin may contribute before its hook counts as runaway (an endless generator)
MAX_RULES_PER_PLUGIN = 1000
MAX_ACCELERATORS_PER_PLUGIN = 1000


class RegistryError(Exception):
    """A configuration of plugins that cannot run at all (e.g. two plugins claim one code)."""


@record
class PluginInfo:
    name: str
    version: str
    source: str                       # "entry point <dist>" or "--plugin" / "config"
    rules: list[str] = field(default_factory=list)
    error: str | None = None
    module: str = ""                  # the module the plugin was imported from (the result cache keys its files)


class Registry:
    """The loaded plugins, their rules and accelerators, and what failed to load."""

    def __init__(self, *, budget_s: float | None = None) -> None:
        """``budget_s``: seconds a third-party plugin's import and hooks may take (default: the rule timeout's)."""
        if budget_s is None:
            from ..pipeline.config import Config

            budget_s = Config.rule_timeout_s
        self.budget_s = budget_s
        self._worker = None
        #: deploylint's own plugins are called without pluggy until a plugin needs it (see hookcalls.py)
        self._builtin: BuiltinHooks | None = BuiltinHooks()
        self._pm = None
        self.plugins: list[PluginInfo] = []
        self.rules: list[Rule] = []
        self.failures: list[Diagnostic] = []
        self.notices: list[Diagnostic] = []   # DL009: local plugins the caller did not trust (see host/trust.py)
        self._accelerators: dict[str, Any] | None = None
        self._rules_by_code: dict[str, Rule] = {}
        self.configured_with: Any = None
        self._own: set[str] = set()           # the plugins of deploylint's own distribution

    # -- the hooks -----------------------------------------------------------
    @property
    def pm(self):
        """pluggy's PluginManager for these plugins (made, with the plugins registered so far, on first use)."""
        if self._pm is None:
            import pluggy

            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            for plugin, name in self._builtin.plugins:
                pm.register(plugin, name=name)
            self._pm, self._builtin = pm, None
        return self._pm

    def _add(self, plugin, name: str) -> None:
        if self._builtin is not None:
            try:
                return self._builtin.register(plugin, name)
            except NeedsPluginManager:
                pass
        self.pm.register(plugin, name=name)

    def _impls(self, hook: str) -> list:
        """The hook's functions (each with ``plugin_name`` and ``function``), in registration order."""
        if self._builtin is not None:
            return self._builtin.impls(hook)
        return getattr(self.pm.hook, hook).get_hookimpls()

    # -- loading -------------------------------------------------------------
    def load(self, *, autoload: bool = True, modules: Iterable[str] = (), path: list[str] | None = None,
             module_dirs: Iterable[str] = (), config_modules: Iterable[str] = (), config_source: str | None = None) -> "Registry":
        """Load installed plugins (unless ``autoload`` is off) and the named local modules, then collect rules.

        ``modules`` come from the command line (``--plugin``), ``config_modules`` from the ``plugins = [...]``
        of the configuration file ``config_source``. ``module_dirs`` are searched first for the local modules:
        the folders of the configuration files that name them, so a project can keep its policy plugin next
        to its ``deploylint.toml``.
        """
        if autoload and not os.environ.get("DEPLOYLINT_NO_PLUGIN_AUTOLOAD"):
            from .entrypoints import _normalize, entry_points

            for ep in entry_points(GROUP, path):
                source = f"entry point of {ep.dist_name}"
                if _normalize(ep.dist_name) == DISTRIBUTION:
                    self._own.add(ep.value)
                    self._register(ep.value, lambda ep=ep: ep.load(), source, ep.dist_version)
                else:
                    self._register_isolated(ep.value, ep.module, ep.attr, source, ep.dist_version)
        import sys

        modules, config_modules = list(modules), list(config_modules)
        if modules or config_modules:
            from . import isolation

            if isolation.wanted():
                self.worker()   # created (and its modules imported) before a plugin folder goes on sys.path
        added = [d for d in dict.fromkeys(module_dirs) if d and d not in sys.path]
        sys.path[:0] = added
        try:
            for module in modules:
                self.load_module(module, source="--plugin")
            for module in config_modules:
                self.load_module(module, source=f"plugins of {config_source}" if config_source else "configuration")
        finally:
            for d in added:
                if d in sys.path:
                    sys.path.remove(d)
        self._collect_rules()
        return self

    def load_module(self, module: str, *, source: str = "--plugin") -> None:
        self._register_isolated(module, module, None, source, "")

    def register_object(self, obj: Any, name: str, *, source: str = "in-process", version: str = "") -> None:
        """Register an already imported plugin object (tests and embedding applications)."""
        self._register(name, lambda: obj, source, version)

    def _register(self, name: str, loader, source: str, version, module: str = "") -> None:
        """Load and register one plugin; ``version`` is a string, or a function asked once the plugin is loaded."""
        if any(p.name == name for p in self.plugins):
            return
        info = PluginInfo(name, version if isinstance(version, str) else "", source, module=module)
        self.plugins.append(info)
        try:
            obj = loader()
            self._add(obj, name)
        except (Exception, SystemExit) as exc:  # contained: one broken plugin must not stop the others
            info.error = exception_text(exc)
            self.failures.append(plugin_failure(name, None, f"plugin {name!r} ({source}) failed to load: it {info.error}"))
            return
        if callable(version):
            info.version = version()
        problem = self._hook_problem(obj)
        if problem:
            info.error = problem
            self.failures.append(plugin_failure(name, None, f"plugin {name!r} ({source}) {problem}"))

    def _hook_problem(self, obj) -> str | None:
        if self._builtin is not None:
            return self._hook_names_problem(self._builtin.hook_names(obj))
        return self._hook_names_problem({caller.name for caller in (self.pm.get_hookcallers(obj) or [])})

    @staticmethod
    def _hook_names_problem(names: set[str]) -> str | None:
        """A plugin whose hooks are misspelt, or that has none, would otherwise contribute nothing in silence."""
        known = {n for n in dir(hookspecs) if n.startswith("deploylint_")}
        unknown = sorted(names - known)
        if unknown:
            import difflib

            hints = [f"{u} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(u, known, n=1)) else u
                     for u in unknown]
            return f"implements unknown hooks: {', '.join(hints)}; it contributes nothing through them"
        if not names:
            return (f"implements no deploylint hook (mark one of {', '.join(sorted(known))} with @hookimpl); "
                    "it contributes nothing")
        return None

    def _register_isolated(self, name: str, module: str, attr: str | None, source: str, version: str) -> None:
        """A third-party plugin: imported in the worker, registered here as its proxy."""
        import importlib

        from . import isolation

        def load():
            obj = importlib.import_module(module)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
            return obj

        if not isolation.wanted():
            return self._register(name, load, source, version or (lambda: _module_version(module)), module=module)
        if any(p.name == name for p in self.plugins):
            return
        info = PluginInfo(name, version, source, module=module)
        self.plugins.append(info)
        try:
            proxy, found_version, hooks, hook_names = self.worker().load(name, module, attr)
        except isolation.PluginFault as exc:
            info.error = str(exc)
            self.failures.append(plugin_failure(name, None, f"plugin {name!r} ({source}) failed to load: it {exc}"))
            return
        info.version = info.version or found_version
        self.pm.register(proxy, name=name)
        problem = self._hook_names_problem(set(hook_names))
        if problem:
            info.error = problem
            self.failures.append(plugin_failure(name, None, f"plugin {name!r} ({source}) {problem}"))

    def worker(self):
        """The host of this registry's worker process (started on first use)."""
        if self._worker is None:
            from .isolation import WorkerHost

            self._worker = WorkerHost(self.budget_s, lambda plugin, message: self.failures.append(plugin_failure(plugin, None, message)))
        return self._worker

    def builtin_only(self) -> bool:
        """Whether every plugin is one of deploylint's own modules (no other distribution's, no local one)."""
        return self._builtin is not None and not self.failures and all(p.name in self._own for p in self.plugins)

    def is_own(self, plugin: str) -> bool:
        """Whether ``plugin`` is one of deploylint's own modules (loaded from deploylint's own entry points)."""
        return plugin in self._own

    def hosts_plugins(self) -> bool:
        """Whether third-party plugins of this registry run in its worker process."""
        return self._worker is not None and self._worker.hosts_plugins()

    def close(self) -> None:
        """End the worker process, if one was started (it also ends when this process does)."""
        if self._worker is not None:
            self._worker.close()

    def _collect_rules(self) -> None:
        owners: dict[str, str] = {code: CORE_PLUGIN for code in CORE_CODES}
        threshold_owners: dict[tuple[str, str], Rule] = {}
        for impl in self._impls("deploylint_rules"):
            plugin = impl.plugin_name
            info = next((p for p in self.plugins if p.name == plugin), None)
            try:
                rules = bounded_list(impl.function(), MAX_RULES_PER_PLUGIN, "rules")
            except (Exception, SystemExit) as exc:
                self.failures.append(plugin_failure(plugin, None, f"plugin {plugin!r}: deploylint_rules() {exception_text(exc)}"))
                continue
            for rule in rules:
                problem = _rule_problem(rule)
                if problem:
                    self.failures.append(plugin_failure(plugin, None, f"plugin {plugin!r} returned an invalid rule: {problem}"))
                    continue
                if rule.code in owners:
                    raise RegistryError(
                        f"rule code {rule.code} is claimed twice: by {owners[rule.code]!r} and by {plugin!r}; "
                        "uninstall one, or ask its author to choose another code prefix"
                    )
                _claim_thresholds(threshold_owners, rule, plugin)
                owners[rule.code] = plugin
                rule.plugin = plugin
                self.rules.append(rule)
                self._rules_by_code[rule.code] = rule
                if info is not None:
                    info.rules.append(rule.code)
        self.rules.sort(key=lambda r: r.code)

    # -- queries -------------------------------------------------------------
    def rule(self, code: str) -> Rule | None:
        """The rule with ``code``: a plugin's, or one of the core's (DL001–DL008)."""
        code = code.upper()
        return self._rules_by_code.get(code) or CORE_CODES.get(code)

    def all_rules(self) -> list[Rule]:
        """Every rule a run can report: the core's (which the pipeline emits), then the plugins' (``rules``,
        which the engine runs) in code order."""
        return [*CORE_RULES, *self.rules]

    def known_codes(self) -> set[str]:
        return set(self._rules_by_code) | set(CORE_CODES)

    def accelerators(self) -> dict[str, Any]:
        """The catalog: built-in datasheet entries plus those plugins add."""
        if self._accelerators is None:
            from ..plan.hardware import CATALOG

            merged = dict(CATALOG)
            owners = {name: "deploylint.core.plan.hardware" for name in merged}
            for impl in self._impls("deploylint_accelerators"):
                try:
                    found = impl.function() or {}
                    entries = dict(bounded_list(found.items() if isinstance(found, Mapping) else found,
                                                MAX_ACCELERATORS_PER_PLUGIN, "accelerators"))
                except (Exception, SystemExit) as exc:
                    self.failures.append(plugin_failure(impl.plugin_name, None,
                                                        f"plugin {impl.plugin_name!r}: deploylint_accelerators() {exception_text(exc)}"))
                    continue
                for name, acc in entries.items():
                    if name in owners:
                        raise RegistryError(f"accelerator {name!r} is defined twice: by {owners[name]!r} and by {impl.plugin_name!r}")
                    owners[name] = impl.plugin_name
                    merged[name] = acc
            self._accelerators = merged
        return self._accelerators

    def source(self, path: str, text: str, failures: list[Diagnostic] | None = None):
        """The first plugin's Document(s) for a file it reads, or None; a DL005 for each adapter that failed
        goes to ``failures`` (default: this registry's own ``failures``).

        Each adapter is asked in turn (the last registered first, pluggy's order), so one that raises, exits,
        hangs or prints is a DL005 naming it, and the next adapter, or the built-in loader, still reads the file. A
        :class:`~deploylint.core.document.sources.SourceError` is an adapter saying the file is its own and
        broken: it propagates (a DL001 at its position).
        """
        from ..document.sources import SourceError

        failures = self.failures if failures is None else failures
        arguments = {"path": path, "text": text}
        for impl in reversed(self._impls("deploylint_source")):
            try:
                found = impl.function(*[arguments[a] for a in impl.argnames])
            except SourceError:
                raise
            except (Exception, SystemExit) as exc:   # a PluginFault from the worker, or an in-process adapter's
                name = impl.plugin_name
                failures.append(plugin_failure(name, None, f"plugin {name!r}: deploylint_source() {exception_text(exc)} "
                                                           "on this file"))
                continue
            if found is not None:
                return found
        return None

    def source_plugins(self) -> list[str]:
        """The names of the plugins that read files through ``deploylint_source``."""
        return [impl.plugin_name for impl in self._impls("deploylint_source")]

    def configure(self, config: Any) -> None:
        self.configured_with = config
        for impl in self._impls("deploylint_configure"):
            try:
                impl.function(config=config)
            except (Exception, SystemExit) as exc:
                self.failures.append(plugin_failure(impl.plugin_name, None,
                                                    f"plugin {impl.plugin_name!r}: deploylint_configure() {exception_text(exc)}"))


def plugin_failure(plugin: str, rule: str | None, message: str, *, path: str = "") -> Diagnostic:
    """DL005 about ``plugin``; the message (which quotes the plugin's own words) is made one line."""
    return core_diagnostic("DL005", one_line(message), path, data={"plugin": plugin, "rule": rule})


def bounded_list(items: Any, limit: int, what: str) -> list:
    """The items of a hook's answer, stopping after ``limit`` (an endless generator must not fill memory)."""
    import itertools

    if items is None:
        return []
    out = list(itertools.islice(iter(items), limit + 1))
    if len(out) > limit:
        raise BadOutput(f"returned more than {limit} {what} (an endless generator?)")
    return out


def _claim_thresholds(owners: dict[tuple[str, str], Rule], rule: Rule, plugin: str) -> None:
    """Threshold names are unique within a code prefix (``[tool.deploylint.thresholds.MEM]`` is one namespace)."""
    prefix = rule.code.rstrip("0123456789")
    for name in rule.thresholds or {}:
        other = owners.get((prefix, name))
        if other is not None:
            raise RegistryError(
                f"threshold {name!r} is declared by {other.code} (plugin {other.plugin!r}) and by {rule.code} "
                f"(plugin {plugin!r}); in [tool.deploylint.thresholds.{prefix}] it would mean both: rename one")
        owners[(prefix, name)] = rule


def _rule_problem(rule: Any) -> str | None:
    if not isinstance(rule, Rule):
        return f"{rule!r} is not a deploylint.core.Rule instance"
    if not isinstance(rule.code, str) or not CODE_PATTERN.match(rule.code):
        return f"code {rule.code!r} of {type(rule).__name__} is not 1-4 capitals and 3 digits (e.g. ACME001)"
    if rule.code.startswith("DL"):
        return f"code {rule.code} uses the prefix DL, which deploylint's core reserves"
    if not isinstance(rule.name, str) or not NAME_PATTERN.match(rule.name):
        return f"name {rule.name!r} of {rule.code} is not kebab-case"
    try:
        Severity.parse(rule.severity)
    except ValueError as exc:
        return f"{rule.code}: {exc}"
    return _thresholds_problem(rule)


def _thresholds_problem(rule: Rule) -> str | None:
    import math

    thresholds = rule.thresholds
    if thresholds is None:
        return None
    if not isinstance(thresholds, Mapping):
        return f"thresholds of {rule.code} must be a mapping of name to number, got {type(thresholds).__name__}"
    for name, value in thresholds.items():
        if not isinstance(name, str) or not THRESHOLD_PATTERN.match(name):
            return f"threshold {name!r} of {rule.code} is not a lower_snake_case name"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"threshold {name!r} of {rule.code} must default to a finite number, got {value!r}"
    return None


def _module_version(module: str) -> str:
    """A loaded module's ``__version__`` (its own or its top-level package's), else its distribution's version."""
    import sys

    top = module.split(".")[0]
    for name in (module, top):
        version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str) and version:
            return version
    from importlib import metadata

    try:
        dists = metadata.packages_distributions().get(top, [])
        return metadata.version(dists[0]) if dists else ""
    except Exception:  # broken metadata of an unrelated installed package: no version rather than no run
        return ""
