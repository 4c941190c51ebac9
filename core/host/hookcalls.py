"""The hook calls of a run whose plugins are all deploylint's own modules, made without pluggy.

Importing pluggy (and :mod:`inspect`, which it needs to read signatures)
costs about a bare interpreter start again; a pre-commit hook runs deploylint
on every commit, almost always with the built-in plugins alone. Those are
plain modules of this package whose hook functions are marked with
``@hookimpl`` and none of its options, so calling them needs nothing but the
order pluggy would call them in: registration order for collecting, the
reverse for a first-result hook.

:class:`BuiltinHooks` takes only such plugins. Anything else — another
distribution's plugin, a local module, an object, a hook function with
``tryfirst``/``wrapper``/``specname`` or an argument its hook does not have —
raises :class:`NeedsPluginManager`, and the registry hands every plugin
registered so far, in order, to a pluggy ``PluginManager`` (which also gives
the errors pluggy gives). The same door, either way: the built-in plugins are
found through the same entry points and markers a third party uses.
"""

from __future__ import annotations

import types

from . import hookspecs

#: hook name → the argument names of its specification
SPECS: dict[str, tuple[str, ...]] = {
    name: getattr(hookspecs, name).__code__.co_varnames[:getattr(hookspecs, name).__code__.co_argcount]
    for name in dir(hookspecs) if name.startswith("deploylint_")
}
_MARK = hookspecs.PROJECT + "_impl"
_OPTIONS = ("wrapper", "hookwrapper", "tryfirst", "trylast", "specname")


class NeedsPluginManager(Exception):
    """This plugin needs pluggy's plugin manager (see the module's docstring)."""


class Impl:
    """One hook function of one plugin (what pluggy's ``get_hookimpls()`` gives: ``plugin_name``, ``function``)."""

    __slots__ = ("plugin", "plugin_name", "function", "argnames")

    def __init__(self, plugin, plugin_name: str, function, argnames: tuple[str, ...]) -> None:
        self.plugin, self.plugin_name, self.function, self.argnames = plugin, plugin_name, function, argnames


class BuiltinHooks:
    def __init__(self) -> None:
        self.plugins: list[tuple[object, str]] = []       # (plugin, name) in registration order
        self._impls: dict[str, list[Impl]] = {name: [] for name in SPECS}

    def register(self, plugin, name: str) -> None:
        if not (isinstance(plugin, types.ModuleType) and plugin.__name__.startswith("deploylint.")):
            raise NeedsPluginManager(name)
        if any(p is plugin or n == name for p, n in self.plugins):
            raise NeedsPluginManager(name)    # pluggy refuses a second registration, with its own words
        found = []
        for attr in dir(plugin):
            function = getattr(plugin, attr, None)
            opts = getattr(function, _MARK, None)
            if opts is None:
                continue
            if not isinstance(opts, dict) or not isinstance(function, types.FunctionType) or attr not in SPECS \
                    or any(opts.get(option) for option in _OPTIONS):
                raise NeedsPluginManager(name)
            code = function.__code__
            argnames = code.co_varnames[:code.co_argcount]
            if function.__defaults__ or code.co_kwonlyargcount or not set(argnames) <= set(SPECS[attr]):
                raise NeedsPluginManager(name)
            found.append((attr, Impl(plugin, name, function, argnames)))
        self.plugins.append((plugin, name))
        for hook, impl in found:
            self._impls[hook].append(impl)

    def hook_names(self, plugin) -> set[str]:
        return {hook for hook, impls in self._impls.items() if any(i.plugin is plugin for i in impls)}

    def impls(self, hook: str) -> list[Impl]:
        return list(self._impls[hook])

    def call_first(self, hook: str, **kwargs):
        """The first non-None answer, the last registered plugin asked first (pluggy's order)."""
        for impl in reversed(self._impls[hook]):
            result = impl.function(*[kwargs[a] for a in impl.argnames])
            if result is not None:
                return result
        return None
