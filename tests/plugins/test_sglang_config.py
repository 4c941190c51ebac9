"""SGLang's ``--config`` YAML merged with the command line as SGLang merges it: the file's keys become flags put
*before* the command line's (python/sglang/srt/utils/server_args_config_parser.py:164-210), so a flag on the
command line wins. Llama-3.1-8B (bundled catalog): 32 attention heads, 131072 positions.
"""

from __future__ import annotations

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine


def check(path, text):
    return Engine(Registry().load(), Config()).check_text(str(path), text, candidate=True)


CONFIG = """# SGLang server options
model-path: meta-llama/Llama-3.1-8B-Instruct
tp-size: 3
context-length: 200000
enable-metrics: true
mem-fraction-static: 0.85
"""


def script(tmp_path, flags=""):
    (tmp_path / "sglang.yaml").write_text(CONFIG)
    text = f"#!/bin/bash\npython3 -m sglang.launch_server --config sglang.yaml {flags}--port 30000\n"
    path = tmp_path / "serve.sh"
    path.write_text(text)
    return path, text


def test_the_config_files_values_are_read_and_findings_point_at_the_file(tmp_path):
    path, text = script(tmp_path)
    result = check(path, text)
    assert result.plan.model.num_attention_heads == 32 and result.plan.parallelism.tp == 3
    assert result.plan.serving.memory_fraction == 0.85
    heads = next(d for d in result.diagnostics if d.code == "PAR402")
    assert heads.range.start.line == 2                       # the command (the value is in the other file)
    assert [(r.file, r.range.start.line, r.range.start.column) for r in heads.related] == [
        (str(tmp_path / "sglang.yaml"), 3, 10)]               # the "3" of "tp-size: 3"
    assert "set here (the --config file" in heads.related[0].message
    srv = next(d for d in result.diagnostics if d.code == "SRV001")
    assert "200000" in srv.message and srv.related[0].range.start.line == 4
    assert not [d for d in result.diagnostics if d.code == "DL010" and "enable-metrics" in d.message]


def test_the_command_line_wins_over_the_config_file(tmp_path):
    path, text = script(tmp_path, "--tp 4 --context-length 8192 ")
    result = check(path, text)
    assert result.plan.parallelism.tp == 4 and result.plan.serving.max_model_len == 8192
    assert not [d for d in result.diagnostics if d.code in ("PAR402", "SRV001")]
    fix_target = result.document.spans["/parallelism/tp"].value
    assert text[fix_target.start:fix_target.end] == "4"       # the flag on the command line, not the file


def test_a_missing_config_file_is_an_info_and_the_command_line_is_still_checked(tmp_path):
    text = "#!/bin/bash\npython3 -m sglang.launch_server --config missing.yaml --model-path meta-llama/Llama-3.1-8B --tp 3\n"
    path = tmp_path / "serve.sh"
    path.write_text(text)
    result = check(path, text)
    assert any(d.code == "DL010" and "missing.yaml" in d.message and "not found" in d.message
               for d in result.diagnostics)
    assert any(d.code == "PAR402" for d in result.diagnostics)


def test_a_config_key_sglang_does_not_have_is_named(tmp_path):
    (tmp_path / "sglang.yaml").write_text("model-path: meta-llama/Llama-3.1-8B\ntp-sise: 2\n")
    text = "python3 -m sglang.launch_server --config sglang.yaml\n"
    path = tmp_path / "serve.sh"
    path.write_text(text)
    result = check(path, text)
    assert any(d.code == "DL010" and "--tp-sise" in d.message for d in result.diagnostics)
