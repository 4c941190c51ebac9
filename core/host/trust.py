"""Which local plugin modules may run: code from a checked repository runs only when the user says so.

A configuration's ``plugins = [...]`` names Python modules that live in the
repository being checked. Importing them runs that repository's code, so a
pull request could run anything in CI or in the editor of whoever opens it.
They are loaded only when the user allows it, from outside the repository:

* ``deploylint check --allow-local-plugins`` (for one run);
* ``DEPLOYLINT_ALLOW_LOCAL_PLUGINS=1`` in the environment (a CI job that checks
  only its own branches, or a test suite);
* a user-level list of trusted folders, ``$XDG_CONFIG_HOME/deploylint/trust.toml``
  (``~/.config/deploylint/trust.toml``; the ``DEPLOYLINT_TRUST_FILE``
  variable names another file) with ``folders = ["/path/to/repo"]``, which
  ``deploylint trust [FOLDER]`` and the language server's prompt write.

Otherwise the modules are not imported and each file governed by that
configuration gets DL009 naming them and the two ways to allow them, so an
untrusted run never looks as clean as a complete one. Installed plugins
(entry points) and ``--plugin`` modules are the user's own choice and always
load.
"""

from __future__ import annotations

import os

from ..diagnostics import Diagnostic


def trust_file() -> str:
    explicit = os.environ.get("DEPLOYLINT_TRUST_FILE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "deploylint", "trust.toml")


def trusted_folders() -> list[str]:
    """The folders of the user's trust file (an unreadable or malformed file trusts nothing)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(trust_file(), "rb") as fh:
            folders = tomllib.load(fh).get("folders", [])
    except (OSError, ValueError):
        return []
    return [os.path.realpath(f) for f in folders if isinstance(f, str) and f] if isinstance(folders, list) else []


def is_trusted(folder: str | None) -> bool:
    if os.environ.get("DEPLOYLINT_ALLOW_LOCAL_PLUGINS") == "1":
        return True
    if not folder:
        return False
    real = os.path.realpath(folder)
    return any(os.path.commonpath([real, t]) == t for t in trusted_folders())


def trust(folder: str) -> str:
    """Add ``folder`` to the user's trust file; returns the file's path."""
    path = trust_file()
    folders = trusted_folders()
    real = os.path.realpath(folder)
    if real not in folders:
        folders.append(real)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = ["# Folders whose deploylint configuration may load local plugin modules (deploylint trust FOLDER).",
             "folders = ["] + [f"    {_toml_string(f)}," for f in folders] + ["]"]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def untrusted(modules: list[str], source: str | None, root: str | None) -> Diagnostic:
    """DL009: the local plugins a configuration names were not run."""
    from .core_rules import core_diagnostic

    names = ", ".join(modules)
    return core_diagnostic(
        "DL009",
        f"{source or 'the configuration'} names local plugins ({names}) that were not run: they are code "
        "from the repository being checked. Allow them with --allow-local-plugins, or trust the folder "
        f"with `deploylint trust {root or '.'}`",
        data={"plugins": list(modules), "config": source, "trust_file": trust_file()},
    )
