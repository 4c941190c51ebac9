"""`--fix` keeps the file's identity: links, hard links, mode and owner survive, and a save made
meanwhile is never overwritten (issue 16)."""

import os
import shutil
import stat
import subprocess
import sys

from deploylint.core.pipeline import fixing
from deploylint.core.pipeline.fixing import write_atomically

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
# the seed with a dp that does not multiply out: PAR401's safe fix writes dp = 3
PLAN = open(os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml"), encoding="utf-8").read().replace(
    "ep = 3", "ep = 3\ndp = 2")


def fix(path, cwd):
    return subprocess.run([EXE, "check", os.path.basename(path), "--fix"], capture_output=True, text=True,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def test_a_symlink_stays_a_link_and_its_target_gets_the_fix(tmp_path):
    real = tmp_path / "real" / "plan.toml"
    real.parent.mkdir()
    real.write_text(PLAN)
    link = tmp_path / "plan.toml"
    link.symlink_to(real)
    fix(link, tmp_path)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "dp = 3" in real.read_text()


def test_hard_links_keep_sharing_the_fixed_text(tmp_path):
    first = tmp_path / "plan.toml"
    first.write_text(PLAN)
    second = tmp_path / "copy-elsewhere.txt"
    os.link(first, second)
    fix(first, tmp_path)
    assert os.stat(first).st_ino == os.stat(second).st_ino
    assert "dp = 3" in second.read_text()


def test_mode_and_owner_are_kept(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(PLAN)
    os.chmod(path, 0o664)
    owner = (12345, 23456) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    if os.geteuid() == 0:
        os.chown(path, *owner)
    fix(path, tmp_path)
    st = os.stat(path)
    assert "dp = 3" in path.read_text()
    assert stat.S_IMODE(st.st_mode) == 0o664 and (st.st_uid, st.st_gid) == owner


def test_a_save_between_reading_and_renaming_wins(tmp_path, monkeypatch):
    # An editor saves while the new text is being written beside the file: the rename is called off.
    path = tmp_path / "plan.toml"
    path.write_bytes(b"schema_version = 1\n")
    real_replace = fixing._replace

    def save_meanwhile(target, shown, directory, st, data):
        with open(target, "ab") as fh:
            fh.write(b"# saved by the editor\n")
        return real_replace(target, shown, directory, st, data)

    monkeypatch.setattr(fixing, "_replace", save_meanwhile)
    error = write_atomically(str(path), b"schema_version = 1\n", b"schema_version = 2\n")
    assert "changed on disk" in error
    assert path.read_bytes() == b"schema_version = 1\n# saved by the editor\n"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".deploylint-tmp")]   # no temporary file left


def test_a_fifo_or_device_is_never_written(tmp_path):
    fifo = tmp_path / "plan.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in write_atomically(str(fifo), b"", b"x = 1\n")
    assert "not a regular file" in write_atomically("/dev/null", b"", b"x = 1\n")
