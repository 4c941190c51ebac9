"""deploylint.core — the engine and the public API for rule plugins.

Plugin authors import everything from here::

    from deploylint.core import Fix, Rule, Severity, hookimpl

The names below are the plugin API, versioned semantically (see
CONTRIBUTING.md, "Stability policy"). Anything not listed in ``__all__`` is
internal and may change in any release.
"""

from __future__ import annotations

__version__ = "0.1.0"
PLUGIN_API_VERSION = "1.0"

__all__ = [
    "Accelerator", "Applicability", "Context", "Derived", "Diagnostic", "Document", "Edit", "Fix", "Position", "Range", "Related", "Rule",
    "Severity", "SourceError", "Span", "NodeSpan", "SpanWriter", "StartupCheck", "StartupProfile", "ValueChange", "hookimpl", "PLUGIN_API_VERSION", "__version__",
]


_DIAGNOSTICS = ("Applicability", "Diagnostic", "Edit", "Fix", "Position", "Range", "Related", "Severity", "ValueChange")


def __getattr__(name: str):
    # Loaded on first use: a command answered before any check (frontends/replay.py) imports this package
    # and none of its types, and importing the data types alone stays cheap.
    if name in _DIAGNOSTICS or name in ("Context", "Rule"):
        from . import diagnostics, rule

        value = globals()[name] = getattr(diagnostics if name in _DIAGNOSTICS else rule, name)
        return value
    if name == "hookimpl":
        from .host.hookspecs import hookimpl

        return hookimpl
    if name == "Accelerator":
        from .plan.hardware import Accelerator

        return Accelerator
    if name == "Document":
        from .document import Document

        return Document
    if name in ("Span", "NodeSpan", "Derived"):
        from . import document

        return getattr(document, name)
    if name == "SpanWriter":
        from .document.writers.span_writer import SpanWriter

        return SpanWriter
    if name in ("StartupCheck", "StartupProfile"):
        from .plan import startup

        return getattr(startup, name)
    if name == "SourceError":
        from .document.sources import SourceError

        return SourceError
    raise AttributeError(f"module 'deploylint.core' has no attribute {name!r}")
