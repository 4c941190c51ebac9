"""What the caches of ``check`` key on outside the checked file, read without loading the engine.

Shared by the result cache (:mod:`.cache`) and the replay of a repeated
command line (:mod:`deploylint.core.frontends.replay`), which answers before
any configuration is parsed or plugin loaded: this module imports nothing
but ``os`` and ``sys``, so that answer costs little more than the interpreter.
"""

from __future__ import annotations

import os
import sys

ENV = "DEPLOYLINT_CACHE_DIR"

try:   # BLAKE2 without hashlib's OpenSSL start-up (about 10 ms: a pre-commit run of one file would feel it)
    from _blake2 import blake2b as blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b as blake2b


def cache_dir(environ=None) -> str:
    """The folder of the cache: DEPLOYLINT_CACHE_DIR, else $XDG_CACHE_HOME/deploylint, else ~/.cache/deploylint."""
    env = os.environ if environ is None else environ
    if env.get(ENV):
        return env[ENV]
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "deploylint")


_SOURCES: list[str] = []
_INSTALLED: list[list] = []


def installed() -> list:
    """Every distribution installed where this interpreter imports from: the name and change time of each
    ``*.dist-info`` / ``*.egg-info`` / ``.pth`` entry of each ``sys.path`` folder. Installing, upgrading,
    reinstalling at the same version or removing any package — deploylint itself, a plugin, PyYAML,
    jsonschema — changes it, and with it every key. One listing per folder and one stat per entry."""
    if _INSTALLED:
        return _INSTALLED[0]
    out = []
    for folder in sys.path:
        try:
            with os.scandir(folder or ".") as it:
                for entry in it:
                    if entry.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")):
                        try:
                            out.append([folder, entry.name, entry.stat().st_mtime_ns])
                        except OSError:
                            out.append([folder, entry.name, None])
        except OSError:      # a zip file, a folder that does not exist
            continue
    out.sort()
    _INSTALLED.append(out)
    return out


def forget_installed() -> None:
    """Read what is installed again on the next :func:`installed` (a long-lived process may see installs)."""
    _INSTALLED.clear()


def sources() -> str:
    """A hash of the built-in modules' source files when deploylint runs from a source checkout (editable
    install), else "" (an installed release is named by its version and its metadata's change time)."""
    if _SOURCES:
        return _SOURCES[0]
    core = os.path.dirname(os.path.abspath(sys.modules["deploylint.core"].__file__))
    if {"site-packages", "dist-packages"} & set(core.split(os.sep)):
        # one distribution installs core, plugins and schemas together: a release, named by its version
        _SOURCES.append("")
        return ""
    import deploylint.plugins
    import deploylint.schemas

    folders = [core] + [os.path.dirname(os.path.abspath(m.__file__)) for m in (deploylint.plugins, deploylint.schemas)]
    h = blake2b(digest_size=32)
    for folder in folders:
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                if name.endswith((".py", ".json")):
                    full = os.path.join(root, name)
                    h.update(os.path.relpath(full, folder).encode("utf-8", "surrogatepass") + b"\0")
                    with open(full, "rb") as fh:
                        h.update(fh.read())
                    h.update(b"\0")
    _SOURCES.append(h.hexdigest())
    return _SOURCES[0]


def write_entry(final: str, payload: bytes) -> bool:
    """Write a cache entry under a temporary name and rename it into place (a reader sees all of it or none);
    False when it could not be written (a full disk, a read-only folder: a cache is only ever a shortcut)."""
    temporary = f"{final}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(final), exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(temporary, final)
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
