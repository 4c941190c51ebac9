"""The pre-commit hook, run by real pre-commit from a temporary git repository that points at this checkout.

pre-commit clones this repository at its current commit, builds a virtualenv,
pip-installs deploylint into it (dependencies from the package index) and runs
the hook on the consumer's staged files: the seed plan fails, a healthy plan
passes. Slow (a virtualenv build, 5–15 s) but it is the real client.
"""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=True)


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    head = git("rev-parse", "HEAD", cwd=ROOT).stdout.strip()
    repo = tmp_path_factory.mktemp("consumer")
    git("init", "-q", cwd=repo)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {ROOT}\n  rev: {head}\n  hooks:\n  - id: deploylint\n")
    os.makedirs(repo / "configs")
    shutil.copy(os.path.join(ROOT, "examples", "configs", "mixtral-8x7b.json"), repo / "configs" / "mixtral-8x7b.json")
    return repo


def pre_commit(repo, home):
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=600)


def test_seed_fails_and_healthy_plan_passes(consumer, tmp_path_factory):
    home = tmp_path_factory.mktemp("pre-commit-home")
    shutil.copy(os.path.join(ROOT, "examples", "mixtral-8x7b-h100.plan.toml"), consumer / "serving.plan.toml")
    git("add", "-A", cwd=consumer)
    ok = pre_commit(consumer, home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "deploylint" in ok.stdout and "Passed" in ok.stdout

    shutil.copy(os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml"), consumer / "deploy-seed.toml")
    git("add", "-A", cwd=consumer)
    bad = pre_commit(consumer, home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    assert "deploy-seed.toml:27:6: MOE301 warning" in bad.stdout
    assert "serving.plan.toml" not in bad.stdout.split("Failed", 1)[1].split("Found")[0]
