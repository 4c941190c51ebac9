"""deploylint.core — the engine and the public API for rule plugins.

Plugin authors import everything from here::

    from deploylint.core import Fix, Rule, Severity, hookimpl

The names below are the plugin API, versioned semantically (see
CONTRIBUTING.md, "Stability policy"). Anything not listed in ``__all__`` is
internal and may change in any release.
"""

from __future__ import annotations

from .diagnostics import Applicability, Diagnostic, Edit, Fix, Position, Range, Related, Severity, ValueChange
from .rule import Context, Rule

__version__ = "0.1.0"
PLUGIN_API_VERSION = "1.0"

__all__ = [
    "Accelerator", "Applicability", "Context", "Diagnostic", "Document", "Edit", "Fix", "Position", "Range", "Related", "Rule",
    "Severity", "SourceError", "Span", "NodeSpan", "SpanWriter", "StartupCheck", "StartupProfile", "ValueChange", "hookimpl", "PLUGIN_API_VERSION", "__version__",
]


def __getattr__(name: str):
    # Loaded on first use so that importing the data types stays cheap.
    if name == "hookimpl":
        from .host.hookspecs import hookimpl

        return hookimpl
    if name == "Accelerator":
        from .plan.hardware import Accelerator

        return Accelerator
    if name == "Document":
        from .document import Document

        return Document
    if name in ("Span", "NodeSpan"):
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
