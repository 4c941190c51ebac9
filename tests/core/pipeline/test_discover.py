"""Which files a check reads from the paths it is given; a run that checked nothing is never "all clear"."""

import os

from deploylint.core.pipeline import engine
from deploylint.core.pipeline.config import Config
from suite_helpers import run_exe

PLAN = 'schema_version = 1\n'


def test_the_configuration_file_is_not_a_plan_even_though_deploy_star_toml_matches_it(tmp_path):
    (tmp_path / "deploylint.toml").write_text("[tool.deploylint]\nfail-on = 'error'\n")
    (tmp_path / "deploy-a.toml").write_text(PLAN)
    files, problems, _ = engine.discover([str(tmp_path)], lambda p: Config())
    assert [os.path.basename(f) for f in files] == ["deploy-a.toml"] and not problems
    files, problems, _ = engine.discover([str(tmp_path / "deploylint.toml")], lambda p: Config())
    assert not files and problems == [f"{tmp_path / 'deploylint.toml'} is deploylint's configuration, not a plan"]


def test_a_folder_named_like_a_plan_with_no_plan_in_it_is_an_error_not_all_clear(tmp_path):
    (tmp_path / "x.plan.toml").mkdir()
    out = run_exe("check", "x.plan.toml", cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    assert "no plan file in the folder x.plan.toml" in out.stderr and "All clear" not in out.stdout


def test_an_unreadable_folder_is_an_error_naming_it(tmp_path, monkeypatch):
    # root reads any folder whatever its mode, so the refusal is simulated where os.walk lists it
    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "deploy-a.toml").write_text(PLAN)
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, problems, _ = engine.discover([str(tmp_path)], lambda p: Config())
    assert [os.path.basename(f) for f in files] == ["deploy-a.toml"]
    assert problems == [f"cannot read the folder {locked}: Permission denied"]


def test_the_pre_commit_hook_does_not_pass_the_configuration_file():
    import re

    import yaml

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    with open(os.path.join(root, ".pre-commit-hooks.yaml"), encoding="utf-8") as fh:
        hooks = yaml.safe_load(fh)
    for hook in hooks:
        files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])
        chosen = lambda p: bool(files.search(p)) and not exclude.search(p)  # noqa: E731
        assert chosen("deploy/llama.plan.toml") and chosen("deploy-serving.yaml")
        assert not chosen("deploylint.toml") and not chosen("sub/deploylint.toml")
