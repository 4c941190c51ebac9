"""The language server with a real LSP client over stdio (pytest-lsp): open, diagnostics, quick fix, change, hover."""

import os
import shutil
import sys

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))

# Non-ASCII before a value on the same line: "é𝄞" is 2 code points but 3 UTF-16 code units.
PLAN = """schema_version = 1
name = "lsp-test"
parallelism = { "é𝄞" = 0, tp = 1, ep = 3 }

[model]
layers = 4
hidden_size = 1024
num_attention_heads = 16
vocab_size = 32000
moe = { num_experts = 64, top_k = 2, expert_ffn_hidden_size = 512 }

[hardware]
num_devices = 3
memory_gib = 64
peak_tflops = 400
memory_bandwidth_gbps = 1600
intra_node_bandwidth_gbps = 196

[workload]
mode = "inference"
batch_size = 8
seq_len = 16
outptu_len = 4
"""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[EXE, "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


def _open(client, uri, text, version=1):
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="toml", version=version, text=text)))


def _uri(tmp_path, name="deploy.plan.toml"):
    # the buffer is linted from memory; the file only gives the server a folder and a name
    return (tmp_path / name).as_uri()


async def test_diagnostics_positions_quick_fix_and_refresh(client: LanguageClient, tmp_path):
    uri = _uri(tmp_path)
    _open(client, uri, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    diags = {d.code: d for d in client.diagnostics[uri]}
    assert {"MOE301", "DL003"} <= set(diags)
    # MOE301 sits on the value of ep, after "é𝄞" on the same line: UTF-16 columns, 0-based
    line = PLAN.splitlines().index('parallelism = { "é𝄞" = 0, tp = 1, ep = 3 }')
    text = PLAN.splitlines()[line]
    col_code_points = text.index("ep = 3") + len("ep = ")
    moe = diags["MOE301"]
    assert moe.range.start.line == line
    assert moe.range.start.character == col_code_points + 1            # 𝄞 counts twice in UTF-16
    assert moe.range.end.character == moe.range.start.character + 1
    assert moe.severity == types.DiagnosticSeverity.Warning and moe.source == "deploylint"

    # the typo micro_batch has a safe did-you-mean quick fix; apply it as the editor would
    typo = next(d for d in client.diagnostics[uri] if d.code == "DL003" and "outptu_len" in d.message)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=typo.range,
        context=types.CodeActionContext(diagnostics=[typo], only=[types.CodeActionKind.QuickFix])))
    fix = next(a for a in actions if a.is_preferred)
    assert "output_len" in fix.title
    (edit,) = fix.edit.changes[uri]
    lines = PLAN.splitlines(keepends=True)
    start = sum(len(l) for l in lines[:edit.range.start.line]) + edit.range.start.character
    end = sum(len(l) for l in lines[:edit.range.end.line]) + edit.range.end.character
    fixed = PLAN[:start] + edit.new_text + PLAN[end:]
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert not [d for d in client.diagnostics[uri] if d.code == "DL003" and "outptu_len" in d.message]


async def test_hover_shows_schema_description_and_rule(client: LanguageClient, tmp_path):
    uri = _uri(tmp_path)
    _open(client, uri, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    line = PLAN.splitlines().index("memory_gib = 64")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=2)))
    assert "Memory per device, GiB" in hover.contents.value
    moe = next(d for d in client.diagnostics[uri] if d.code == "MOE301")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=moe.range.start))
    assert "MOE301" in hover.contents.value and "Megatron-LM" in hover.contents.value
    assert "`distribution` = [22, 21, 21]" in hover.contents.value
    # the figures are the server's: the published diagnostic carries only what finds it again
    assert all(set(d.data) == {"index", "rule"} for d in client.diagnostics[uri])


async def test_fix_all_source_action_applies_safe_fixes(client: LanguageClient, tmp_path):
    uri = _uri(tmp_path)
    _open(client, uri, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=[], only=["source.fixAll.deploylint"])))
    (action,) = actions
    assert action.kind == "source.fixAll.deploylint" and action.edit.changes[uri]


async def test_a_crashing_plugin_is_a_diagnostic_and_the_server_lives(client: LanguageClient, tmp_path):
    (tmp_path / "crashy_rules.py").write_text(
        "from deploylint.core import Rule, hookimpl\n"
        "class Boom(Rule):\n    code = 'BOOM001'\n    name = 'boom'\n    summary = 'always crashes'\n"
        "    def check(self, ctx):\n        raise RuntimeError('kaboom')\n"
        "@hookimpl\ndef deploylint_rules():\n    return [Boom()]\n")
    (tmp_path / "deploylint.toml").write_text('plugins = ["crashy_rules"]\n')
    # the plugin module is found next to the configuration that names it
    uri = _uri(tmp_path)
    _open(client, uri, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    codes = [d.code for d in client.diagnostics[uri]]
    assert "DL005" in codes and "MOE301" in codes
    boom = next(d for d in client.diagnostics[uri] if d.code == "DL005")
    assert "BOOM001" in boom.message and "kaboom" in boom.message
    # still serving: a second file gets its diagnostics
    other = _uri(tmp_path, "second.plan.toml")
    _open(client, other, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert client.diagnostics[other]


async def test_files_that_are_not_plans_get_no_diagnostics(client: LanguageClient, tmp_path):
    uri = _uri(tmp_path, "pyproject.toml")
    _open(client, uri, '[project]\nname = "x"\nversion = = 1\n')
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []
    # any name, but a plan by its content: linted
    other = _uri(tmp_path, "review-notes.toml")
    _open(client, other, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert "MOE301" in [d.code for d in client.diagnostics[other]]


async def test_save_relints_with_the_new_configuration(client: LanguageClient, tmp_path):
    uri = _uri(tmp_path)
    _open(client, uri, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert "MOE301" in [d.code for d in client.diagnostics[uri]]
    # the team silences MOE301 in its configuration; saving the plan picks the change up
    (tmp_path / "deploylint.toml").write_text('ignore = ["MOE301"]\n')
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert "MOE301" not in [d.code for d in client.diagnostics[uri]]


async def test_a_fix_that_would_break_the_plan_is_offered_neither_as_quick_fix_nor_in_fix_all(client: LanguageClient, tmp_path):
    # a team's rule whose safe fix writes tp = 0, which the plan format forbids; only that rule is selected
    (tmp_path / "zero_tp_rules.py").write_text(
        "from deploylint.core import Fix, Rule, Severity, hookimpl\n"
        "class ZeroTp(Rule):\n    code = 'ACME402'\n    name = 'zero-tp'\n    severity = Severity.WARNING\n"
        "    summary = 'asks for tp = 0'\n"
        "    def check(self, ctx):\n"
        "        yield self.report('/parallelism/tp', 'tp should be 0', fixes=[Fix.set('/parallelism/tp', 0, 'set tp to 0')])\n"
        "@hookimpl\ndef deploylint_rules():\n    return [ZeroTp()]\n")
    (tmp_path / "deploylint.toml").write_text('plugins = ["zero_tp_rules"]\nselect = ["ACME402"]\n')
    uri = _uri(tmp_path)
    _open(client, uri, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    (finding,) = [d for d in client.diagnostics[uri] if d.code == "ACME402"]
    quick = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=finding.range,
        context=types.CodeActionContext(diagnostics=[finding], only=[types.CodeActionKind.QuickFix])))
    assert not quick                                          # "set tp to 0" would give the plan a DL002
    fix_all = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=[], only=["source.fixAll.deploylint"])))
    assert not fix_all


async def test_a_serving_manifest_is_linted_with_related_information_and_a_quick_fix(client: LanguageClient, tmp_path):
    # Not a plan: a Kubernetes Deployment running vLLM with --tensor-parallel-size from the container env
    manifest = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: llama\nspec:\n  template:\n    spec:\n"
                "      containers:\n      - name: vllm\n        image: vllm/vllm-openai\n"
                "        command: [\"sh\", \"-c\", \"vllm serve meta-llama/Llama-3.1-8B-Instruct --tensor-parallel-size $TP\"]\n"
                "        env:\n        - name: TP\n          value: \"3\"\n"
                "        resources:\n          limits:\n            nvidia.com/gpu: 4\n")
    uri = _uri(tmp_path, "llama.yaml")
    _open(client, uri, manifest)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    par = next(d for d in client.diagnostics[uri] if d.code == "PAR402")
    assert par.range.start.line == 10                                  # the $TP word of the sh -c string
    assert [(i.message, i.location.range.start.line) for i in par.related_information] == [
        ("TP is set here (container env)", 13)]
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=par.range,
        context=types.CodeActionContext(diagnostics=[par], only=[types.CodeActionKind.QuickFix])))
    edits = [e for a in actions for e in a.edit.changes[uri]]
    assert edits and all(e.range.start.line == 13 for e in edits)    # the fix edits the env value
    # a manifest that is not a serving deployment: nothing
    web = _uri(tmp_path, "web.yaml")
    _open(client, web, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n")
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[web]) == []


async def test_a_megatron_launch_script_is_linted_with_the_token_and_the_definition(client: LanguageClient, tmp_path):
    # Not a plan: a Megatron-LM launch script whose --max-position-embeddings is below --seq-length (MEG003)
    script = ("#!/bin/bash\nPOS=1024\nARGS=(\n    --num-layers 8 --hidden-size 1024 --num-attention-heads 16\n"
              "    --seq-length 2048 --max-position-embeddings $POS\n)\n"
              "torchrun --nproc_per_node 8 pretrain_gpt.py \"${ARGS[@]}\" --vocab-size 32000\n")
    uri = _uri(tmp_path, "train.sh")
    _open(client, uri, script)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    meg = next(d for d in client.diagnostics[uri] if d.code == "MEG003")
    assert meg.range.start.line == 4                                   # the $POS word inside the array
    assert [(i.message, i.location.range.start.line) for i in meg.related_information] == [("POS is set here", 1)]
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=meg.range,
        context=types.CodeActionContext(diagnostics=[meg], only=[types.CodeActionKind.QuickFix])))
    edits = [e for a in actions for e in a.edit.changes[uri]]
    assert edits and all(e.range.start.line == 1 and e.new_text == "2048" for e in edits)   # POS=1024 → 2048


async def test_hostile_plugins_neither_corrupt_nor_hang_the_server(client: LanguageClient, tmp_path):
    """Plugins that print, exit, loop and return garbage (the modules of test_hostile_plugins): each is a DL005
    naming it, the well-behaved plugin still reports, the stdio channel stays clean and the server keeps serving."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hostile_cases", os.path.join(os.path.dirname(__file__), "..", "host",
                                                                                 "test_hostile_plugins.py"))
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    names = [cases.write_case(tmp_path, case) for case in sorted(cases.CASES)]
    (tmp_path / "friendly.py").write_text(cases.FRIENDLY)
    listed = ", ".join(f'"{n}"' for n in [*names, "friendly"])
    (tmp_path / "deploylint.toml").write_text(f"plugins = [{listed}]\nrule-timeout = 1\n")
    uri = _uri(tmp_path)
    _open(client, uri, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    diags = client.diagnostics[uri]
    failures = [d.message for d in diags if d.code == "DL005"]
    for name in names:
        assert any(repr(name) in m for m in failures), (name, failures)
    assert "ACME001" in [d.code for d in diags] and "MOE301" in [d.code for d in diags]
    # still serving, and quickly: the hung plugins are not run again
    other = _uri(tmp_path, "second.plan.toml")
    _open(client, other, PLAN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert "ACME001" in [d.code for d in client.diagnostics[other]]


# ------------------------------------------------------------------------------- training configurations
# Each family in the shape of its public examples; the server lints it from the buffer like the CLI, with the
# finding at the value token and a quick fix that edits only that token (or, where the file holds no single token
# for the value, an action that says why no fix is offered).

async def _lint(client, tmp_path, name, text, code):
    """Open ``text`` as ``name``; the uri and the one published finding of ``code``."""
    uri = _uri(tmp_path, name)
    _open(client, uri, text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri, next(d for d in client.diagnostics[uri] if d.code == code)


async def _quick_fixes(client, uri, diagnostic):
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic], only=[types.CodeActionKind.QuickFix])))


def _token(text, rng):
    return text.splitlines()[rng.start.line][rng.start.character:rng.end.character]


def _applied(text, edits):
    """The text after an action's edits (ASCII texts: LSP characters are code points)."""
    lines = text.splitlines(keepends=True)

    def offset(pos):
        return sum(len(line) for line in lines[:pos.line]) + pos.character

    for e in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[:offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


async def test_a_torchtitan_job_toml_is_linted_at_the_token_and_fixed_there(client: LanguageClient, tmp_path):
    job = ("# NOTE: this toml config is a preset for 64 H100 GPUs.\n\n[model]\nname = \"llama3\"\nflavor = \"70B\"\n\n"
           "[training]\nlocal_batch_size = 8\nglobal_batch_size = 60\nseq_len = 8192\n\n[parallelism]\n"
           "data_parallel_shard_degree = -1\ntensor_parallel_degree = 8\n")
    uri, par = await _lint(client, tmp_path, "llama3_70b.toml", job, "PAR406")    # 60 over local 8 × dp 64 / 8
    assert par.range.start.line == 8 and _token(job, par.range) == "60"
    assert "TorchTitan refuses to start" in par.message
    actions = await _quick_fixes(client, uri, par)
    (action,) = actions
    assert _applied(job, action.edit.changes[uri]) == job.replace("global_batch_size = 60", "global_batch_size = 64")


async def test_a_deepspeed_config_is_linted_with_the_configured_model_and_fixed_at_its_token(client: LanguageClient,
                                                                                           tmp_path):
    # the model, the accelerator and the world are not in a ds_config: the repository's configuration gives them
    (tmp_path / "pyproject.toml").write_text(
        '[tool.deploylint.hardware]\naccelerator = "a100-40gb"\nnum_devices = 8\n\n[tool.deploylint.workload]\n'
        'seq_len = 2048\n\n[tool.deploylint.models]\n"ds_config.json" = { id = "meta-llama/Llama-3.1-8B" }\n')
    config = ('{\n  "train_batch_size": 64,\n  "train_micro_batch_size_per_gpu": 2,\n  "gradient_accumulation_steps": 4,\n'
              '  "bf16": {"enabled": true},\n  "zero_optimization": {"stage": 1}\n}\n')
    uri, mem = await _lint(client, tmp_path, "ds_config.json", config, "MEM101")   # Llama 3.1 8B at ZeRO-1 on 40 GiB
    actions = await _quick_fixes(client, uri, mem)
    zero3 = next(a for a in actions if "ZeRO stage 3" in a.title)
    assert _applied(config, zero3.edit.changes[uri]) == config.replace('"stage": 1', '"stage": 3')   # that token


async def test_an_accelerate_config_is_linted_at_the_token_and_says_why_when_no_fix_is_offered(client: LanguageClient,
                                                                                             tmp_path):
    config = ("distributed_type: FSDP\nnum_machines: 1\nnum_processes: 16\nparallelism_config:\n"
              "  parallelism_config_dp_replicate_size: 2\n  parallelism_config_dp_shard_size: 2\n"
              "  parallelism_config_tp_size: 2\n")
    # the mesh 2·2·2 = 8 ≠ 16 processes
    uri, par = await _lint(client, tmp_path, "accelerate_config.yaml", config, "PAR401")
    assert "ParallelismConfig total_size (8) does not match num_processes (16)" in par.message
    assert _token(config, par.range) == "2" and par.range.start.line == 5        # the dp_shard size
    actions = await _quick_fixes(client, uri, par)
    (action,) = actions
    assert _applied(config, action.edit.changes[uri]) == config.replace("dp_shard_size: 2", "dp_shard_size: 4")
    # dp 8 over a replicate size of 3 has no shard size: the menu says why instead of offering an edit
    odd = config.replace("dp_replicate_size: 2", "dp_replicate_size: 3")
    uri, par = await _lint(client, tmp_path, "accelerate_odd.yaml", odd, "PAR401")
    actions = await _quick_fixes(client, uri, par)
    assert [a.edit for a in actions] == [None]
    (refused,) = actions
    assert refused.title == "PAR401: no fix offered"
    assert refused.disabled.reason.startswith("Accelerate's dp is parallelism_config_dp_replicate_size × "
                                              "parallelism_config_dp_shard_size, and dp = 8 is not a multiple of")


async def test_a_megatron_bridge_override_is_linted_at_the_token_and_fixed_there(client: LanguageClient, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.deploylint.hardware]\nnum_devices = 8\n")
    override = ("# override for a recipe\nmodel:\n  seq_length: 4096\n  tensor_model_parallel_size: 2\ntrain:\n"
                "  train_iters: 100\n  global_batch_size: 30\n  micro_batch_size: 1\n")
    uri, par = await _lint(client, tmp_path, "override.yaml", override, "PAR406")    # 30 over dp = 8 / tp 2 = 4
    assert par.range.start.line == 6 and _token(override, par.range) == "30"
    actions = await _quick_fixes(client, uri, par)
    assert [_applied(override, a.edit.changes[uri]) for a in actions] == [
        override.replace("global_batch_size: 30", f"global_batch_size: {b}") for b in (28, 32)]
