"""Configuration: ``[tool.deploylint]`` in pyproject.toml, or a ``deploylint.toml``.

The nearest configuration file above each plan wins (a pyproject.toml without
a ``[tool.deploylint]`` table does not count). In ``deploylint.toml`` the keys
sit at the top level (a ``[tool.deploylint]`` table is accepted too). An
invalid configuration is an error that names the file, line and key — the
run stops with exit 2 rather than lint with settings the user did not mean.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

from ..records import record, field
from ..diagnostics import Severity
from ..rule import THRESHOLD_PATTERN

DEFAULT_INCLUDE = (
    "*.plan.toml", "*.plan.yaml", "*.plan.yml", "*.plan.json",
    "deploy*.toml", "deploy*.yaml", "deploy*.yml", "deploy*.json", "deploy*.py",
)
#: files a folder walk offers to source adapters (they are checked only if an adapter claims them)
DEFAULT_CANDIDATES = ("*.sh", "*.bash", "*.slurm", "*.sbatch", "*.yaml", "*.yml", "*.json", "*.toml")
CONFIG_FILES = ("deploylint.toml", "pyproject.toml")


class ConfigError(Exception):
    """An invalid configuration, with the place it was found."""


@record
class Config:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    severity: dict[str, Severity] = field(default_factory=dict)
    #: threshold settings by scope: a rule code or code prefix (``CMP201``, ``MEM``), or "" for the bare names
    #: of ``[tool.deploylint.thresholds]`` (the empty prefix: every rule); each maps a threshold name to a number
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)
    plugin_tables: dict[str, dict] = field(default_factory=dict)
    include: list[str] = field(default_factory=lambda: list(DEFAULT_INCLUDE))
    exclude: list[str] = field(default_factory=list)
    model_paths: list[str] = field(default_factory=list)   # folders model.from may read beside the repository
    candidates: list[str] = field(default_factory=lambda: list(DEFAULT_CANDIDATES))
    fail_on: Severity = Severity.WARNING
    rule_timeout_s: float = 10.0
    fix_loop_limit: int = 10
    hardware: dict[str, Any] = field(default_factory=dict)      # [tool.deploylint.hardware]: for plans an adapter reads
    workload: dict[str, Any] = field(default_factory=dict)      # [tool.deploylint.workload]
    models: dict[str, str] = field(default_factory=dict)        # [tool.deploylint.models]: model id → config.json path
    #: the per-file-pattern sub-tables of [tool.deploylint.hardware] / [tool.deploylint.workload] /
    #: [tool.deploylint.models], in the order written: (glob, table); a models table is {"id": …} or {"from": path}
    file_hardware: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    file_workload: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    file_models: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    cli_hardware: dict[str, Any] = field(default_factory=dict)  # --accelerator / --num-devices / --devices-per-node
    max_file_size_mib: float = 16.0    # larger plan files are refused (DL001) before they are read
    source: str | None = None          # the file this configuration came from
    root: str | None = None            # the folder of that file (per-file-ignores are relative to it)

    # -- selection -----------------------------------------------------------
    def is_selected(self, code: str, file: str | None = None) -> bool:
        """Longest matching prefix between select and ignore decides (flake8's rule); ties go to ignore."""
        best_select = _longest_prefix(code, self.select)
        best_ignore = _longest_prefix(code, self.ignore + self._file_ignores(file))
        if best_select < 0:
            return False
        return best_select > best_ignore

    def _file_ignores(self, file: str | None) -> list[str]:
        if not file or not self.per_file_ignores:
            return []
        out: list[str] = []
        for _, codes in self.for_file(list(self.per_file_ignores.items()), file):
            out.extend(codes)
        return out

    def for_file(self, entries: list[tuple[str, Any]], file: str | None) -> list[tuple[str, Any]]:
        """The ``(glob, value)`` entries whose glob matches ``file``, in order: the glob is matched against the
        path relative to the configuration's folder, or against the file name alone."""
        if not file or not entries:
            return []
        rel = os.path.relpath(os.path.abspath(file), self.root or os.getcwd()).replace(os.sep, "/")
        base = os.path.basename(file)
        return [(pattern, value) for pattern, value in entries
                if glob_match(rel, pattern) or glob_match(base, pattern)]

    def severity_for(self, code: str, default: Severity) -> Severity:
        return self.severity.get(code, default)

    def plugin_options(self, name: str) -> dict:
        """The table ``[tool.deploylint.plugins.<name>]`` (empty when absent)."""
        return dict(self.plugin_tables.get(name, {}))

    def matches_include(self, path: str) -> bool:
        base = os.path.basename(path)
        rel = path.replace(os.sep, "/")
        if any(glob_match(base, p) or glob_match(rel, p) for p in self.exclude):
            return False
        return any(glob_match(base, p) or glob_match(rel, p) for p in self.include)

    def matches_candidate(self, path: str) -> bool:
        """A file a folder walk offers to the source adapters (not excluded, not a configuration file)."""
        base = os.path.basename(path)
        rel = path.replace(os.sep, "/")
        if base in CONFIG_FILES or any(glob_match(base, p) or glob_match(rel, p) for p in self.exclude):
            return False
        return any(glob_match(base, p) or glob_match(rel, p) for p in self.candidates)


def glob_match(name: str, pattern: str) -> bool:
    """``fnmatch.fnmatch(name, pattern)``. A pattern whose only wildcard is ``*`` (every default of ``include``,
    ``exclude`` and the candidates) is matched piece by piece: fnmatch compiles a regular expression for each
    pattern, nine of them for the default ``include`` alone, which is about 1% of a cold check."""
    if "?" in pattern or "[" in pattern:
        import fnmatch

        return fnmatch.fnmatch(name, pattern)
    name, pattern = os.path.normcase(name), os.path.normcase(pattern)
    head, *middle, tail = pattern.split("*") if "*" in pattern else (pattern, None)
    if tail is None:
        return name == head
    if len(name) < len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    at, end = len(head), len(name) - len(tail)
    for piece in middle:     # each piece as early as it can be: what is left for the next ones is then the most
        found = name.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def _longest_prefix(code: str, patterns: list[str]) -> int:
    best = -1
    for p in patterns:
        if p == "ALL":
            best = max(best, 0)
        elif code.startswith(p):
            best = max(best, len(p))
    return best


# -- reading -------------------------------------------------------------------
_KEYS = {
    "select": "list of codes or prefixes",
    "extend-select": "list of codes or prefixes",
    "ignore": "list of codes or prefixes",
    "extend-ignore": "list of codes or prefixes",
    "per-file-ignores": "table of glob = [codes]",
    "severity": "table of CODE = error|warning|info|hint",
    "thresholds": "table of [thresholds.CODE] (or prefix) tables of name = number",
    "plugins": "list of module names",
    "include": "list of glob patterns",
    "candidates": "list of glob patterns",
    "exclude": "list of glob patterns",
    "model-paths": "list of folders (relative to this file) that model.from may read besides the plan's repository",
    "fail-on": "error|warning|info|hint",
    "rule-timeout": "seconds (number > 0)",
    "fix-loop-limit": "integer ≥ 1",
    "hardware": "table of [hardware] keys (accelerator, num_devices, devices_per_node, …) for adapted files, "
                "and of \"glob\" = { key = value, … } for the files matching the glob",
    "workload": "table of [workload] keys (mode, batch_size, seq_len, output_len, …) for adapted files, "
                "and of \"glob\" = { key = value, … } for the files matching the glob",
    "models": "table of model id = \"path/to/config.json\", and of \"glob\" = { id = \"org/name\" } or "
              "{ from = \"path/to/config.json\" } naming the model of the files matching the glob",
    "max-file-size-mib": "number of MiB > 0 (default 16): larger plan files are refused unread",
}


def find_config_file(start_dir: str) -> tuple[str, dict] | None:
    """The nearest configuration file at or above ``start_dir``, with its deploylint table."""
    directory = os.path.abspath(start_dir)
    while True:
        for name in CONFIG_FILES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                table = _read_table(candidate)
                if table is not None:
                    return candidate, table
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _read_table(path: str) -> dict | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool", {}).get("deploylint") if isinstance(data.get("tool"), dict) else None
    if os.path.basename(path) == "pyproject.toml":
        return tool
    if tool is not None:
        return tool
    return {k: v for k, v in data.items() if k != "tool"}


def load_config(path: str | None = None, *, start_dir: str | None = None) -> Config:
    """The configuration from ``path``, or the nearest one above ``start_dir``, or the defaults."""
    if path is not None:
        if not os.path.isfile(path):
            raise ConfigError(f"{path}: configuration file not found")
        table = _read_table(path)
        if table is None:
            raise ConfigError(f"{path}: has no [tool.deploylint] table")
        return config_from_table(table, path)
    found = find_config_file(start_dir or os.getcwd())
    if found is None:
        return Config()
    return config_from_table(found[1], found[0])


def config_from_table(table: dict, source: str | None = None) -> Config:
    where = source or "configuration"
    cfg = Config(source=source, root=os.path.dirname(os.path.abspath(source)) if source else None)
    for key, value in table.items():
        if key not in _KEYS:
            import difflib  # only when a suggestion or a diff is needed

            hint = difflib.get_close_matches(key, list(_KEYS), n=1, cutoff=0.6)
            raise ConfigError(
                f"{_where(where, key)}: unknown key {key!r} in [tool.deploylint]"
                + (f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(sorted(_KEYS))}")
            )
    def codes(key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
            raise ConfigError(f"{_where(where, key)}: {key} must be a {_KEYS[key]}, got {value!r}")
        return [c.strip().upper() if c.strip().upper() != "ALL" else "ALL" for c in value]

    if "select" in table:
        cfg.select = codes("select")
    cfg.select += codes("extend-select")
    cfg.ignore = codes("ignore") + codes("extend-ignore")

    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict) or not all(isinstance(v, list) and all(isinstance(c, str) for c in v) for v in pfi.values()):
        raise ConfigError(f"{_where(where, 'per-file-ignores')}: per-file-ignores must be a {_KEYS['per-file-ignores']}")
    cfg.per_file_ignores = {k: [c.upper() for c in v] for k, v in pfi.items()}

    sev = table.get("severity", {})
    if not isinstance(sev, dict):
        raise ConfigError(f"{_where(where, 'severity')}: severity must be a {_KEYS['severity']}")
    for code, level in sev.items():
        try:
            cfg.severity[code.upper()] = Severity.parse(level)
        except ValueError as exc:
            raise ConfigError(f"{_where(where, 'severity')}: severity of {code}: {exc}") from None

    cfg.thresholds = _threshold_settings(table.get("thresholds", {}), where)

    plugins = table.get("plugins", [])
    if isinstance(plugins, dict):
        # [tool.deploylint.plugins.<name>] tables carry plugin options; a `load` list names modules
        cfg.plugin_tables = {k: v for k, v in plugins.items() if isinstance(v, dict)}
        load = plugins.get("load", [])
        plugins = load
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise ConfigError(f"{_where(where, 'plugins')}: plugins must be a {_KEYS['plugins']}, got {plugins!r}")
    cfg.plugins = list(plugins)

    for key in ("include", "exclude", "candidates"):
        if key in table:
            value = table[key]
            if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
                raise ConfigError(f"{_where(where, key)}: {key} must be a {_KEYS[key]}, got {value!r}")
            setattr(cfg, key, list(value))

    if "model-paths" in table:
        value = table["model-paths"]
        if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
            raise ConfigError(f"{_where(where, 'model-paths')}: model-paths must be a {_KEYS['model-paths']}, got {value!r}")
        base = os.path.dirname(os.path.abspath(source)) if source else os.getcwd()
        cfg.model_paths = [os.path.join(base, os.path.expanduser(p)) for p in value]
    for key in ("hardware", "workload"):
        value = table.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{_where(where, key)}: {key} must be a {_KEYS[key]}, got {value!r}")
        setattr(cfg, key, {k: v for k, v in value.items() if not isinstance(v, dict)})
        patterns = []
        for pattern, sub in value.items():
            if not isinstance(sub, dict):
                continue
            nested = [k for k, v in sub.items() if isinstance(v, dict)]
            if nested or not pattern:
                raise ConfigError(f"{_where(where, key)}: {key}.{pattern!r} must be a table of [{key}] keys for the "
                                  f"files matching the glob {pattern!r}, got {sub!r}")
            patterns.append((pattern, dict(sub)))
        setattr(cfg, f"file_{key}", patterns)
    cfg.models, cfg.file_models = _models(table.get("models", {}), where, cfg.root)

    if "fail-on" in table:
        try:
            cfg.fail_on = Severity.parse(table["fail-on"])
        except ValueError as exc:
            raise ConfigError(f"{_where(where, 'fail-on')}: fail-on: {exc}") from None
    if "rule-timeout" in table:
        t = table["rule-timeout"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise ConfigError(f"{_where(where, 'rule-timeout')}: rule-timeout must be {_KEYS['rule-timeout']}, got {t!r}")
        cfg.rule_timeout_s = float(t)
    if "fix-loop-limit" in table:
        n = table["fix-loop-limit"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{_where(where, 'fix-loop-limit')}: fix-loop-limit must be an {_KEYS['fix-loop-limit']}, got {n!r}")
        cfg.fix_loop_limit = n
    if "max-file-size-mib" in table:
        m = table["max-file-size-mib"]
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m < float("inf"):
            raise ConfigError(f"{_where(where, 'max-file-size-mib')}: max-file-size-mib must be a "
                              f"{_KEYS['max-file-size-mib']}, got {m!r}")
        cfg.max_file_size_mib = float(m)
    return cfg


def _models(models: Any, where: str, root: str | None) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """``[tool.deploylint.models]``: ``"org/name" = "path/to/config.json"`` (an id no offline source knows) and
    ``"glob" = { id = "org/name" }`` or ``{ from = "path/to/config.json" }`` (the model of files that name none)."""
    place = _where(where, "models")
    if not isinstance(models, dict):
        raise ConfigError(f"{place}: models must be a {_KEYS['models']}, got {models!r}")
    ids: dict[str, str] = {}
    files: list[tuple[str, dict[str, str]]] = []
    for key, value in models.items():
        if isinstance(value, str) and value:
            ids[key] = value
            continue
        if isinstance(value, dict) and len(value) == 1 and key:
            (kind, named), = value.items()
            if kind in ("id", "from") and isinstance(named, str) and named:
                if kind == "from" and not os.path.isabs(named):
                    named = os.path.join(root or os.getcwd(), os.path.expanduser(named))
                files.append((key, {kind: named}))
                continue
        raise ConfigError(f"{place}: models.{key!r} must be a path of a config.json (for the model id {key!r}) or, "
                          f"for the files matching the glob {key!r}, a table with one key: id = \"org/name\" or "
                          f"from = \"path/to/config.json\"; got {value!r}")
    return ids, files


THRESHOLD_SCOPE = re.compile(r"^[A-Z]{1,4}[0-9]{0,3}$")


def _threshold_settings(thr: Any, where: str) -> dict[str, dict[str, float]]:
    """``[tool.deploylint.thresholds]``: tables per rule code or prefix, or (the older form) bare names."""
    place = _where(where, "thresholds")
    if not isinstance(thr, dict):
        raise ConfigError(f"{place}: thresholds must be a {_KEYS['thresholds']}, got {thr!r}")
    out: dict[str, dict[str, float]] = {}
    for key, value in thr.items():
        if isinstance(value, dict):
            scope = key.strip().upper()
            if not THRESHOLD_SCOPE.match(scope):
                raise ConfigError(f"{place}: thresholds.{key} must be named by a rule code or code prefix (e.g. CMP201, MEM)")
            items = value.items()
        else:
            scope, items = "", [(key, value)]
        for name, number in items:
            label = f"thresholds.{scope + '.' if scope else ''}{name}"
            if not THRESHOLD_PATTERN.match(name):
                raise ConfigError(f"{place}: {label}: a threshold name is lower-case words joined by _ (e.g. utilization_min)")
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise ConfigError(f"{place}: {label} must be a finite number, got {number!r}")
            out.setdefault(scope, {})[name] = number
    return out


def rule_thresholds(rules, config: Config) -> dict[str, dict[str, float]]:
    """Each rule's thresholds (by code): its declared defaults, overridden by the configuration.

    A setting belongs to exactly one rule: ``[thresholds.CMP201]`` to CMP201, ``[thresholds.MEM]`` (a prefix)
    or a bare name to the one rule in that scope declaring the name. A name no rule in its scope declares,
    or one that two rules in its scope declare, is an error naming them; the most specific scope wins.
    """
    out = {rule.code: dict(rule.thresholds or {}) for rule in rules}
    where = config.source or "configuration"
    for scope, values in sorted(config.thresholds.items(), key=lambda item: len(item[0])):
        matching = [rule for rule in rules if rule.code.startswith(scope)]
        table = f"thresholds.{scope}" if scope else "thresholds"
        if not matching:
            import difflib  # only when a suggestion is needed

            close = difflib.get_close_matches(scope, sorted(out), n=1, cutoff=0.6)
            raise ConfigError(f"{_where(where, 'thresholds')}: [{table}]: no loaded rule has the code or prefix {scope}"
                              + (f"; did you mean {close[0]}?" if close else "; `deploylint rules` lists them"))
        for name, value in values.items():
            owners = [rule for rule in matching if name in (rule.thresholds or {})]
            if not owners:
                import difflib  # only when a suggestion is needed

                known = sorted({n for rule in matching for n in (rule.thresholds or {})})
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                raise ConfigError(
                    f"{_where(where, name)}: unknown threshold {name!r} in [{table}]"
                    + (f"; did you mean {close[0]!r}?" if close else
                       f"; {'its thresholds: ' + ', '.join(known) if known else 'no rule there has thresholds'}")
                    + "; `deploylint rules --format json` lists each rule's thresholds")
            if len(owners) > 1:
                named = " and ".join(f"{r.code} (plugin {r.plugin!r})" for r in owners[:2])
                raise ConfigError(
                    f"{_where(where, name)}: threshold {name!r} in [{table}] is declared by {named}: "
                    f"set it in [thresholds.{owners[0].code}] or [thresholds.{owners[1].code}]")
            out[owners[0].code][name] = value
    return out


def locate(source: str, keys: tuple[str, ...]):
    """The :class:`~deploylint.core.Range` of the value at ``keys`` below ``[tool.deploylint]`` (of a
    pyproject.toml) or at the top (of a deploylint.toml) in the configuration file ``source``; None when the file
    cannot be read again or does not hold it."""
    from ..document import pointer as jp

    try:
        stat = os.stat(source)
    except OSError:
        return None
    scanned = _scanned(source, stat.st_mtime_ns, stat.st_size)
    if scanned is None:
        return None
    lines, spans = scanned
    for prefix in ("/tool/deploylint", ""):
        pointer = prefix
        for key in keys:
            pointer = jp.child(pointer, key)
        if pointer in spans:
            return lines.range(spans[pointer].value)
    return None


#: per configuration file, its last version read: (mtime_ns, size) and its line index and spans (or None)
_SCANNED: dict[str, tuple] = {}


def _scanned(source: str, mtime_ns: int, size: int):
    """The configuration file's line index and spans, read and scanned once per version of the file (a folder of
    adapter files asks about the same keys once per file)."""
    version = (mtime_ns, size)
    held = _SCANNED.get(source)
    if held is None or held[0] != version:
        from ..document import LineIndex
        from ..document.sources.toml_source import scan

        try:
            with open(source, encoding="utf-8-sig") as fh:
                text = fh.read()
            held = (version, (LineIndex(text), scan(text)[0]))
        except (OSError, UnicodeDecodeError, ValueError):
            held = (version, None)
        _SCANNED[source] = held
    return held[1]


def _where(source: str, key: str) -> str:
    """``file:line`` of ``key`` in a configuration file, found by a plain text search."""
    try:
        with open(source, encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, 1):
                stripped = line.lstrip()
                if stripped.startswith(key) and stripped[len(key):].lstrip().startswith(("=", ".")):
                    return f"{source}:{number}"
                if stripped.startswith(f'"{key}"'):
                    return f"{source}:{number}"
    except OSError:
        pass
    return source
