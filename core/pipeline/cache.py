"""The result cache of ``deploylint check``: a file already checked with the same everything is not checked again.

An entry is found by a key that hashes everything a check's result can depend
on: the file's bytes and the path it was given by (findings name it; per-file
ignores match it) with the working folder, the effective configuration (every
field, the command line's overrides included), deploylint's version and the
Python it runs on, the built-in modules' source files when deploylint runs
from a source checkout (an editable install: a developer's edit changes the
key), every distribution installed on ``sys.path`` with the change time of its
metadata (an upgrade or a reinstall at the same version of deploylint, a
plugin or a library such as PyYAML), and each loaded plugin's name, version,
origin and the size and change time of its source files (a plugin installed
in editable mode and edited without a new version). Change any of them
and the key changes: an old entry is never found again, so a result is never
stale.

Some results are not stored, because something outside the key took part:
plans that read another file or the model catalog (``[model] from`` or
``id``: a config.json, the Hugging Face cache), the plans of source adapters
(they look beside the file they read), runs whose check was incomplete (a
DL005: a plugin failed or ran out of time, which may not happen again), and
registries with a plugin that is a local module (its code has no version that
changes with it) or that failed to load.

Entries are JSON files under the cache folder (``DEPLOYLINT_CACHE_DIR``, else
``$XDG_CACHE_HOME/deploylint``, else ``~/.cache/deploylint``), written to a
temporary name and renamed into place, so a reader sees a whole entry or none.
Reading builds only deploylint's own record types (never unpickles), and an
entry that cannot be read back exactly — truncated, edited, of another
version — is a miss: the file is checked and the entry written again.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from typing import Any

from .. import __version__
from ..records import fields
from ..diagnostics import Applicability, Diagnostic, Edit, Fix, Position, Range, Related, Severity, ValueChange
from .cache_inputs import blake2b as _hash, cache_dir, write_entry, forget_installed, installed as _installed, sources as _sources

#: the layout of an entry; a new one makes every old entry a miss
FORMAT = 1

_RECORDS = {cls.__name__: cls for cls in (Diagnostic, Fix, Edit, Range, Position, Related, ValueChange)}
_ENUMS = {cls.__name__: cls for cls in (Severity, Applicability)}


class ResultCache:
    """Results of checked files, by key (see the module's docstring for what goes into a key)."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = os.path.join(directory or cache_dir(), "results", f"v{FORMAT}")
        self._salts: dict[int, str | None] = {}
        #: True once a result of this cache's checks was neither found nor stored (something outside its key
        #: took part): the run's output then depends on more than its inputs (see frontends/replay.py)
        self.outside_key = False
        forget_installed()     # what is installed is read again by each cache (a long-lived process may see installs)

    # -- keys ----------------------------------------------------------------------
    def salt(self, engine) -> str | None:
        """What every key of ``engine``'s checks shares (configuration, plugins, versions), or None: not cached."""
        if id(engine) not in self._salts:
            self._salts[id(engine)] = _salt(engine)
        return self._salts[id(engine)]

    def key(self, engine, path: str, raw: bytes, *, candidate: bool = False) -> str | None:
        salt = self.salt(engine)
        if salt is None:
            return None
        h = _hash(digest_size=32)
        for part in (salt, path, os.path.abspath(path), "candidate" if candidate else "plan"):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
        h.update(raw)
        return h.hexdigest()

    def _file(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key[2:] + ".json")

    # -- a check through the cache ------------------------------------------------------
    def check(self, engine, path: str, *, candidate: bool = False):
        """``engine.check_path(path)``, or the stored result of the same bytes with the same everything."""
        from ..document.sources import SourceError

        try:
            raw = engine.read(path)
        except SourceError:
            self.outside_key = True
            return engine.check_path(path, candidate=candidate)     # which says why it cannot be read
        key = self.key(engine, path, raw, candidate=candidate)
        if key is not None:
            hit = self.get(key)
            if hit is not None:
                return hit
        result = engine.check_bytes(path, raw, candidate=candidate)
        if key is None or not self.put(key, result):
            self.outside_key = True
        return result

    def prepare(self) -> None:
        """Compute now what every key shares across processes (before workers are forked)."""
        _sources()
        _installed()

    # -- entries -------------------------------------------------------------------
    def get(self, key: str):
        """The stored result of ``key``, or None (no entry, or one that cannot be read back exactly)."""
        try:
            with open(self._file(key), "rb") as fh:
                entry = json.loads(fh.read())
            if entry.get("key") != key or entry.get("format") != FORMAT:
                return None
            return _result(entry["result"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return None

    def put(self, key: str, result) -> bool:
        """Store ``result`` under ``key`` unless something outside the key took part in it; True when stored."""
        if not cacheable(result):
            return False
        try:
            payload = json.dumps({"format": FORMAT, "key": key, "result": _encode(_slim(result))},
                                 ensure_ascii=False, allow_nan=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
        except _NotPlain:
            return False
        return write_entry(self._file(key), payload)


def cacheable(result) -> bool:
    """Whether ``result`` depends on nothing but what its key holds (see the module's docstring)."""
    if result.incomplete or any(d.code == "DL005" for d in result.diagnostics):
        return False
    for document in result.documents:
        model = document.data.get("model") if isinstance(document.data, dict) else None
        if document.partial or document.writer is not None or (isinstance(model, dict) and ("from" in model or "id" in model)):
            return False
    return True


_STORED = ("path", "text", "diagnostics", "suppressed", "incomplete", "claimed")


def _slim(result) -> dict:
    """What the reports read of a result (``FileResult.portable``: the documents, plan and estimate are not stored)."""
    portable = result.portable()
    return {name: getattr(portable, name) for name in _STORED}


def _result(stored: dict):
    from .engine import FileResult

    fields = _decode(stored)
    if not isinstance(fields, dict) or set(fields) != set(_STORED) or \
            not all(isinstance(d, Diagnostic) for d in fields["diagnostics"]):
        raise TypeError("not a result")
    return FileResult(**fields)


# -- records as JSON ------------------------------------------------------------------
class _NotPlain(Exception):
    """A value the entry format does not hold exactly: the result is not stored."""


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):          # before str: Severity and Applicability are str enums
        if _ENUMS.get(type(value).__name__) is not type(value):
            raise _NotPlain(type(value).__name__)
        return {"@": type(value).__name__, "v": value.value}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if _RECORDS.get(type(value).__name__) is type(value):
        return {"@": type(value).__name__, "v": [_encode(getattr(value, f.name)) for f in fields(value)]}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        items = [_encode(v) for v in value]
        return items if type(value) is list else {"@": "tuple", "v": items}
    if type(value) is dict:
        return {"@": "dict", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise _NotPlain(type(value).__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind, inner = value["@"], value["v"]
    if kind == "tuple":
        return tuple(_decode(v) for v in inner)
    if kind == "dict":
        return {_decode(k): _decode(v) for k, v in inner}
    if kind in _ENUMS:
        return _ENUMS[kind](inner)
    return _RECORDS[kind](*(_decode(v) for v in inner))


# -- what a key shares ------------------------------------------------------------------
def _salt(engine) -> str | None:
    registry = engine.registry
    if registry.failures:
        return None
    plugins = []
    for p in registry.plugins:
        if p.error or not p.source.startswith("entry point"):   # a local module: its code has no version to key on
            return None
        plugins.append([p.name, p.version, p.source, _code_files(p.module) if p.module else []])
    parts = {
        "format": FORMAT, "deploylint": __version__, "python": sys.version, "sources": _sources(),
        "installed": _installed(),
        "plugins": sorted(plugins), "render_fixes": bool(engine.render_fixes), "cwd": os.getcwd(),
        "config": {f.name: getattr(engine.config, f.name) for f in fields(engine.config)},
    }
    try:
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=_config_value)
    except (TypeError, ValueError):
        return None
    return _hash(text.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def _config_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=repr) if not isinstance(value, tuple) else list(value)
    raise TypeError(type(value).__name__)


def _code_files(module: str) -> list:
    """Size and change time of every source file of a third-party plugin's top-level package, found without
    importing it: a plugin installed in editable mode whose rule is edited, with no new version, misses."""
    from importlib.util import find_spec

    try:
        spec = find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return ["not found"]
    if spec is None:
        return ["not found"]
    files = []
    if spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            for root, dirs, names in os.walk(location):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith((".py", ".json", ".toml", ".yaml"))]
    elif spec.origin:
        files.append(spec.origin)
    out = []
    for name in files:
        try:
            st = os.stat(name)
            out.append([name, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([name, None, None])
    return out
