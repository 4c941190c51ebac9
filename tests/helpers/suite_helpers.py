"""What several test files need to run deploylint: one copy here (tests/conftest.py puts this folder on sys.path,
and nothing else of tests/: the tests import the installed deploylint, never the checkout's folders).

``from suite_helpers import EXE, run_check, run_exe, one``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

#: the installed ``deploylint`` command of the interpreter running the tests
EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def run_check(capsys, *args) -> tuple[int, str, str]:
    """``deploylint check ARGS`` in this process (the cli's main): ``(exit code, stdout, stderr)``."""
    from deploylint.core.frontends.cli import main

    code = main(["check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def run_exe(*args, cwd) -> subprocess.CompletedProcess:
    """``deploylint ARGS`` as a user runs it, a process of its own in ``cwd``, text output."""
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL)


def one(result, code: str):
    """The one diagnostic with ``code`` in an engine result (the assertion lists them all when there is not one)."""
    found = [d for d in result.diagnostics if d.code == code]
    assert len(found) == 1, [(d.code, d.message) for d in result.diagnostics]
    return found[0]
