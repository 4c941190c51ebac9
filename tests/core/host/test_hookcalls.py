"""Built-in plugins are called without pluggy, exactly as pluggy would call them; any other plugin brings pluggy in."""

import types

import pluggy

from deploylint.core import Rule, Severity, hookimpl
from deploylint.core.host.registry import Registry

VLLM = "#!/bin/sh\nvllm serve deepseek-ai/DeepSeek-V3 --tensor-parallel-size 8 --enable-expert-parallel\n"
SGLANG = "python -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B --tp 2\n"
FILES = [("serve.sh", VLLM), ("launch.sh", SGLANG), ("deploy.toml", "schema_version = 1\n"), ("notes.yaml", "a: 1\n")]


def with_pluggy() -> Registry:
    registry = Registry()
    registry.pm           # made before any plugin: every registration goes through pluggy
    return registry.load()


def summary(registry: Registry):
    plugins = [(p.name, p.version, p.source, p.rules, p.error) for p in registry.plugins]
    rules = [(r.code, r.plugin) for r in registry.rules]
    found = []
    for path, text in FILES:
        docs = registry.source(path, text)
        docs = [docs] if docs is not None and not isinstance(docs, list) else docs
        found.append(None if docs is None else [(d.data, d.label, sorted(d.spans)) for d in docs])
    return plugins, rules, found, sorted(registry.accelerators()), [d.message for d in registry.failures]


def test_the_builtin_plugins_answer_the_same_without_pluggy_and_with_it():
    plain = Registry().load()
    assert plain._pm is None, "no plugin needed the plugin manager"
    assert summary(plain) == summary(with_pluggy())
    assert summary(plain)[2][0], "the vLLM adapter read its command"


class Acme(Rule):
    code = "ACME001"
    name = "acme-rule"
    severity = Severity.WARNING
    summary = "A third party's rule."


def test_a_third_party_plugin_brings_in_pluggy_with_every_builtin_plugin_kept():
    registry = Registry().load()
    builtin_rules = [r.code for r in registry.rules]
    mod = types.ModuleType("acme_plugin")
    mod.deploylint_rules = hookimpl(lambda: [Acme()])
    mod.deploylint_rules.__name__ = "deploylint_rules"
    registry.register_object(mod, "acme_plugin")
    assert registry._pm is not None
    assert [p.name for p in registry.plugins][-1] == "acme_plugin"
    impls = registry.pm.hook.deploylint_rules.get_hookimpls()
    assert [i.plugin_name for i in impls][-1] == "acme_plugin" and len(impls) == len({i.plugin_name for i in impls})
    # the last registered source plugin is asked first, as pluggy asks
    claims = types.ModuleType("claims_everything")
    claims.deploylint_source = hookimpl(lambda path, text: [])
    claims.deploylint_source.__name__ = "deploylint_source"
    registry.register_object(claims, "claims_everything")
    assert registry.source("serve.sh", VLLM) == []
    assert len(builtin_rules) == len(Registry().load().rules)


def test_a_builtin_hook_function_with_pluggy_options_goes_through_pluggy():
    mod = types.ModuleType("deploylint.plugins_test_tryfirst")

    @hookimpl(tryfirst=True)
    def deploylint_source(path, text):
        return []

    mod.deploylint_source = deploylint_source
    registry = Registry().load()
    registry.register_object(mod, mod.__name__)
    assert registry._pm is not None and registry.source("serve.sh", VLLM) == []


def test_the_markers_mark_as_pluggy_reads_them():
    def ours(path, text): ...
    def theirs(path, text): ...
    hookimpl(tryfirst=True)(ours)
    pluggy.HookimplMarker("deploylint")(tryfirst=True)(theirs)
    assert ours.deploylint_impl == theirs.deploylint_impl
