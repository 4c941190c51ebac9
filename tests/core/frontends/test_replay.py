"""A plain `deploylint check FILE...` read without argparse, and a repeated one answered from its stored output:
the same options argparse gives, the same output and exit code as a check, and a check again whenever any input
of the run moved."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from deploylint.core.frontends import replay
from deploylint.core.frontends.cli import build_parser, main
from deploylint.core.host.registry import Registry
from deploylint.core.pipeline import config as config_module
from deploylint.core.pipeline.cache_inputs import forget_installed
from deploylint.core.pipeline.engine import Engine
from suite_helpers import run_check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture
def plans(tmp_path):
    """The seed, and beside it in clean/ a copy whose configuration ignores every finding (a clean run, exit 0)."""
    folder = tmp_path / "repo" / "plans"
    (folder / "clean").mkdir(parents=True)
    shutil.copy(os.path.join(EXAMPLES, "seed-moe-64e-3dev.toml"), folder / "seed-moe-64e-3dev.toml")
    shutil.copy(os.path.join(EXAMPLES, "seed-moe-64e-3dev.toml"), folder / "clean" / "seed.plan.toml")
    (folder / "clean" / "deploylint.toml").write_text('ignore = ["MEM", "MOE", "PAR", "CMP", "PRF"]\n', encoding="utf-8")
    return folder


def replays(folder):
    return sorted((folder / "replay").rglob("*")) if (folder / "replay").exists() else []


def stored(folder):
    return [p for p in replays(folder) if p.is_file()]


@pytest.fixture
def nothing_checked(monkeypatch):
    """After this is called, loading plugins or checking a file fails the test: the answer came from a replay."""
    def arm():
        def refuse(*args, **kwargs):
            raise AssertionError("the run was checked, not replayed")
        monkeypatch.setattr(Registry, "load", refuse)
        monkeypatch.setattr(Engine, "check_bytes", refuse)
        monkeypatch.setattr(Engine, "check_path", refuse)
    return arm


# -- the command line -----------------------------------------------------------------
PLAIN = [
    ["check"], ["check", "a.toml"], ["check", "a.toml", "b.yaml"], ["check", "--format", "json", "a.toml"],
    ["check", "a.toml", "--format", "sarif"], ["check", "--format=github", "a", "b"], ["check", "-q", "a"],
    ["check", "a", "b", "--quiet", "--no-cache"], ["check", "--no-cache", "--format", "text", "-q", "a", "b", "c"],
    ["check", "--format", "json", "--format", "text", "a"], ["check", "-q", "-q", "a"], ["check", ""],
    ["check", "a b.toml", "ü.plan.toml"],
]
NOT_PLAIN = [
    [], ["a.toml"], ["--version"], ["rules"], ["check", "--select", "MEM", "a"], ["check", "--fix", "a"],
    ["check", "--format", "xml", "a"], ["check", "--format"], ["check", "--form", "json", "a"], ["check", "-", "a"],
    ["check", "--", "a"], ["check", "a", "--format", "json", "b"], ["check", "a", "-q", "b"], ["check", "-j", "2", "a"],
    ["check", "--format=", "a"], ["check", "-qa"], ["check", "--no-cache=1", "a"], ["check", "--help"],
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_a_plain_command_line_gives_the_options_argparse_gives(argv):
    assert vars(replay.plain_check(argv)) == vars(build_parser("check").parse_args(argv))


@pytest.mark.parametrize("argv", NOT_PLAIN, ids=lambda a: " ".join(a) or "(nothing)")
def test_any_other_command_line_is_left_to_argparse(argv):
    assert replay.plain_check(argv) is None


def test_a_path_after_an_option_is_refused_as_before(plans, capsys):
    # argparse reads the paths as one run: `check a --format json b` is a usage error, not a check of a and b
    seed, healthy = str(plans / "seed-moe-64e-3dev.toml"), str(plans / "clean" / "seed.plan.toml")
    with pytest.raises(SystemExit) as exc:
        main(["check", seed, "--format", "json", healthy])
    assert exc.value.code == 2 and capsys.readouterr().out == ""


def test_the_configuration_file_names_are_the_configurations():
    assert replay.CONFIG_FILES == config_module.CONFIG_FILES


# -- the same answer ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_a_repeated_check_gives_the_output_and_exit_code_of_a_check(plans, store, capsys, nothing_checked, fmt):
    seed, healthy = str(plans / "seed-moe-64e-3dev.toml"), str(plans / "clean" / "seed.plan.toml")
    runs = (([seed], 1), ([healthy], 0), ([seed, healthy], 1))
    expected = []
    for files, code in runs:
        uncached = run_check(capsys, *files, "--format", fmt, "--no-cache")
        assert uncached[0] == code and uncached[2] == ""
        assert run_check(capsys, *files, "--format", fmt) == uncached
        expected.append(uncached)
    assert len(stored(store)) == 3
    nothing_checked()
    assert [run_check(capsys, *files, "--format", fmt) for files, _ in runs] == expected
    assert len(stored(store)) == 3


def test_replayed_output_is_byte_identical_through_the_console_script(plans, store, tmp_path):
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env = dict(os.environ, DEPLOYLINT_CACHE_DIR=str(store))
    args = [exe, "check", "plans/seed-moe-64e-3dev.toml"]
    outs = [subprocess.run(args, capture_output=True, cwd=plans.parent, env=env, stdin=subprocess.DEVNULL)
            for _ in range(3)]
    uncached = subprocess.run([*args, "--no-cache"], capture_output=True, cwd=plans.parent, env=env,
                              stdin=subprocess.DEVNULL)
    assert [(o.returncode, o.stdout, o.stderr) for o in outs] == [(1, uncached.stdout, b"")] * 3
    assert len(stored(store)) == 1 and b"MOE301" in uncached.stdout


# -- a check again whenever an input moved ------------------------------------------------------
def test_every_input_of_the_run_is_in_its_key(plans, store, capsys, monkeypatch, tmp_path):
    seed = plans / "seed-moe-64e-3dev.toml"
    first = run_check(capsys, str(seed))
    assert first[0] == 1 and len(stored(store)) == 1

    def misses(change, undo=None):
        before = len(stored(store))
        change()
        answer = run_check(capsys, str(seed))
        assert len(stored(store)) == before + 1, "a changed input was answered from the earlier run"
        if undo:
            undo()
        return answer

    text = seed.read_text(encoding="utf-8")
    edited = misses(lambda: seed.write_text(text.replace("ep = 3", "ep = 4").replace(
        "expert_placement = [22, 21, 21]\n", ""), encoding="utf-8"), lambda: seed.write_text(text, encoding="utf-8"))
    assert "MOE301" not in edited[1] and "MOE301" in first[1]
    # a pyproject.toml above the plan, even without a [tool.deploylint] table, and one that has it
    pyproject = plans.parent / "pyproject.toml"
    misses(lambda: pyproject.write_text("[project]\nname = 'x'\n", encoding="utf-8"))
    ignoring = misses(lambda: pyproject.write_text("[tool.deploylint]\nignore = ['MOE']\n", encoding="utf-8"),
                      pyproject.unlink)
    assert "MOE301" not in ignoring[1]
    misses(lambda: (plans / "deploylint.toml").write_text("fail-on = 'error'\n", encoding="utf-8"),
           (plans / "deploylint.toml").unlink)
    misses(lambda: monkeypatch.setenv("NO_COLOR", "1"), lambda: monkeypatch.delenv("NO_COLOR"))
    misses(lambda: monkeypatch.setenv("DEPLOYLINT_NO_PLUGIN_AUTOLOAD", "1"),
           lambda: monkeypatch.delenv("DEPLOYLINT_NO_PLUGIN_AUTOLOAD"))
    site = tmp_path / "site"
    site.mkdir()

    def install():
        monkeypatch.syspath_prepend(str(site))
        (site / "pyyaml-6.0.2.dist-info").mkdir()
        forget_installed()
    misses(install)
    # the same file named from another folder: the report names it by the path given
    monkeypatch.chdir(plans)
    relative = main(["check", "seed-moe-64e-3dev.toml"])
    assert relative == 1 and "seed-moe-64e-3dev.toml:" in capsys.readouterr().out
    assert len(stored(store)) == 9


def test_what_is_never_replayed(plans, store, capsys, monkeypatch, tmp_path):
    seed = plans / "seed-moe-64e-3dev.toml"
    # --no-cache neither reads nor writes
    assert run_check(capsys, str(seed), "--no-cache")[0] == 1 and replays(store) == []
    # a plan that reads another file
    (plans / "config.json").write_text(json.dumps({
        "model_type": "llama", "num_hidden_layers": 4, "hidden_size": 1024, "num_attention_heads": 16,
        "num_key_value_heads": 16, "intermediate_size": 4096, "vocab_size": 32000}), encoding="utf-8")
    text = seed.read_text(encoding="utf-8")
    start, end = text.index("[model]"), text.index("[hardware]")
    (plans / "from.plan.toml").write_text(text[:start] + '[model]\nfrom = "config.json"\n\n' + text[end:],
                                          encoding="utf-8")
    run_check(capsys, str(plans / "from.plan.toml"))
    assert stored(store) == []
    # a configuration that names local plugins (DL009 when untrusted; their code has no version when trusted)
    (plans / "policy_rules.py").write_text("from deploylint.core import hookimpl\n@hookimpl\n"
                                           "def deploylint_rules():\n    return []\n", encoding="utf-8")
    (plans / "deploylint.toml").write_text("plugins = ['policy_rules']\n", encoding="utf-8")
    run_check(capsys, str(seed))
    monkeypatch.delenv("DEPLOYLINT_ALLOW_LOCAL_PLUGINS")
    monkeypatch.setenv("DEPLOYLINT_TRUST_FILE", str(tmp_path / "trust.json"))
    assert "DL009" in run_check(capsys, str(seed))[1]
    assert stored(store) == []
    (plans / "deploylint.toml").unlink()
    # a run that wrote to stderr (a warning of a library, a plugin's print) is not stored
    real = Engine.check_bytes

    def noisy(self, *args, **kwargs):
        print("a warning", file=sys.stderr)
        return real(self, *args, **kwargs)
    monkeypatch.setattr(Engine, "check_bytes", noisy)
    first = run_check(capsys, str(seed))
    assert first[2] == "a warning\n" and stored(store) == []
    monkeypatch.setattr(Engine, "check_bytes", real)
    # an incomplete run (a rule failed: DL005): next time it may not
    from deploylint.plugins.experts import ExpertsNotDivisible

    def fails(self, ctx):
        raise RuntimeError("a bug")
    monkeypatch.setattr(ExpertsNotDivisible, "check", fails)
    seed.write_text(text + "# not in the result cache either\n", encoding="utf-8")
    code, out, _ = run_check(capsys, str(seed))
    assert code == 3 and "DL005" in out and stored(store) == []
    monkeypatch.undo()
    monkeypatch.setenv("DEPLOYLINT_CACHE_DIR", str(store))
    # a file above the bound of what is read for a key
    monkeypatch.setattr(replay, "MAX_BYTES", len(seed.read_bytes()) - 1)
    assert run_check(capsys, str(seed))[0] == 1 and stored(store) == []


def test_a_folder_or_a_configuration_file_is_not_replayed(plans, store, capsys):
    assert run_check(capsys, str(plans))[0] == 0          # clean/seed.plan.toml (the seed's name is not a plan's name)
    assert stored(store) == []
    assert replay.wanted(replay.plain_check(["check", str(plans / "seed-moe-64e-3dev.toml")]))
    (plans / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert not replay.wanted(replay.plain_check(["check", str(plans / "pyproject.toml")]))
    assert not replay.wanted(replay.plain_check(["check", str(plans / "missing.toml")]))


def test_an_entry_that_does_not_hold_its_key_is_a_miss(plans, store, capsys):
    seed = str(plans / "seed-moe-64e-3dev.toml")
    expected = run_check(capsys, seed)
    [entry] = stored(store)
    head, _, body = entry.read_bytes().partition(b"\n")
    for planted in (b"", b"garbage", b"0" + head + b"\n" + body, head.split(b" ")[0] + b" zero\n" + body,
                    head + b"\n" + b"\xff\xfe"):
        entry.write_bytes(planted)
        assert run_check(capsys, seed) == expected
        assert entry.read_bytes() == head + b"\n" + body        # the check's output stored again
