"""The hooks a deploylint plugin may implement (pluggy project name ``deploylint``).

A plugin is any module or object with functions named like these hooks and
marked with ``@hookimpl``. Installed plugins register under the entry-point
group ``deploylint``; local ones load with ``--plugin module`` or
``plugins = [...]`` in the configuration.

Hook versions: this is version 1 of the hook set (``HOOKSPEC_VERSION``). A
hook is never changed incompatibly within a version; new optional hooks may
be added. See CONTRIBUTING.md for the stability policy.
"""

from __future__ import annotations

import pluggy

PROJECT = "deploylint"
HOOKSPEC_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def deploylint_rules():
    """Return the rules this plugin contributes: a list of :class:`deploylint.core.Rule` instances.

    Called once per run. Import heavy modules inside the hook, not at the top
    of the plugin module, so that a run that does not need them stays fast.
    """


@hookspec
def deploylint_accelerators():
    """Return extra accelerator catalog entries: ``{name: Accelerator}``.

    Entries appear in ``deploylint hardware`` and can be named in a plan's
    ``[hardware] accelerator``. A name that is already in the catalog is an
    error naming both owners.
    """


@hookspec(firstresult=True)
def deploylint_source(path, text):
    """Read a plan in a format deploylint does not know; return a Document or None.

    ``path`` is the file's path, ``text`` its content decoded as UTF-8 (BOM
    removed). Return None to let other plugins or the built-in loaders try.
    Raise :class:`deploylint.core.SourceError` for a file of your format that
    cannot be read. Stops at the first non-None result.
    """


@hookspec
def deploylint_configure(config):
    """Receive this run's configuration before any file is checked.

    ``config.plugin_options(name)`` gives the table ``[tool.deploylint.plugins.<name>]``
    (an empty dict when absent).
    """
