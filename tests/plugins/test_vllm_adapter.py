"""The vLLM adapter on files written in the shapes of real deployments (scripts, LWS manifests with
``sh -c`` and ``|-`` commands, list-form args, ``--config`` YAML, production-stack values).

Model architectures come from the bundled catalog (core/plan/catalog.py, cited there):
Llama-3.1-8B has 32 heads / 8 KV heads and 131072 positions; Llama-3.1-70B 64 heads; DeepSeek-R1 256 experts.
"""

from __future__ import annotations

import json

import pytest

from deploylint.core.frontends.cli import main
from deploylint.core.host.registry import Registry
from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine
from deploylint.core.pipeline.fixing import fix_text


def check(path, text, config=None):
    return Engine(Registry().load(), config or Config()).check_text(path, text, candidate=True)


def codes(result):
    return sorted(d.code for d in result.diagnostics if d.code != "DL010")


SCRIPT = """#!/bin/bash
# serve Llama on three GPUs
MODEL=meta-llama/Llama-3.1-8B-Instruct
vllm serve $MODEL \\
  --tensor-parallel-size 3 \\
  --max-model-len 200000
"""


def test_a_script_heads_and_context_length_checked_at_the_flag_tokens():
    result = check("serve.sh", SCRIPT)
    assert codes(result) == ["PAR402", "SRV001"]
    par = next(d for d in result.diagnostics if d.code == "PAR402")
    assert (par.range.start.line, par.range.start.column, par.range.end.column) == (5, 26, 27)
    srv = next(d for d in result.diagnostics if d.code == "SRV001")
    assert "--max-model-len 200000 is longer than the model's max_position_embeddings 131072" in srv.message
    assert (srv.range.start.line, srv.range.start.column) == (6, 19)
    assert srv.related == () and any(r.message == "MODEL is set here" for d in result.diagnostics
                                     if d.path == "/model/id" for r in d.related) is False


def test_unsafe_fixes_repair_the_script_in_place():
    # On the 3 GPUs of the layout, the feasible layout nearest to tp=3 is tp=1 with 3 replicas
    new, result, applied, problems = fix_text(Engine(Registry().load(), Config()), "serve.sh", SCRIPT, unsafe=True,
                                             candidate=True)
    assert not problems and codes(result) == []
    assert new == SCRIPT.replace("--tensor-parallel-size 3", "--tensor-parallel-size 1").replace(
        "--max-model-len 200000", "--max-model-len 131072 --data-parallel-size 3")


LWS = """apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata:
  name: big
spec:
  replicas: 1
  leaderWorkerTemplate:
    size: 2
    leaderTemplate:
      spec:
        containers:
          - name: leader
            image: vllm/vllm-openai:latest
            command:
              - sh
              - -c
              - "python3 -m vllm.entrypoints.openai.api_server --model meta-llama/Llama-3.1-70B-Instruct
                 --tensor-parallel-size 8 --pipeline_parallel_size 4"
            resources:
              limits:
                nvidia.com/gpu: "8"
    workerTemplate:
      spec:
        containers:
          - name: worker
            image: vllm/vllm-openai:latest
            command: ["sh", "-c", "ray start --block"]
            resources:
              limits:
                nvidia.com/gpu: "8"
---
apiVersion: v1
kind: Service
metadata:
  name: big
"""


def test_lws_gpus_requested_against_gpus_the_layout_uses_inside_a_folded_sh_c_string():
    result = check("lws.yaml", LWS)
    d = next(d for d in result.diagnostics if d.code == "PAR401")
    assert "tp·pp·cp·dp = 8·4·1·1 = 32, but num_devices = 16" in d.message
    origin = next(x for x in result.diagnostics if x.code == "DL010" and "GPUs the pods request" in x.message)
    assert "LeaderWorkerSet size 2 (line 8) × nvidia.com/gpu 8 per pod" in origin.message
    pp = [x for x in result.diagnostics if x.path == "/parallelism/pp"]
    line = LWS.splitlines()[17]
    assert line.index("4") + 1 in [x.range.start.column for x in result.diagnostics if x.range.start.line == 18] or not pp


LLMD = """apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata:
  name: decode
spec:
  leaderWorkerTemplate:
    size: 2
    workerTemplate:
      spec:
        containers:
        - name: vllm
          image: vllm/vllm-openai:latest
          command: ["/bin/bash", "-c"]
          args:
            - |-
              exec vllm serve deepseek-ai/DeepSeek-R1 \\
                --enable-expert-parallel --enable-eplb \\
                --tensor-parallel-size $TP_SIZE \\
                --data-parallel-size $((LWS_GROUP_SIZE * DP_SIZE_LOCAL)) \\
                --eplb-config '{"num_redundant_experts": "30"}'
          env:
          - name: DP_SIZE_LOCAL
            value: "8"
          - name: TP_SIZE
            value: "1"
          resources:
            limits:
              nvidia.com/gpu: "8"
"""


def test_env_and_lws_variables_resolve_and_eplb_divisibility_is_vllms_error():
    result = check("decode.yaml", LLMD)
    assert result.plan.parallelism.dp == 16 and result.plan.parallelism.ep == 16
    d = next(d for d in result.diagnostics if d.code == "MOE301")
    assert "256 experts + 30 redundant = 286 do not divide by ep=16" in d.message
    assert d.severity.value == "error" and "vLLM 0.33.0 refuses to start" in d.message    # EPLB: vLLM's error
    assert "PAR401" not in codes(result)                     # 2 pods × 8 GPUs = dp 16 × tp 1
    env_fix = LLMD.replace('value: "1"', 'value: "3"')
    bad = check("decode.yaml", env_fix)
    d = next(d for d in bad.diagnostics if d.code == "PAR401")      # 3·16 = 48 GPUs in the layout, 16 requested
    assert "= 48, but num_devices = 16" in d.message and d.range.start.line == 19      # the --data-parallel-size word
    assert [r.message for r in d.related] == ["DP_SIZE_LOCAL is set here (container env)"]
    assert d.related[0].range.start.line == 23


def test_a_manifest_that_is_not_a_serving_deployment_is_left_alone(tmp_path, capsys):
    (tmp_path / "web.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
                                       "  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx\n"
                                       "        args: [\"--port\", \"80\"]\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho hello\n")
    # nothing in the folder is a plan or a serving file: an error, never "all clear, 0 files"
    assert main(["check", str(tmp_path), "--format", "json"]) == 2
    assert "nothing to check" in capsys.readouterr().err
    (tmp_path / "serve.sh").write_text("vllm serve meta-llama/Llama-3.1-8B -tp 2\n")
    assert main(["check", str(tmp_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {d["file"].rsplit("/", 1)[-1] for d in report["diagnostics"]} == {"serve.sh"}
    assert report["summary"]["files"] == 1


def test_config_yaml_and_helm_values():
    cfg = check("vllm.yaml", "model: meta-llama/Llama-3.1-8B\ntensor_parallel_size: 2\nmax-num-batched-tokens: 4096\n"
                             "max-model-len: 8192\nenable-chunked-prefill: false\n")
    d = next(d for d in cfg.diagnostics if d.code == "SRV002")
    assert "max_num_batched_tokens 4096 is smaller than max_model_len 8192" in d.message and d.range.start.line == 3
    helm = check("values.yaml", "servingEngineSpec:\n  modelSpec:\n  - name: big\n    modelURL: meta-llama/Llama-3.1-70B-Instruct\n"
                                "    requestGPU: 2\n    vllmConfig:\n      tensorParallelSize: 4\n")
    d = next(d for d in helm.diagnostics if d.code == "PAR401")
    assert "= 4, but num_devices = 2" in d.message and d.range.start.line == 3      # the modelSpec entry


def test_kv_cache_for_one_request_with_the_accelerator_from_the_command_line():
    # Llama-3.1-70B in bf16: 70.6e9 parameters × 2 bytes = 131 GiB on one 80 GiB H100 (tp 1)
    cfg = Config()
    cfg.cli_hardware = {"accelerator": "h100-sxm"}
    result = check("serve.sh", "vllm serve meta-llama/Llama-3.1-70B-Instruct --max-model-len 8192\n", cfg)
    d = next(d for d in result.diagnostics if d.code == "SRV003")
    assert "no memory left for the KV cache" in d.message
    assert 125 < d.data["weights_gib"] < 135 and d.data["capacity_gib"] == 80
    ok = check("serve.sh", "vllm serve meta-llama/Llama-3.1-70B-Instruct -tp 4 --max-model-len 8192\n", cfg)
    assert "SRV003" not in codes(ok)


KSERVE = """apiVersion: serving.kserve.io/v1alpha2
kind: LLMInferenceService
metadata:
  name: r1
spec:
  model:
    uri: hf://deepseek-ai/DeepSeek-R1
  parallelism:
    data: 16
    dataLocal: 8
    expert: true
    tensor: 1
  template:
    containers:
      - name: main
        env:
          - name: VLLM_ADDITIONAL_ARGS
            value: "--max-model-len 8192 --enable-eplb --eplb-config '{\\"num_redundant_experts\\": 8}'"
        resources:
          limits:
            nvidia.com/gpu: "8"
"""


def test_kserve_parallelism_pods_and_additional_args():
    # data 16 / dataLocal 8 = 2 pods × 8 GPUs = 16 = dp (EP over tp·dp = 16); EPLB: 256 + 16 = 272 = 16 × 17
    result = check("llmisvc.yaml", KSERVE.replace('redundant_experts\\": 8', 'redundant_experts\\": 16'))
    assert result.plan.parallelism.ep == 16 and result.plan.hardware.num_devices == 16
    assert result.plan.serving.max_model_len == 8192 and codes(result) == []
    bad = check("llmisvc.yaml", KSERVE)          # 256 + 8 = 264 physical experts on 16 EP ranks
    d = next(d for d in bad.diagnostics if d.code == "MOE301")
    assert "256 experts + 8 redundant = 264 do not divide by ep=16" in d.message and d.severity.value == "error"


def test_prefill_context_parallelism_has_gpus_of_its_own_and_decode_context_parallelism_reuses_tp():
    # vLLM: GPUs = tp·pp·pcp·dp (config/parallel.py:144); -dcp reuses the tp ranks (config/parallel.py:389)
    text = "#!/bin/sh\nvllm serve meta-llama/Llama-3.1-8B-Instruct -tp 4 -pcp 2 -dp 2 -dcp 2\n"
    result = check("serve.sh", text, Config(cli_hardware={"num_devices": 16}))
    par = result.plan.parallelism
    assert (par.tp, par.cp, par.dp) == (4, 2, 2) and "PAR401" not in codes(result)
    d = next(d for d in result.diagnostics if d.code == "VLLM003")    # tp 4 ≤ 8 KV heads: DCP has nothing to shard
    assert "requires `--tensor-parallel-size` (4) to be greater than the model's total number of KV heads (8)" in d.message
    moe = check("serve.sh", "vllm serve mistralai/Mixtral-8x7B-Instruct-v0.1 -tp 2 -pcp 2 -dp 2 --enable-expert-parallel\n")
    assert moe.plan.parallelism.ep == 8                   # EP spans TP×PCP×DP


def test_decode_context_parallel_size_must_divide_tp_and_the_query_heads_per_kv_head():
    bad = check("serve.sh", "vllm serve meta-llama/Llama-3.1-8B-Instruct -tp 16 --decode-context-parallel-size 3\n")
    d = next(d for d in bad.diagnostics if d.code == "VLLM003")
    assert '"tp_size=16 must be divisible by dcp_size=3."' in d.message and d.range.start.column == 49   # the "16" of -tp 16
    heads = check("serve.sh", "vllm serve meta-llama/Llama-3.1-8B-Instruct -tp 16 -dcp 8\n")   # 32/8 = 4 per KV head
    assert "query heads per KV head (4) must be divisible" in next(d for d in heads.diagnostics if d.code == "VLLM003").message
    good = check("serve.sh", "vllm serve meta-llama/Llama-3.1-8B-Instruct -tp 16 -dcp 2\n")
    assert "VLLM003" not in codes(good)


KSERVE_PD = """apiVersion: serving.kserve.io/v1alpha1
kind: LLMInferenceService
metadata:
  name: r1-pd
spec:
  model:
    name: deepseek-ai/DeepSeek-R1
  parallelism:
    data: 16
    dataLocal: 8
    expert: true
    tensor: 1
  template:
    containers:
      - name: main
        env:
          - name: VLLM_ADDITIONAL_ARGS
            value: "--max-model-len 4096"
        resources:
          limits:
            nvidia.com/gpu: "8"
  prefill:
    parallelism:
      data: 12
      dataLocal: 4
      expert: true
      tensor: 1
    template:
      containers:
        - name: main
          resources:
            limits:
              nvidia.com/gpu: "4"
"""


def test_kserve_prefill_and_decode_pools_are_two_plans_each_with_its_phase():
    result = check("pd.yaml", KSERVE_PD)
    assert [d.label for d in result.documents] == ["LLMInferenceService r1-pd decode", "LLMInferenceService r1-pd prefill"]
    decode, prefill = (d.data for d in result.documents)
    assert decode["workload"]["phase"] == "decode" and prefill["workload"]["phase"] == "prefill"
    assert (decode["parallelism"]["ep"], decode["hardware"]["num_devices"]) == (16, 16)      # 2 pods × 8
    assert (prefill["parallelism"]["ep"], prefill["hardware"]["num_devices"]) == (12, 12)    # 3 pods × 4
    assert decode["serving"]["max_model_len"] == 4096 and "max_model_len" not in prefill["serving"]
    moe = [d for d in result.diagnostics if d.code == "MOE301"]        # 256 experts over the prefill pool's 12 ranks
    assert len(moe) == 1 and moe[0].message.startswith("[LLMInferenceService r1-pd prefill] ")
    assert moe[0].range.start.line == 26                                 # the prefill pool's "expert: true"


ARGS_ONLY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: llama-8b
spec:
  template:
    spec:
      containers:
        - name: server
          image: docker.io/vllm/vllm-openai:v0.10.1
          args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "3"]
          resources:
            limits:
              nvidia.com/gpu: "3"
"""


def test_a_container_of_vllms_image_with_args_alone_runs_the_image_entrypoint():
    # vLLM's server image appends a container's args to its ENTRYPOINT (vllm serve): the commonest manifest form
    result = check("deploy.yaml", ARGS_ONLY)
    (par,) = [d for d in result.diagnostics if d.code == "PAR402"]
    line = ARGS_ONLY.splitlines()[par.range.start.line - 1]
    assert line[par.range.start.column - 1:par.range.end.column - 1] == '"3"' and "vLLM" in par.message
    # the fix edits the flow list in place and adds the missing flag after its last item
    new, result, applied, problems = fix_text(Engine(Registry().load(), Config()), "deploy.yaml", ARGS_ONLY,
                                              unsafe=True, candidate=True)
    assert not problems and "PAR402" not in codes(result)
    assert new == ARGS_ONLY.replace('"--tensor-parallel-size", "3"]',
                                    '"--tensor-parallel-size", "1", "--data-parallel-size", "3"]')
    # another image with the same args is not vLLM's server: left alone
    other = ARGS_ONLY.replace("docker.io/vllm/vllm-openai:v0.10.1", "registry.example.com/acme/proxy:1")
    assert check("deploy.yaml", other).diagnostics == []


@pytest.mark.parametrize("command, args", [
    ('          command:\n            - vllm\n            - serve\n', '          args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "3"]\n'),
    ('          command: ["vllm", "serve"]\n', '          args:\n            - "--model"\n            - "meta-llama/Llama-3.1-8B-Instruct"\n'
                                                '            - "--tensor-parallel-size"\n            - "3"\n'),
])
def test_a_fix_adds_its_flag_in_the_style_of_the_list_that_holds_the_last_item(command, args):
    # a block command with flow args, and a flow command with block args: the new flag joins the args list
    text = ARGS_ONLY.replace('          args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "3"]\n',
                             command + args)
    new, result, applied, problems = fix_text(Engine(Registry().load(), Config()), "deploy.yaml", text,
                                              unsafe=True, candidate=True)
    assert not problems and "PAR402" not in codes(result)
    assert "--data-parallel-size" in new and "PAR402" not in codes(check("deploy.yaml", new))


def test_image_repository_drops_the_registry_the_tag_and_the_digest():
    from deploylint.plugins._serving import image_repository

    assert image_repository("vllm/vllm-openai") == "vllm/vllm-openai"
    assert image_repository("docker.io/vllm/vllm-openai:v0.8.5") == "vllm/vllm-openai"
    assert image_repository("localhost:5000/vllm/vllm-openai@sha256:abc") == "vllm/vllm-openai"
    assert image_repository("lmcache/vllm-openai:latest") == "lmcache/vllm-openai"
