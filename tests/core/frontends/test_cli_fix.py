"""`deploylint check --fix --unsafe-fixes` on copies of the seed plan in TOML, YAML, JSON and Python,
and the fixing front door's promises: --diff writes nothing, read-only files are refused, CRLF and BOM survive."""

import os
import re
import shutil
import stat

import pytest
from suite_helpers import run_exe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SEEDS = ["seed-moe-64e-3dev.toml", "seed-moe-64e-3dev.yaml", "seed-moe-64e-3dev.plan.json", "deploy_seed_moe_64e_3dev.py"]
SEED_CODES = {"MEM102", "MEM103", "CMP201", "MOE301", "PRF502", "PAR406"}


def codes(out: str) -> set[str]:
    return set(re.findall(r":\d+:\d+: ([A-Z]+\d+) ", out))


@pytest.mark.parametrize("name", SEEDS)
def test_fix_all_on_the_seed_in_every_format(tmp_path, name):
    shutil.copyfile(os.path.join(ROOT, "examples", name), tmp_path / name)
    original = (tmp_path / name).read_bytes()
    assert codes(run_exe("check", name, cwd=tmp_path).stdout) == SEED_CODES
    first = run_exe("check", name, "--fix", "--unsafe-fixes", cwd=tmp_path)
    fixed = (tmp_path / name).read_bytes()
    assert fixed != original and "Fixed" in first.stdout
    after = run_exe("check", name, cwd=tmp_path)
    assert not codes(after.stdout) & SEED_CODES, after.stdout          # the fixed findings are gone
    assert not {c for c in codes(after.stdout) if c.startswith("DL")}  # still a valid plan
    original_comments = re.findall(rb"#[^\r\n]*", original)
    assert all(c in fixed for c in original_comments)                  # comments kept
    second = run_exe("check", name, "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert (tmp_path / name).read_bytes() == fixed and "Fixed" not in second.stdout   # a second run is a no-op


def test_diff_writes_nothing_and_exits_1(tmp_path):
    shutil.copyfile(os.path.join(ROOT, "examples", SEEDS[0]), tmp_path / "plan.toml")
    before = (tmp_path / "plan.toml").read_bytes()
    out = run_exe("check", "plan.toml", "--diff", "--unsafe-fixes", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout.startswith("--- ") and "+ep = 1" in out.stdout
    assert (tmp_path / "plan.toml").read_bytes() == before


def test_diff_never_hides_findings_or_reports_a_broken_plan_as_clean(tmp_path):
    (tmp_path / "bin.plan.toml").write_bytes(b"schema_version = 1\n\xff\xfe\n")
    out = run_exe("check", "bin.plan.toml", "--diff", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""            # nothing to patch, but not clean
    assert "DL001" in out.stderr and "not valid UTF-8" in out.stderr
    # findings with only unsafe fixes: no patch without --unsafe-fixes, the findings on stderr, exit 1
    shutil.copyfile(os.path.join(ROOT, "examples", SEEDS[0]), tmp_path / "plan.toml")
    out = run_exe("check", "plan.toml", "--diff", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == "" and "MOE301" in out.stderr


def test_diff_does_not_combine_with_machine_formats(tmp_path):
    shutil.copyfile(os.path.join(ROOT, "examples", SEEDS[0]), tmp_path / "plan.toml")
    out = run_exe("check", "plan.toml", "--diff", "--format", "json", cwd=tmp_path)
    assert out.returncode == 2 and "--diff prints a patch; it does not combine with --format json" in out.stderr


def test_crlf_and_bom_are_kept(tmp_path):
    text = open(os.path.join(ROOT, "examples", SEEDS[0]), encoding="utf-8").read().replace("ep = 3", "ep = 3\ndp = 2")
    (tmp_path / "plan.toml").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    os.chmod(tmp_path / "plan.toml", 0o640)
    run_exe("check", "plan.toml", "--fix", cwd=tmp_path)          # PAR401's safe fix: dp = 3
    assert stat.S_IMODE(os.stat(tmp_path / "plan.toml").st_mode) == 0o640     # the file's mode is kept
    data = (tmp_path / "plan.toml").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"dp = 3\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_read_only_file_is_an_error_not_an_overwrite(tmp_path):
    path = tmp_path / "plan.toml"
    text = open(os.path.join(ROOT, "examples", SEEDS[0]), encoding="utf-8").read().replace("ep = 3", "ep = 3\ndp = 2")
    path.write_text(text)
    path.chmod(stat.S_IRUSR)
    out = run_exe("check", "plan.toml", "--fix", cwd=tmp_path)
    assert out.returncode != 0 and path.read_text() == text


def test_a_file_changed_on_disk_meanwhile_is_not_overwritten(tmp_path):
    from deploylint.core.pipeline.fixing import write_atomically

    path = tmp_path / "plan.toml"
    path.write_bytes(b"schema_version = 1\n# edited by someone else\n")
    error = write_atomically(str(path), b"schema_version = 1\n", b"schema_version = 2\n")
    assert "changed on disk" in error and path.read_bytes() == b"schema_version = 1\n# edited by someone else\n"
    assert write_atomically(str(path), path.read_bytes(), b"x = 1\n") is None and path.read_bytes() == b"x = 1\n"
