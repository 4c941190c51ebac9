"""The progress line of ``deploylint check``: on a terminal's stderr only, never in a pipe, never with --quiet."""

import os
import pty
import select
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SEED = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")


def _plans(folder, n=12):
    text = open(SEED, encoding="utf-8").read()
    for i in range(n):
        (folder / f"plan{i:02d}.plan.toml").write_text(text, encoding="utf-8")
    return folder


def _exe():
    return shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def run_with_terminal_stderr(*args, cwd):
    """Run deploylint with stderr on a pseudo-terminal (stdout a pipe); returns (exit code, stdout, terminal bytes)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([_exe(), *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:          # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out = proc.stdout.read().decode()
    proc.wait()
    os.close(master)
    return proc.returncode, out, seen


def test_many_files_on_a_terminal_show_a_progress_line_that_is_erased(tmp_path):
    folder = _plans(tmp_path)
    code, out, terminal = run_with_terminal_stderr("check", ".", "--no-fixes", cwd=folder)
    assert code == 1
    assert b"deploylint: checking 1/12 " in terminal
    assert terminal.endswith(b"\r\x1b[K")                 # erased before the report
    assert "checking" not in out and "in 12 files" in out   # the report on stdout is untouched


def test_no_progress_line_with_quiet_or_when_stderr_is_not_a_terminal(tmp_path):
    folder = _plans(tmp_path)
    code, _, terminal = run_with_terminal_stderr("check", ".", "--quiet", cwd=folder)
    assert code == 1 and terminal == b""
    piped = subprocess.run([_exe(), "check", "."], cwd=folder, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert piped.returncode == 1 and piped.stderr == ""


def test_one_file_shows_no_progress_line(tmp_path):
    code, _, terminal = run_with_terminal_stderr("check", SEED, cwd=tmp_path)
    assert code == 1 and terminal == b""
