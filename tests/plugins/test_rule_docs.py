"""Rule documentation: every built-in rule explains itself, and docs/rules.md is generated from the rules."""

import os

from deploylint.core.host.registry import Registry
from deploylint.core.frontends.report.rules_markdown import render_markdown
from deploylint.core.rule import describe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def builtin_rules():
    registry = Registry().load(autoload=True)
    return registry, [r for r in registry.rules if r.plugin.startswith("deploylint.plugins")]


def test_docs_rules_md_is_in_sync_with_the_rules():
    registry, _ = builtin_rules()
    with open(os.path.join(ROOT, "docs", "rules.md"), encoding="utf-8") as fh:
        committed = fh.read()
    assert committed == render_markdown(registry), "regenerate: deploylint rules --format markdown > docs/rules.md"


def test_every_builtin_rule_has_summary_explanation_and_examples():
    _, rules = builtin_rules()
    assert len(rules) == 44          # 20 plan rules + the serving engines: SRV001-003, VLLM001, VLLM003, SGL001-002, TRT001-002
    #                                  + the training frameworks: MEG001-010, TTN001-003, DSP001-002
    for rule in rules:
        text = describe(rule)
        assert rule.summary and rule.explanation.strip(), rule.code
        assert "Bad" in text and "Good" in text, rule.code
        assert len(rule.explanation.split()) >= 30, rule.code      # why it matters, in more than a line
