"""Schema validation: one DL002 per violation, at the exact key or value, saying what was expected and given;
unknown keys are DL003 with a did-you-mean rename; the fast validity check agrees with jsonschema."""

import copy

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploylint.core.pipeline.fastcheck import is_valid
from deploylint.core.pipeline.schema import load_schema, property_description

VALID = {
    "schema_version": 1,
    "model": {"layers": 4, "hidden_size": 1024, "num_attention_heads": 16, "vocab_size": 32000,
              "moe": {"num_experts": 64, "top_k": 2}},
    "hardware": {"num_devices": 3, "memory_gib": 64, "peak_tflops": 400, "memory_bandwidth_gbps": 1600},
    "parallelism": {"ep": 3, "expert_placement": [22, 21, 21]},
    "workload": {"mode": "inference", "batch_size": 8, "seq_len": 16},
    "claims": {"memory_per_device_mib": [1, 2, 3]},
}


def changed(path, value):
    plan = copy.deepcopy(VALID)
    *parents, last = path.strip("/").split("/")
    node = plan
    for p in parents:
        node = node[p]
    if value is KeyError:
        node.pop(last, None)
    else:
        node[last] = value
    return plan


@pytest.mark.parametrize("path, value, message", [
    ("/parallelism/ep", "3", 'parallelism.ep must be an integer ≥ 1 and ≤ 131_072, got a string "3"'),      # type
    ("/parallelism/ep", 0, "parallelism.ep must be an integer ≥ 1, got 0"),                                  # minimum
    ("/parallelism/zero_stage", 4, "parallelism.zero_stage must be an integer ≤ 3, got 4"),                 # maximum
    ("/claims/memory_per_device_mib", 0, "claims.memory_per_device_mib must be a number > 0"),             # exclusiveMinimum
    ("/hardware/memory_gib", 0, "hardware.memory_gib must be a number ≥ 0.25, got 0: accelerators hold"),  # minimum, with its reason
    ("/hardware/num_devices", -4, "hardware.num_devices must be an integer ≥ 1, got -4"),                   # a count's minimum
    ("/workload/mode", "train", 'workload.mode must be one of "training", "inference", got "train"; did you mean \'training\'?'),
    ("/schema_version", 2, "schema_version must be 1, got 2"),                                               # const
    ("/workload/seq_len", KeyError, "[workload] is missing the required key 'seq_len'"),                     # required
    ("/parallelism/expert_placement", [], "parallelism.expert_placement must have at least 1 item, got 0"),  # minItems
    ("/parallelism/expert_placement", [22, "x"], 'parallelism.expert_placement[1] must be an integer ≥ 0 and ≤ 1_000_000 or a list of integers ≥ 0 and ≤ 1_000_000, got a string "x"'),  # anyOf
    ("/model/from", "", "model.from must not be empty"),                                                     # minLength
    ("/claims/memory_per_device_mib", "149", "claims.memory_per_device_mib must be a number"),            # anyOf
])
def test_one_dl002_per_keyword_kind(deploylint, path, value, message):
    result = deploylint.lint(changed(path, value))
    dl002 = result.with_code("DL002")
    assert len(dl002) == 1, [d.message for d in dl002]
    d = dl002[0]
    assert d.message.startswith(message), d.message
    where = path if value is not KeyError else path.rsplit("/", 1)[0]
    assert d.path in (where, path + "/1")
    line = d.range.start.line
    assert result.text.splitlines()[line - 1].strip()    # lands on a real line of the file


def test_a_counts_reason_goes_with_its_maximum_only(deploylint):
    too_many = deploylint.lint(changed("/hardware/num_devices", 200_000)).one("DL002").message
    assert "≤ 131_072" in too_many and "no single deployment is that large" in too_many
    negative = deploylint.lint(changed("/hardware/num_devices", -4)).one("DL002").message
    assert "≥ 1, got -4" in negative and "that large" not in negative


def test_type_fix_writes_the_number(deploylint):
    result = deploylint.lint(changed("/parallelism/ep", "3"))
    assert result.one("DL002").fixes[0].message == "write 3 as a number, not a string"
    assert deploylint.lint(result.apply_fixes()).plan.parallelism.ep == 3


def test_unknown_key_did_you_mean_and_its_position(deploylint):
    plan = changed("/parallelism/ep", 3)
    plan["parallelism"]["expert_placment"] = plan["parallelism"].pop("expert_placement")
    result = deploylint.lint(plan)
    d = result.one("DL003")
    assert d.message == "unknown key 'expert_placment' in [parallelism]; did you mean 'expert_placement'?"
    line = next(i for i, l in enumerate(result.text.splitlines(), 1) if l.startswith("expert_placment"))
    assert (d.range.start.line, d.range.start.column, d.range.end.column) == (line, 1, 1 + len("expert_placment"))
    fixed = deploylint.lint(result.apply_fixes())
    assert "DL003" not in fixed.codes and fixed.plan.parallelism.expert_placement == (22, 21, 21)


def test_every_property_has_a_description():
    def walk(node, path):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert sub.get("description"), f"{path}/{name}"
                walk(sub, f"{path}/{name}")
    walk(load_schema(), "")
    assert property_description("/parallelism/ep").startswith("Expert parallel size")


def test_schema_is_a_valid_2020_12_schema_and_the_file_is_generated():
    jsonschema.Draft202012Validator.check_schema(load_schema())
    from importlib.resources import files

    from deploylint.schemas.generate import render

    assert files("deploylint.schemas").joinpath("plan.schema.json").read_text(encoding="utf-8") == render()


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**7), st.floats(-1, 1e7, allow_nan=False),
                    st.sampled_from(["", "x", "training", "inference", "bf16", "gqa", "mla"]))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["/parallelism/ep", "/parallelism/expert_placement", "/hardware/memory_gib", "/workload/mode",
                        "/model/moe/top_k", "/schema_version", "/claims/memory_per_device_mib", "/model/attention",
                        "/parallelism/zero_stage", "/workload/dtype", "/hardware/num_devices", "/model/moe"]),
       st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.sampled_from(["a", "top_k", "num_experts"]), scalars, max_size=2),
                 st.just(KeyError)))
def test_fast_check_agrees_with_jsonschema(path, value):
    plan = changed(path, value)
    assert is_valid(plan, load_schema()) == jsonschema.Draft202012Validator(load_schema()).is_valid(plan)
