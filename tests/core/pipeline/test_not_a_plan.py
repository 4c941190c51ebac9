"""A file named on the command line that no source adapter reads and that is not a plan: one info (DL011) saying
so and what deploylint reads, exit 0 — not a page of schema errors. A plan with typos keeps its DL002/DL003."""

from __future__ import annotations

import json

from deploylint.core.frontends.cli import main

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: vllm-leader
spec:
  ports:
    - name: http
      port: 8080
      targetPort: 8080
  selector:
    leaderworkerset.sigs.k8s.io/name: vllm
    role: leader
  type: ClusterIP
"""


def run(tmp_path, capsys, *files):
    code = main(["check", "--format", "json", *[str(f) for f in files]])
    return code, json.loads(capsys.readouterr().out)


def test_a_named_manifest_that_is_no_serving_deployment_is_one_info_and_exit_0(tmp_path, capsys):
    f = tmp_path / "service.yaml"
    f.write_text(SERVICE)
    code, out = run(tmp_path, capsys, f)
    assert code == 0
    diags = out["diagnostics"]
    assert [d["code"] for d in diags] == ["DL011"] and diags[0]["severity"] == "info"
    message = diags[0]["message"]
    assert "not a deploylint plan" in message and "no source adapter reads it" in message
    assert "vllm" in message and "megatron" in message          # the adapters loaded, by name
    assert diags[0]["range"]["start"]["line"] == 1


def test_other_files_that_are_no_plans_are_left_alone_the_same_way(tmp_path, capsys):
    script = tmp_path / "backup.sh"
    script.write_text("#!/bin/sh\nrsync -a /data /backup\n")
    package = tmp_path / "package.json"
    package.write_text('{"name": "web", "version": "1.0.0", "scripts": {"build": "vite"}}\n')
    tool = tmp_path / "tool.py"
    tool.write_text("import sys\nprint(sys.argv)\n")
    pyproject = tmp_path / "settings.toml"
    pyproject.write_text('[server]\nport = 8080\nhost = "0.0.0.0"\n')
    code, out = run(tmp_path, capsys, script, package, tool, pyproject)
    assert code == 0
    assert sorted((d["code"], d["file"].rsplit("/", 1)[-1]) for d in out["diagnostics"]) == [
        ("DL011", "backup.sh"), ("DL011", "package.json"), ("DL011", "settings.toml"), ("DL011", "tool.py")]


def test_a_multi_document_manifest_of_no_serving_objects_is_not_a_broken_plan(tmp_path, capsys):
    f = tmp_path / "svc.yaml"
    f.write_text(SERVICE + "---\n" + SERVICE.replace("vllm-leader", "vllm-worker"))
    code, out = run(tmp_path, capsys, f)
    assert code == 0 and [d["code"] for d in out["diagnostics"]] == ["DL011"]


def test_a_plan_with_typos_still_gets_its_schema_findings(tmp_path, capsys):
    f = tmp_path / "plan.toml"
    f.write_text('schema_version = 1\n[modle]\nid = "meta-llama/Llama-3.1-8B"\n[paralelism]\ntp = 2\n')
    code, out = run(tmp_path, capsys, f)
    found = {d["code"] for d in out["diagnostics"]}
    assert code == 1 and "DL011" not in found and found & {"DL002", "DL003"}
    only_typos = tmp_path / "typos.yaml"
    only_typos.write_text("schema_verison: 1\nmodle:\n  id: meta-llama/Llama-3.1-8B\nparalelism:\n  tp: 2\n")
    code, out = run(tmp_path, capsys, only_typos)
    found = {d["code"] for d in out["diagnostics"]}
    assert code == 1 and "DL011" not in found and found & {"DL002", "DL003"}


def test_a_named_file_that_does_not_parse_is_still_a_parse_error(tmp_path, capsys):
    f = tmp_path / "plan.toml"
    f.write_text("schema_version = 1\n[model\n")
    code, out = run(tmp_path, capsys, f)
    assert code == 1 and [d["code"] for d in out["diagnostics"]] == ["DL001"]


def test_a_file_whose_name_says_it_is_a_plan_is_read_as_one(tmp_path, capsys):
    f = tmp_path / "deploy-web.yaml"                 # the include patterns (deploy*.yaml) name plans
    f.write_text(SERVICE)
    code, out = run(tmp_path, capsys, f)
    assert code == 1 and "DL011" not in {d["code"] for d in out["diagnostics"]}
