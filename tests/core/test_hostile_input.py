"""Hostile input gets a clear DL001 at a position in bounded time and memory, never a hang or a traceback.

Deep nesting, numbers of a hundred thousand digits, alias bombs and NUL bytes in every format;
a FIFO, /dev/zero and a file over the size limit given as the plan's path. (Bounded work is checked
by what is refused, never by the clock.)
"""

import os
import stat
import subprocess
import sys

import pytest

from deploylint.core.pipeline.config import Config, ConfigError, config_from_table
from deploylint.core.pipeline.engine import Engine
from deploylint.core.testing import render_plan

PLAN = {
    "schema_version": 1,
    "model": {"layers": 4, "hidden_size": 1024, "num_attention_heads": 16, "vocab_size": 32000},
    "hardware": {"num_devices": 8, "memory_gib": 80, "peak_tflops": 989, "memory_bandwidth_gbps": 3350},
    "parallelism": {"tp": 8},
    "workload": {"mode": "inference", "batch_size": 8, "seq_len": 1024},
}
SUFFIX = {"toml": ".toml", "yaml": ".yaml", "json": ".json", "python": ".py"}
DIGITS = "7" * 100_001


@pytest.fixture(scope="module")
def engine():
    from deploylint.core.host.registry import Registry

    return Engine(Registry().load(), Config(), render_fixes=False)


def only_dl001(result):
    assert result.document is None
    assert [d.code for d in result.diagnostics] == ["DL001"], [d.message for d in result.diagnostics]
    d = result.diagnostics[0]
    assert d.range is not None and d.range.start.line >= 1
    assert len(d.message) < 300      # a short sentence, never the hostile text itself
    return d


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_an_integer_of_a_hundred_thousand_digits_is_a_dl001_at_its_line(engine, fmt):
    text = render_plan(PLAN, fmt).replace("1024", DIGITS, 1)
    d = only_dl001(engine.check_text(f"deploy{SUFFIX[fmt]}", text))
    line = text[:text.index(DIGITS)].count("\n") + 1
    assert d.range.start.line == line
    assert "too long" in d.message


@pytest.mark.parametrize("fmt,text", [
    ("toml", "a = " + "[" * 50_000 + "]" * 50_000 + "\n"),
    ("json", "[" * 500_000 + "]" * 500_000),
    ("yaml", "a: " + "[" * 100_000),
    ("python", "PLAN = {'a': " + "[" * 100_000 + "]" * 100_000 + "}\n"),
])
def test_deep_nesting_is_refused(engine, fmt, text):
    d = only_dl001(engine.check_text(f"deploy{SUFFIX[fmt]}", text))
    assert "deep" in d.message


def test_a_yaml_alias_bomb_is_refused_where_the_expansion_starts(engine):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    d = only_dl001(engine.check_text("deploy.yaml", "\n".join(lines) + "\n"))
    assert "alias" in d.message


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
def test_a_nul_byte_is_a_dl001(engine, fmt):
    text = render_plan(PLAN, fmt)
    at = text.index("hidden_size")
    d = only_dl001(engine.check_bytes(f"deploy{SUFFIX[fmt]}", (text[:at] + "\x00" + text[at:]).encode()))
    assert d.range.start.line == text[:at].count("\n") + 1


def test_a_fifo_given_as_the_plan_is_refused_without_reading(engine, tmp_path):
    fifo = tmp_path / "deploy.toml"
    os.mkfifo(fifo)
    result = engine.check_path(str(fifo))   # would block forever if it were opened for a blocking read
    d = result.diagnostics[0]
    assert [x.code for x in result.diagnostics] == ["DL001"]
    assert "not a regular file" in d.message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_given_as_the_plan_is_refused_without_reading(engine, tmp_path):
    link = tmp_path / "deploy.toml"
    link.symlink_to("/dev/zero")
    assert stat.S_ISCHR(os.stat(link).st_mode)
    result = engine.check_path(str(link))
    assert [x.code for x in result.diagnostics] == ["DL001"]
    assert "not a regular file" in result.diagnostics[0].message


def test_a_file_over_the_size_limit_is_refused_naming_the_setting(tmp_path):
    from deploylint.core.host.registry import Registry

    plan = tmp_path / "deploy.toml"
    plan.write_text(render_plan(PLAN, "toml") + "#" * (2 << 20) + "\n")
    small = Engine(Registry().load(), config_from_table({"max-file-size-mib": 1}))
    result = small.check_path(str(plan))
    assert [x.code for x in result.diagnostics] == ["DL001"]
    assert "larger than 1 MiB" in result.diagnostics[0].message
    assert "max-file-size-mib" in result.diagnostics[0].message
    # the same text from an editor is bounded alike
    text = small.check_text(str(plan), plan.read_text())
    assert [x.code for x in text.diagnostics] == ["DL001"] and "max-file-size-mib" in text.diagnostics[0].message
    # and the default reads it
    assert Engine(Registry().load(), Config()).check_path(str(plan)).document is not None


@pytest.mark.parametrize("value", [0, -1, True, "16", float("inf")])
def test_the_size_limit_must_be_a_positive_number(value):
    with pytest.raises(ConfigError, match="max-file-size-mib"):
        config_from_table({"max-file-size-mib": value})


def test_the_cli_reports_a_fifo_and_exits_with_findings(tmp_path):
    fifo = tmp_path / "deploy.yaml"
    os.mkfifo(fifo)
    exe = os.path.join(os.path.dirname(sys.executable), "deploylint")
    out = subprocess.run([exe, "check", str(fifo), "--format", "json"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    import json

    report = json.loads(out.stdout)
    assert out.returncode == 1
    assert [d["code"] for d in report["diagnostics"]] == ["DL001"]
