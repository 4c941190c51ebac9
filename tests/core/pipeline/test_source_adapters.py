"""The machinery a source adapter uses, exercised by a tiny third-party adapter defined here.

The adapter reads lines ``toyserve MODEL --tp N [--gpus N]`` (one plan per line, so a file can hold
several) and uses only the public API: Document with spans, a SpanWriter, related locations, origins,
``partial``. The tests check what deploylint does with it: findings at the flag's token, fixes written
into the original line, several plans per file, candidates no adapter claims left alone, values the
file does not say filled from the command line and the configuration, each with an info.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from deploylint.core import Document, NodeSpan, Related, Span, SpanWriter, hookimpl
from deploylint.core.document.writers.span_writer import Binding
from deploylint.core.frontends.cli import main
from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine
from deploylint.core.pipeline.fixing import fix_text

_LINE = re.compile(r"^toyserve (?P<model>\S+) --tp (?P<tp>\S+)(?: --gpus (?P<gpus>\d+))?[ \t]*$", re.M)
_ENV = re.compile(r"^(?P<name>[A-Z_]+)=(?P<value>\d+)$", re.M)


def read(path, text):
    if "toyserve" not in text:
        return None
    env = {m["name"]: m for m in _ENV.finditer(text)}
    docs = []
    for index, m in enumerate(_LINE.finditer(text)):
        spans = {"": NodeSpan(Span(m.start(), m.end())),
                 "/parallelism": NodeSpan(Span(m.start(), m.start() + 8)),
                 "/model": NodeSpan(Span(m.start("model"), m.end("model"))),
                 "/model/id": NodeSpan(Span(m.start("model"), m.end("model")))}
        related, bindings, skipped = {}, {}, []
        tp_token = m["tp"]
        start, end = m.start("tp"), m.end("tp")
        spans["/parallelism/tp"] = NodeSpan(Span(start, end))
        data = {"model": {"id": m["model"]}, "parallelism": {"dp": 1}}     # the engine runs one replica
        if tp_token.startswith("$") and tp_token[1:] in env:
            d = env[tp_token[1:]]
            data["parallelism"]["tp"] = int(d["value"])
            related["/parallelism/tp"] = (Related(f"{d['name']} is set here", start=d.start("value"), end=d.end("value")),)
            bindings["/parallelism/tp"] = Binding(d.start("value"), d.end("value"))
        elif tp_token.isdigit():
            data["parallelism"]["tp"] = int(tp_token)
            bindings["/parallelism/tp"] = Binding(start, end)
        else:
            skipped.append((f"--tp {tp_token} (unresolved)", "/parallelism/tp"))
        origins = {}
        if m["gpus"]:
            data["hardware"] = {"num_devices": int(m["gpus"])}
            origins["/hardware/num_devices"] = f"hardware.num_devices = {m['gpus']}: from --gpus"
            spans["/hardware/num_devices"] = NodeSpan(Span(m.start("gpus"), m.end("gpus")))

        def insert(pointer, value, _m=m):
            if pointer == "/hardware/num_devices":
                return _m.end(), f" --gpus {value}"
            return None

        doc = Document(path, text, "toml", data, spans, label=f"line {text.count(chr(10), 0, m.start()) + 1}",
                       related=related, origins=origins, partial=True, skipped=skipped)
        doc.writer = SpanWriter(bindings, reload=lambda new, i=index: read(path, new)[i], insert=insert)
        docs.append(doc)
    return docs


class ToyAdapter:
    @hookimpl
    def deploylint_source(self, path, text):
        return read(path, text)


def engine(config=None, adapter=None):
    registry = Registry()
    registry.register_object(adapter or ToyAdapter(), "toy_adapter")
    registry.load(autoload=True)
    return Engine(registry, config or Config())


def plugin_module(tmp_path, monkeypatch, name: str, reader: str = "read") -> str:
    """A plugin module ``name`` (importable with --plugin) whose source hook is ``reader`` of this file."""
    plugin_dir = tmp_path / "plug"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / f"{name}.py").write_text(
        "from deploylint.core import hookimpl\n"
        f"import importlib.util\nspec = importlib.util.spec_from_file_location('{name}_impl', {__file__!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        f"@hookimpl\ndef deploylint_source(path, text):\n    return mod.{reader}(path, text)\n")
    monkeypatch.syspath_prepend(str(plugin_dir))
    return name


def codes(result):
    return [d.code for d in result.diagnostics]


def test_a_finding_lands_on_the_flag_token_of_the_plan_it_is_about():
    text = "#!/bin/sh\ntoyserve meta-llama/Llama-3.1-8B --tp 2\ntoyserve meta-llama/Llama-3.1-8B --tp 3\n"
    result = engine().check_text("serve.sh", text)
    par402 = [d for d in result.diagnostics if d.code == "PAR402"]
    assert len(par402) == 1 and len(result.documents) == 2
    d = par402[0]
    assert (d.range.start.line, d.range.start.column, d.range.end.column) == (3, 39, 40)
    assert d.message.startswith("[line 3] ") and "32 attention heads do not divide by tp=3" in d.message


def test_values_the_file_does_not_say_are_reported_with_their_origin_and_unknown_inputs_skip_rules():
    text = "toyserve meta-llama/Llama-3.1-8B --tp 2\n"
    result = engine().check_text("serve.sh", text)
    infos = [d.message for d in result.diagnostics if d.code == "DL010"]
    assert any("num_devices = 2: the GPUs the layout uses" in m for m in infos)
    skipped = next(d for d in result.diagnostics if d.code == "DL010" and "checks were not run" in d.message)
    assert "MEM101" in skipped.data["skipped"] and "PAR402" not in skipped.data["skipped"]
    assert not [c for c in codes(result) if c.startswith(("MEM", "CMP", "PRF")) or c < "DL010"]


def test_the_command_line_wins_over_the_configuration_which_wins_over_the_file():
    text = "toyserve meta-llama/Llama-3.1-8B --tp 2 --gpus 2\n"
    cfg = Config(hardware={"accelerator": "a100-80gb", "num_devices": 4})
    cfg.cli_hardware = {"num_devices": 8}
    result = engine(cfg).check_text("serve.sh", text)
    infos = [d.message for d in result.diagnostics if d.code == "DL010"]
    assert any("num_devices = 8: from --num-devices on the command line" in m for m in infos)
    assert any("accelerator = 'a100-80gb': from [tool.deploylint.hardware]" in m for m in infos)
    assert not any("from --gpus" in m for m in infos)          # overridden, so not reported as the value used
    assert result.plan.hardware.num_devices == 8 and result.plan.hardware.accelerator == "a100-80gb"
    par401 = next(d for d in result.diagnostics if d.code == "PAR401")
    assert "= 2, but num_devices = 8" in par401.message


def test_an_unsafe_fix_edits_the_flag_value_in_place_keeping_every_other_byte():
    # 32 heads do not divide by tp=5; of the layouts on 4 GPUs the nearest tp is 4 (dp stays 1)
    text = "# keep me\ntoyserve meta-llama/Llama-3.1-8B --tp 5 --gpus 4   \n"
    new, result, applied, problems = fix_text(engine(), "serve.sh", text, unsafe=True)
    assert not problems and applied
    assert new == "# keep me\ntoyserve meta-llama/Llama-3.1-8B --tp 4 --gpus 4   \n"
    assert "PAR402" not in codes(result) and "PAR401" not in codes(result)


def test_a_finding_on_a_variable_points_at_its_definition_and_the_fix_edits_the_definition():
    text = "TP=5\ntoyserve meta-llama/Llama-3.1-8B --tp $TP --gpus 4\n"
    result = engine().check_text("serve.sh", text)
    d = next(d for d in result.diagnostics if d.code == "PAR402")
    assert d.range.start.line == 2
    assert [(r.message, r.range.start.line, r.range.start.column) for r in d.related] == [("TP is set here", 1, 4)]
    fix = next(f for f in d.fixes if f.edits)
    assert [(e.range.start.line, e.range.start.column) for e in fix.edits] == [(1, 4)]


def test_related_locations_in_json_sarif_and_text(tmp_path, capsys, monkeypatch):
    plugin_module(tmp_path, monkeypatch, "toy_plugin")
    script = tmp_path / "serve.sh"
    script.write_text("TP=3\ntoyserve meta-llama/Llama-3.1-8B --tp $TP\n")
    main(["check", str(script), "--plugin", "toy_plugin", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    d = next(d for d in report["diagnostics"] if d["code"] == "PAR402")
    assert d["related"] == [{"message": "TP is set here", "file": None,
                             "range": {"start": {"line": 1, "column": 4}, "end": {"line": 1, "column": 5}}}]
    main(["check", str(script), "--plugin", "toy_plugin", "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "PAR402")
    assert result["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert result["relatedLocations"][0]["message"]["text"] == "TP is set here"
    main(["check", str(script), "--plugin", "toy_plugin"])
    assert "see " + str(script) + ":1:4: TP is set here" in capsys.readouterr().out


def test_an_unread_value_is_an_info_and_the_other_checks_still_run():
    text = "toyserve meta-llama/Llama-3.1-8B --tp $(nproc) --gpus 3\n"
    result = engine().check_text("serve.sh", text)
    d = next(d for d in result.diagnostics if d.code == "DL010" and "not read" in d.message)
    assert "--tp $(nproc) (unresolved)" in d.message and (d.range.start.column, d.range.end.column) == (39, 47)
    par401 = next(d for d in result.diagnostics if d.code == "PAR401")     # tp at its default 1: 1 GPU of 3
    assert "= 1, but num_devices = 3" in par401.message


def test_an_unknown_model_id_is_dl004_naming_the_three_ways(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = engine().check_text("serve.sh", "toyserve acme/secret-model --tp 2\n")
    d = next(d for d in result.diagnostics if d.code == "DL004")
    assert "Hugging Face cache" in d.message and "[tool.deploylint.models]" in d.message and "[model] fields" in d.message
    assert (d.range.start.column, d.range.end.column) == (10, 27)


def test_directory_discovery_offers_candidates_and_leaves_unclaimed_ones_alone(tmp_path, capsys, monkeypatch):
    (tmp_path / "service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n")
    (tmp_path / "notes.json").write_text("[1, 2")          # broken, but not a plan: nobody claims it
    (tmp_path / "run.sh").write_text("toyserve meta-llama/Llama-3.1-70B --tp 8\n")
    plugin_module(tmp_path, monkeypatch, "toy_plugin2")
    code = main(["check", str(tmp_path), "--plugin", "toy_plugin2", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    files = {os.path.basename(d["file"]) for d in report["diagnostics"]}
    assert files == {"run.sh"} and report["summary"]["files"] == 1
    assert code == 0          # only infos: the 70B layout is fine as far as deploylint can tell without hardware


# ------------------------------------------------------------------------------------------------ derived values

_TRAIN = re.compile(r"^toytrain (?P<model>\S+) --tp (?P<tp>\d+) --micro (?P<micro>\d+) --gas (?P<gas>\d+)[ \t]*$", re.M)


def read_training(path, text):
    """``toytrain MODEL --tp N --micro N --gas N``: a global batch of micro × gas × dp, dp being the world's."""
    if "toytrain" not in text:
        return None
    from deploylint.core import Derived

    m = _TRAIN.search(text)
    micro, gas = int(m["micro"]), int(m["gas"])
    data = {"model": {"id": m["model"]}, "parallelism": {"tp": int(m["tp"]), "micro_batch_size": micro},
            "workload": {"mode": "training", "seq_len": 2048}}
    spans = {"": NodeSpan(Span(m.start(), m.end())), "/parallelism": NodeSpan(Span(m.start(), m.start() + 8)),
             "/parallelism/tp": NodeSpan(Span(m.start("tp"), m.end("tp"))),
             "/workload/batch_size": NodeSpan(Span(m.start("micro"), m.end("gas")))}
    doc = Document(path, text, "toml", data, spans, partial=True,
                   derived={"/workload/batch_size": Derived(micro * gas, ("dp",), "the global batch is --micro × "
                                                                                  "--gas × dp")})
    doc.writer = SpanWriter({}, reload=lambda new: read_training(path, new)[0])     # no value is bound: no fix
    return [doc]


class ToyTrainer:
    @hookimpl
    def deploylint_source(self, path, text):
        return read_training(path, text)


def training_engine(config=None):
    return engine(config, ToyTrainer())


TRAIN = "toytrain meta-llama/Llama-3.1-8B --tp 2 --micro 3 --gas 2\n"


def test_a_derived_value_is_computed_once_the_device_count_is_known_and_reported_at_its_tokens():
    cfg = Config()
    cfg.cli_hardware = {"num_devices": 8}
    result = training_engine(cfg).check_text("train.sh", TRAIN)
    assert result.plan.workload.batch_size == 24 and result.plan.parallelism.dp == 4    # 3 × 2 × 8 / 2
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message == ("workload.batch_size = 24: the global batch is --micro × --gas × dp "
                         "(6 × dp 4; dp 4 = 8 devices / tp·pp·cp 2)")
    assert d.data == {"key": "workload.batch_size", "value": 24, "origin": "derived", "factor": 6, "degrees": {"dp": 4}}
    assert TRAIN[d.range.start.column - 1:d.range.end.column - 1] == "3 --gas 2"
    assert "workload" not in result.plan.unknown             # the batch rules run on it (PAR406: 24 = 3 × 4 × 2)
    assert "PAR406" not in codes(result)
    # the same from [tool.deploylint.hardware]
    result = training_engine(Config(hardware={"num_devices": 8})).check_text("train.sh", TRAIN)
    assert result.plan.workload.batch_size == 24


def test_without_a_device_count_a_derived_value_is_unknown_and_an_info_says_why():
    result = training_engine().check_text("train.sh", TRAIN)
    (d,) = [d for d in result.diagnostics if d.code == "DL010" and d.path == "/workload/batch_size"]
    assert d.message == ("workload.batch_size is not known: the global batch is --micro × --gas × dp, and dp is not "
                         "known without a device count (--num-devices N, or num_devices in [tool.deploylint.hardware])")
    assert "workload" in result.plan.unknown and "PAR406" not in codes(result)


def test_a_configured_value_is_kept_over_the_derivation_and_checked():
    cfg = Config(workload={"batch_size": 32})
    cfg.cli_hardware = {"num_devices": 8}
    result = training_engine(cfg).check_text("train.sh", TRAIN)
    assert result.plan.workload.batch_size == 32
    assert not [d for d in result.diagnostics if d.data.get("origin") == "derived"]
    d = next(d for d in result.diagnostics if d.code == "PAR406")          # 32 over micro 3 × dp 4 = 12
    assert "global batch 32 is not a multiple of micro_batch_size × dp = 3 × 4 = 12" in d.message


def test_a_derived_value_crosses_from_a_third_party_adapter_in_its_worker(tmp_path, capsys, monkeypatch):
    plugin_module(tmp_path, monkeypatch, "toy_trainer_plugin", "read_training")
    script = tmp_path / "train.sh"
    script.write_text(TRAIN)
    main(["check", str(script), "--plugin", "toy_trainer_plugin", "--num-devices", "16", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    (d,) = [d for d in report["diagnostics"] if d["path"] == "/workload/batch_size"]
    assert d["code"] == "DL010" and d["data"]["value"] == 48 and d["data"]["degrees"] == {"dp": 8}
    assert d["range"]["start"] == {"line": 1, "column": 49}          # the "3" of --micro 3
