"""A test kit for rule authors: lint a plan in any format, assert codes and figures, apply fixes.

Installed as a pytest plugin (entry point ``pytest11``), it gives every test
suite the ``deploylint`` fixture::

    def test_ep_spans_nodes(deploylint):
        result = deploylint.lint(PLAN, format="yaml", plugins=["acme_policies"])
        (d,) = result.with_code("ACME001")
        assert d.path == "/parallelism/ep"
        assert d.data["ep"] == 16
        fixed = result.apply_fixes(unsafe=True)
        assert "ACME001" not in deploylint.lint(fixed, format="yaml", plugins=["acme_policies"]).codes

A plan may be given as a dict (rendered into the chosen format) or as text.
Nothing here touches the user's files: plans are linted in memory.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .records import record

if TYPE_CHECKING:  # the engine is imported when a test lints, not when pytest loads this plugin
    from .diagnostics import Diagnostic
    from .host.registry import Registry
    from .pipeline.engine import Engine, FileResult

_SUFFIX = {"toml": ".toml", "yaml": ".yaml", "json": ".json", "python": ".py"}


@record
class LintResult:
    """The outcome of linting one plan, with helpers for assertions."""

    text: str
    format: str
    file: FileResult
    engine: Engine
    path: str

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.file.diagnostics

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    @property
    def analysis(self):
        return self.file.analysis

    @property
    def plan(self):
        return self.file.plan

    def with_code(self, code: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.code == code]

    def one(self, code: str) -> Diagnostic:
        found = self.with_code(code)
        assert len(found) == 1, f"expected exactly one {code}, got {len(found)}: {self.codes}"
        return found[0]

    def apply_fixes(self, *, unsafe: bool = False) -> str:
        """The plan text after the fix loop (safe fixes, plus unsafe ones when asked)."""
        from .pipeline.fixing import fix_text

        new_text, _, _, problems = fix_text(self.engine, self.path, self.text, unsafe=unsafe)
        assert not problems, "fixing reported problems: " + "; ".join(p.message for p in problems)
        return new_text


class Linter:
    """What the ``deploylint`` fixture returns."""

    def __init__(self) -> None:
        self._registries: dict[tuple, Registry] = {}

    def registry(self, plugins: Iterable[Any] = (), *, autoload: bool = True) -> Registry:
        """A registry with the installed plugins plus ``plugins`` (module names or plugin objects)."""
        plugins = tuple(plugins)
        key = (tuple(p if isinstance(p, str) else id(p) for p in plugins), autoload)
        if key not in self._registries:
            from .host.registry import Registry

            reg = Registry()
            for p in plugins:
                if not isinstance(p, str):
                    reg.register_object(p, getattr(p, "__name__", type(p).__name__), source="test")
            reg.load(autoload=autoload, modules=[p for p in plugins if isinstance(p, str)])
            self._registries[key] = reg
        return self._registries[key]

    def lint(
        self,
        plan: Mapping[str, Any] | str,
        *,
        format: str = "toml",
        plugins: Iterable[Any] = (),
        config: Mapping[str, Any] | None = None,
        path: str | None = None,
        autoload: bool = True,
    ) -> LintResult:
        """Lint ``plan`` (a dict or text in ``format``); ``config`` is a ``[tool.deploylint]`` table."""
        text = plan if isinstance(plan, str) else render_plan(plan, format)
        path = path or f"plan{_SUFFIX[format]}"
        from .pipeline.config import Config, config_from_table
        from .pipeline.engine import Engine

        cfg = config_from_table(dict(config)) if config else Config()
        engine = Engine(self.registry(plugins, autoload=autoload), cfg)
        return LintResult(text, format, engine.check_text(path, text), engine, path)


# -- rendering a dict as a plan file -----------------------------------------------
def render_plan(data: Mapping[str, Any], format: str) -> str:
    """A plan dict as text in ``format`` (toml, yaml, json, python)."""
    if format == "json":
        return json.dumps(data, indent=2) + "\n"
    if format == "python":
        return "PLAN = " + _py(data, 0) + "\n"
    if format == "yaml":
        return "".join(_yaml(data, 0))
    if format == "toml":
        return _toml(data)
    raise ValueError(f"unknown format {format!r} (toml, yaml, json, python)")


def _scalar(value: Any, fmt: str) -> str:
    if isinstance(value, bool):
        return {"python": ("True", "False")}.get(fmt, ("true", "false"))[0 if value else 1]
    if value is None:
        return {"python": "None", "yaml": "null"}.get(fmt, "null")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v, fmt) for v in value) + "]"
    if isinstance(value, Mapping):
        if fmt == "toml":
            return "{ " + ", ".join(f"{_toml_key(k)} = {_scalar(v, fmt)}" for k, v in value.items()) + " }"
        return "{" + ", ".join(f"{json.dumps(k)}: {_scalar(v, fmt)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {value!r}")


def _py(value: Any, indent: int) -> str:
    if isinstance(value, Mapping):
        pad = "    " * (indent + 1)
        items = "".join(f"{pad}{json.dumps(k)}: {_py(v, indent + 1)},\n" for k, v in value.items())
        return "{\n" + items + "    " * indent + "}"
    return _scalar(value, "python")


def _yaml(value: Mapping[str, Any], indent: int) -> list[str]:
    out = []
    for k, v in value.items():
        if isinstance(v, Mapping):
            out.append("  " * indent + f"{k}:\n")
            out += _yaml(v, indent + 1)
        else:
            out.append("  " * indent + f"{k}: {_scalar(v, 'yaml')}\n")
    return out


def _toml_key(key: str) -> str:
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml(data: Mapping[str, Any], prefix: str = "") -> str:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
    out = "".join(f"{_toml_key(k)} = {_scalar(v, 'toml')}\n" for k, v in scalars)
    for k, v in tables:
        name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
        body = _toml(v, name)
        out += f"\n[{name}]\n" + body
    return out


# -- the pytest plugin ----------------------------------------------------------
try:
    import pytest
except ImportError:  # pragma: no cover - the kit is only used under pytest
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="session")
    def deploylint() -> Linter:
        """Lint plans in memory: ``deploylint.lint(plan_dict_or_text, format=..., plugins=[...])``."""
        return Linter()
