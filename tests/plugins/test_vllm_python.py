"""vLLM's ``LLM(...)`` in a Python script, read with ``ast`` and never run: the keywords are EngineArgs fields,
the flags' names with underscores (vllm/entrypoints/llm.py:189-217). Findings land on the value tokens; fixes
edit them in place. Llama-3.1-8B (bundled catalog): 32 heads, 131072 positions.
"""

from __future__ import annotations

from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine
from deploylint.core.pipeline.fixing import fix_text


def engine():
    return Engine(Registry().load(), Config())


def codes(result):
    return sorted(d.code for d in result.diagnostics if d.code != "DL010")


SCRIPT = '''"""Offline batch generation."""
from vllm import LLM, SamplingParams

prompts = ["Hello, my name is", "The capital of France is"]
sampling = SamplingParams(temperature=0.8, top_p=0.95)
llm = LLM(
    model="meta-llama/Llama-3.1-8B-Instruct",
    tensor_parallel_size=3,
    max_model_len=200_000,
    gpu_memory_utilization=0.85,
)
for out in llm.generate(prompts, sampling):
    print(out.outputs[0].text)
'''


def test_keywords_are_read_and_findings_land_on_the_value_tokens():
    result = engine().check_text("generate.py", SCRIPT)
    assert codes(result) == ["PAR402", "SRV001"]
    assert result.plan.serving.memory_fraction == 0.85 and result.plan.serving.engine == "vllm"
    par = next(d for d in result.diagnostics if d.code == "PAR402")
    assert (par.range.start.line, par.range.start.column, par.range.end.column) == (8, 26, 27)
    assert "vLLM 0.33.0 refuses to start" in par.message
    srv = next(d for d in result.diagnostics if d.code == "SRV001")
    assert (srv.range.start.line, srv.range.start.column, srv.range.end.column) == (9, 19, 26)   # "200_000"


def test_fixes_edit_the_value_token_and_keep_every_other_byte():
    new, result, applied, problems = fix_text(engine(), "generate.py", SCRIPT, unsafe=True)
    assert not problems and "SRV001" not in codes(result)
    assert new == SCRIPT.replace("max_model_len=200_000", "max_model_len=131072")


def test_a_token_budget_below_the_context_is_fixed_on_its_keyword():
    text = ('from vllm import LLM\nllm = LLM("meta-llama/Llama-3.1-8B-Instruct", max_model_len=8192,\n'
            '          max_num_batched_tokens=4096, enable_chunked_prefill=False)\n')
    assert codes(engine().check_text("gen.py", text)) == ["SRV002"]      # 4096 tokens < 8192 without chunking
    new, result, applied, problems = fix_text(engine(), "gen.py", text, unsafe=True)
    assert not problems and codes(result) == []
    assert new == text.replace("max_num_batched_tokens=4096", "max_num_batched_tokens=8192")


def test_what_is_not_a_literal_is_an_info_and_the_rest_is_checked():
    text = ('import os\nimport vllm\n\nopts = {"seed": 0}\nllm = vllm.LLM(model="meta-llama/Llama-3.1-8B-Instruct", '
            'tensor_parallel_size=int(os.environ["TP"]), max_model_len=200000, **opts)\n')
    result = engine().check_text("gen.py", text)
    assert codes(result) == ["SRV001"]
    infos = [d.message for d in result.diagnostics if d.code == "DL010"]
    assert any("tensor_parallel_size= (not a literal: not read)" in m for m in infos)
    assert any("**… keyword arguments" in m for m in infos)


def test_an_llm_that_is_not_vllms_is_not_read(tmp_path, capsys):
    text = 'from mylib import LLM\nllm = LLM(model="meta-llama/Llama-3.1-8B-Instruct", tensor_parallel_size=3)\n'
    result = engine().check_text("gen.py", text, candidate=True)
    assert not result.claimed
    several = ('from vllm import LLM as Engine\na = Engine("meta-llama/Llama-3.1-8B-Instruct", tensor_parallel_size=2)\n'
               'b = Engine("meta-llama/Llama-3.1-8B-Instruct", tensor_parallel_size=3)\n')
    result = engine().check_text("gen.py", several)
    assert len(result.documents) == 2
    par = [d for d in result.diagnostics if d.code == "PAR402"]
    assert len(par) == 1 and par[0].message.startswith("[LLM(...) at line 3] ")


def test_a_script_past_the_value_bound_is_one_dl001_before_ast_reads_it():
    # a generated script of a million small lists around the LLM(...) call: refused at the first value past
    # the bound (as a Python plan is), where ast would take seconds and gigabytes
    from deploylint.core.document.sources import MAX_ENTRIES

    text = SCRIPT + "".join(f"x{i} = [{i}, {i + 1}]\n" for i in range(MAX_ENTRIES // 2 + 10))
    (d,) = engine().check_text("generate.py", text).diagnostics
    assert d.code == "DL001" and f"more than {MAX_ENTRIES:,} keys and list items" in d.message
    assert d.range.start.line > SCRIPT.count("\n")
