"""The result cache: the same report from an entry as from a check, and a miss whenever anything it depends on moved."""

import json
import os
import shutil

import pytest

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline import cache as cache_module, cache_inputs
from deploylint.core.pipeline.cache import ResultCache, cache_dir, cacheable
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine
from suite_helpers import run_check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLES = os.path.join(ROOT, "examples")
SEED = os.path.join(EXAMPLES, "seed-moe-64e-3dev.toml")


def entries(folder):
    return sorted(p for p in folder.rglob("*.json")) if folder.exists() else []


COPIES = [("seed-moe-64e-3dev.toml", "seed-moe-64e-3dev.plan.toml"), ("seed-moe-64e-3dev.yaml", "seed.plan.yaml"),
          ("seed-moe-64e-3dev.plan.json", "seed.plan.json"), ("mixtral-8x7b-h100.plan.toml", "healthy.plan.toml"),
          ("mixtral-8x7b-training.plan.toml", "training.plan.toml"), ("deploy_seed_moe_64e_3dev.py", "deploy_seed.py")]


def plans(folder):
    """The examples in every format, and a file that does not parse: seven plans."""
    folder.mkdir()
    for name, copy in COPIES:
        shutil.copy(os.path.join(EXAMPLES, name), folder / copy)
    (folder / "broken.plan.toml").write_text("[model\n", encoding="utf-8")
    return folder


def refuse_to_check(monkeypatch, allowed=()):
    """After this, checking a file (but those named ``allowed``) fails the test: what is reported came from the cache."""
    check_bytes = Engine.check_bytes

    def only_allowed(self, path, raw, **kwargs):
        assert os.path.basename(path) in allowed, f"{path} was checked, not read from the cache"
        return check_bytes(self, path, raw, **kwargs)
    monkeypatch.setattr(Engine, "check_bytes", only_allowed)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_an_entry_gives_the_report_a_check_gives(tmp_path, store, capsys, monkeypatch, fmt):
    folder = plans(tmp_path / "plans")
    uncached = run_check(capsys, str(folder), "--format", fmt, "--no-cache")
    assert entries(store) == []                       # --no-cache neither reads nor writes
    first = run_check(capsys, str(folder), "--format", fmt)
    assert first == uncached and len(entries(store)) == 5     # the two plans with [model] from read another file
    refuse_to_check(monkeypatch, allowed=("healthy.plan.toml", "training.plan.toml"))
    assert run_check(capsys, str(folder), "--format", fmt) == uncached


def test_an_edited_file_is_checked_again(tmp_path, store, capsys):
    folder = plans(tmp_path / "plans")
    run_check(capsys, str(folder), "--format", "json")
    plan = folder / "seed-moe-64e-3dev.plan.toml"
    plan.write_text(plan.read_text(encoding="utf-8").replace("ep = 3", "ep = 4").replace(
        "expert_placement = [22, 21, 21]\n", ""), encoding="utf-8")
    cached = run_check(capsys, str(folder), "--format", "json")
    assert cached == run_check(capsys, str(folder), "--format", "json", "--no-cache")
    assert "MOE301" not in {d["code"] for d in json.loads(cached[1])["diagnostics"] if d["file"] == str(plan)}


def test_a_changed_configuration_misses(tmp_path, store, capsys):
    folder = plans(tmp_path / "plans")
    seed = str(folder / "seed-moe-64e-3dev.plan.toml")
    before = run_check(capsys, seed, "--format", "json")
    assert "MEM102" in {d["code"] for d in json.loads(before[1])["diagnostics"]}
    (folder / "deploylint.toml").write_text("[thresholds.MEM102]\nmemory_utilization_min = 0.000001\n", encoding="utf-8")
    after = run_check(capsys, seed, "--format", "json")
    assert after == run_check(capsys, seed, "--format", "json", "--no-cache")
    assert "MEM102" not in {d["code"] for d in json.loads(after[1])["diagnostics"]}
    ignoring = run_check(capsys, seed, "--format", "json", "--ignore", "MOE")     # the command line's overrides too
    assert not any(d["code"].startswith("MOE") for d in json.loads(ignoring[1])["diagnostics"])


def test_text_and_json_outputs_keep_their_own_entries(tmp_path, store, capsys):
    """JSON carries the fixes' text edits, text output does not render them: neither is served the other's."""
    seed = str(plans(tmp_path / "plans") / "seed-moe-64e-3dev.plan.toml")
    text = run_check(capsys, seed)
    as_json = run_check(capsys, seed, "--format", "json")
    assert as_json == run_check(capsys, seed, "--format", "json", "--no-cache")
    assert text == run_check(capsys, seed, "--no-cache")
    assert all(f["edits"] for d in json.loads(as_json[1])["diagnostics"] for f in d["fixes"] if f["applicability"] != "display")


def plugin_site(site, version, message):
    site.mkdir(exist_ok=True)
    for old in site.glob("acme_cache_rules-*.dist-info"):
        shutil.rmtree(old)
    info = site / f"acme_cache_rules-{version}.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text("[deploylint]\nacme = acme_cache_rules\n", encoding="utf-8")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: acme-cache-rules\nVersion: {version}\n", encoding="utf-8")
    (site / "acme_cache_rules.py").write_text(
        "from deploylint.core import Rule, Severity, hookimpl\n"
        "class Policy(Rule):\n"
        "    code = 'ACME050'\n"
        "    name = 'policy'\n"
        "    severity = Severity.INFO\n"
        "    summary = 'policy'\n"
        "    def check(self, ctx):\n"
        f"        yield self.report('/name', {message!r})\n"
        "@hookimpl\n"
        "def deploylint_rules():\n"
        "    return [Policy()]\n", encoding="utf-8")


@pytest.mark.slow
def test_a_new_plugin_version_misses(tmp_path, store, capsys, monkeypatch):
    site = tmp_path / "site"
    plugin_site(site, "1.0", "policy of release 1.0")
    monkeypatch.syspath_prepend(str(site))
    seed = str(plans(tmp_path / "plans") / "seed-moe-64e-3dev.plan.toml")
    first = run_check(capsys, seed, "--format", "json")
    assert "policy of release 1.0" in first[1] and entries(store)
    plugin_site(site, "1.1", "policy of release 1.1")
    second = run_check(capsys, seed, "--format", "json")
    assert "policy of release 1.1" in second[1] and "release 1.0" not in second[1]
    assert len(entries(store)) == 2


@pytest.mark.slow
def test_a_plugin_edited_in_place_without_a_new_version_misses(tmp_path, store, capsys, monkeypatch):
    # the loop of a plugin author with an editable install: the rule changes, the version does not
    site = tmp_path / "site"
    plugin_site(site, "1.0", "the rule as first written")
    monkeypatch.syspath_prepend(str(site))
    seed = str(plans(tmp_path / "plans") / "seed-moe-64e-3dev.plan.toml")
    assert "the rule as first written" in run_check(capsys, seed, "--format", "json")[1]
    module = site / "acme_cache_rules.py"
    module.write_text(module.read_text(encoding="utf-8").replace("the rule as first written", "the rule as edited"),
                      encoding="utf-8")
    os.utime(module, ns=(os.stat(module).st_atime_ns, os.stat(module).st_mtime_ns + 1_000_000))
    second = run_check(capsys, seed, "--format", "json")
    assert "the rule as edited" in second[1] and "first written" not in second[1]


def test_an_install_or_reinstall_on_the_path_changes_every_key(tmp_path, monkeypatch):
    # a library (PyYAML, jsonschema) or deploylint itself reinstalled at the same version: its metadata is new
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    engine = Engine(Registry().load(autoload=True), Config())
    raw = open(SEED, "rb").read()
    before = ResultCache(str(tmp_path / "c")).key(engine, SEED, raw)
    (site / "pyyaml-6.0.2.dist-info").mkdir()
    installed = ResultCache(str(tmp_path / "c")).key(engine, SEED, raw)
    assert installed != before
    info = site / "pyyaml-6.0.2.dist-info"
    os.utime(info, ns=(os.stat(info).st_atime_ns, os.stat(info).st_mtime_ns + 1_000_000))
    assert ResultCache(str(tmp_path / "c")).key(engine, SEED, raw) not in (before, installed)


def test_the_key_holds_plugins_versions_configuration_and_sources(tmp_path, monkeypatch):
    cache = ResultCache(str(tmp_path))
    raw = open(SEED, "rb").read()

    def key(registry=None, config=None, render=False):
        return ResultCache(str(tmp_path)).key(Engine(registry or Registry().load(), config or Config(), render_fixes=render),
                                              SEED, raw)

    base = key()
    assert base == key() and base == cache.key(Engine(Registry().load(), Config(), render_fixes=False), SEED, raw)
    assert key(config=Config(ignore=["MEM"])) != base
    assert key(render=True) != base
    assert key(registry=Registry().load(autoload=False)) != base            # other plugins, other results
    assert ResultCache(str(tmp_path)).key(Engine(Registry().load(), Config()), SEED, raw + b"\n") != base
    monkeypatch.setattr(cache_module, "__version__", "99.0")
    assert key() != base
    monkeypatch.undo()
    monkeypatch.setattr(cache_inputs, "_SOURCES", ["a source file changed"])  # an edit in a source checkout
    assert key() != base


def test_a_corrupt_entry_is_ignored_and_written_again(tmp_path, store, capsys):
    folder = plans(tmp_path / "plans")
    expected = run_check(capsys, str(folder), "--format", "json", "--no-cache")
    run_check(capsys, str(folder), "--format", "json")
    stored = entries(store)
    for n, entry in enumerate(stored):       # truncated, garbage, valid JSON of the wrong shape, another entry's key
        text = entry.read_text(encoding="utf-8")
        entry.write_text([text[: len(text) // 2], "\x00garbage", '{"format": 1}', text.replace('"key":"', '"key":"0')][n % 4],
                         encoding="utf-8")
    assert run_check(capsys, str(folder), "--format", "json") == expected
    assert entries(store) == stored
    for entry in stored:
        assert json.loads(entry.read_text(encoding="utf-8"))["key"] == entry.parent.name + entry.stem


def test_a_file_planted_in_the_cache_builds_no_object_but_deploylint_records(tmp_path, store, capsys, monkeypatch):
    seed = str(plans(tmp_path / "plans") / "seed-moe-64e-3dev.plan.toml")
    expected = run_check(capsys, seed, "--format", "json")
    [entry] = entries(store)
    data = json.loads(entry.read_text(encoding="utf-8"))
    data["result"]["v"][0][1] = {"@": "os.system", "v": ["echo owned"]}
    entry.write_text(json.dumps(data), encoding="utf-8")
    assert run_check(capsys, seed, "--format", "json") == expected


def test_fixing_never_reads_nor_writes_the_cache(tmp_path, store, capsys):
    folder = plans(tmp_path / "plans")
    run_check(capsys, str(folder), "--diff")
    run_check(capsys, str(folder), "--fix", "--unsafe-fixes")
    assert entries(store) == []


def test_results_that_read_beside_the_plan_are_not_stored(tmp_path, store, capsys, monkeypatch):
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "num_hidden_layers": 4, "hidden_size": 1024, "num_attention_heads": 16,
        "num_key_value_heads": 16, "intermediate_size": 4096, "vocab_size": 32000}), encoding="utf-8")
    text = open(SEED, encoding="utf-8").read()
    start, end = text.index("[model]"), text.index("[hardware]")
    (folder / "from.plan.toml").write_text(text[:start] + '[model]\nfrom = "config.json"\n\n' + text[end:], encoding="utf-8")
    first = run_check(capsys, str(folder / "from.plan.toml"), "--format", "json")
    assert json.loads(first[1])["summary"]["files"] == 1 and entries(store) == []
    hang = tmp_path / "slow_rule.py"
    hang.write_text("from deploylint.core import Rule, hookimpl\n"
                    "class Slow(Rule):\n"
                    "    code = 'SLOW001'\n"
                    "    name = 'slow'\n"
                    "    def check(self, ctx):\n"
                    "        while True:\n"
                    "            pass\n"
                    "@hookimpl\n"
                    "def deploylint_rules():\n"
                    "    return [Slow()]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, _ = run_check(capsys, SEED, "--plugin", "slow_rule", "--rule-timeout", "0.3")
    assert code == 3 and entries(store) == []          # a local plugin's results are never stored
    incomplete = Engine(Registry().load(), Config()).check_path(SEED)
    assert cacheable(incomplete)
    incomplete.incomplete = True                       # a rule failed or ran out of time: next time it may not
    assert not cacheable(incomplete)


def test_the_cache_folder_follows_the_platform_convention(tmp_path):
    assert cache_dir({"DEPLOYLINT_CACHE_DIR": str(tmp_path)}) == str(tmp_path)
    assert cache_dir({"XDG_CACHE_HOME": "/xdg"}) == os.path.join("/xdg", "deploylint")
    assert cache_dir({}) == os.path.join(os.path.expanduser("~"), ".cache", "deploylint")


def test_workers_read_and_write_the_same_entries(tmp_path, store, capsys, monkeypatch):
    folder = plans(tmp_path / "plans")
    expected = run_check(capsys, str(folder), "--format", "json", "--no-cache", "-j", "1")
    assert run_check(capsys, str(folder), "--format", "json", "-j", "3") == expected
    refuse_to_check(monkeypatch, allowed=("healthy.plan.toml", "training.plan.toml"))
    assert run_check(capsys, str(folder), "--format", "json", "-j", "3") == expected
