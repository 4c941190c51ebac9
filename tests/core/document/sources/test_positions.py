"""Every loader maps each key and value to its exact place: 1-based line, column in code points.

Expected positions are computed from the fixture text itself (the line holding the token, the index of the
token in it), never from the loader's own output.
"""

import pytest

from deploylint.core.document.sources import SourceError, decode, load


def where(text: str, line_text: str, token: str, occurrence: int = 0):
    """(line, column) of ``token`` inside the line whose stripped text is ``line_text``."""
    lines = text.replace("\r\n", "\n").split("\n")
    indexes = [i for i, l in enumerate(lines) if l.strip() == line_text]
    i = indexes[occurrence]
    return i + 1, lines[i].index(token) + 1


def rng(doc, pointer, part="value"):
    node = doc.spans[pointer]
    span = node.value if part == "value" else node.key
    r = doc.lines.range(span)
    return (r.start.line, r.start.column), (r.end.line, r.end.column)


TOML = '''# awkward shapes
schema_version = 1
name = "ünïcødé 𝄞 plan"   # non-ASCII before a later value
[model]
"quoted key" = 'x'
moe.num_experts = 64      # dotted key
mla = { kv_lora_rank = 512, qk_rope_head_dim = 64 }
  [parallelism]           # indented sub-table header
  ep = 3
  expert_placement = [
    22,   # rank 0
    21,
    21,
  ]
s = """multi
line"""
'''


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_toml_awkward_shapes(newline):
    text = TOML.replace("\n", newline)
    doc = load("p.toml", text)
    assert rng(doc, "/model/moe/num_experts")[0] == where(text, "moe.num_experts = 64      # dotted key", "64")
    assert rng(doc, "/model/moe/num_experts", "key")[0] == where(text, "moe.num_experts = 64      # dotted key", "num_experts")
    assert rng(doc, "/model/quoted key", "key")[0] == where(text, "\"quoted key\" = 'x'", '"quoted key"')
    line = "mla = { kv_lora_rank = 512, qk_rope_head_dim = 64 }"
    assert rng(doc, "/model/mla/qk_rope_head_dim")[0] == where(text, line, "64")
    assert rng(doc, "/model/mla")[0] == where(text, line, "{")
    assert rng(doc, "/parallelism/ep") == (where(text, "ep = 3", "3"), (where(text, "ep = 3", "3")[0], where(text, "ep = 3", "3")[1] + 1))
    assert rng(doc, "/parallelism/expert_placement/0")[0] == where(text, "22,   # rank 0", "22")
    assert rng(doc, "/parallelism/expert_placement/2")[0] == where(text, "21,", "21", 1)
    assert rng(doc, "/parallelism/expert_placement")[1] == (where(text, "]", "]")[0], where(text, "]", "]")[1] + 1)
    assert rng(doc, "/parallelism/s")[0] == where(text, 's = """multi', '"""')


def test_toml_non_ascii_value_columns_count_code_points():
    text = 'name = "𝄞"\nx = { a = "é𝄞", b = 7 }\n'
    doc = load("p.toml", text)
    # "𝄞" is one code point (two UTF-16 units): b's value sits at column 22 in code points
    assert rng(doc, "/x/b")[0] == (2, text.split("\n")[1].index("7") + 1) == (2, 21)
    assert doc.lines.utf16_position(doc.spans["/x/b"].value.start) == (1, 21)   # 0-based line, UTF-16 column


def test_bom_is_removed_and_remembered():
    text, bom = decode(b"\xef\xbb\xbfschema_version = 1\n")
    assert bom and text.startswith("schema_version")
    doc = load("p.toml", text)
    assert rng(doc, "/schema_version")[0] == (1, 18)


YAML = '''# comment
schema_version: 1
name: "é𝄞"   # non-ASCII
parallelism:
  ep: 3
  expert_placement:
    - 22
    - 21
claims: {mfu: 0.5, memory_per_device_mib: [1, 2]}
'''


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_yaml_block_and_flow(newline):
    text = YAML.replace("\n", newline)
    doc = load("p.yaml", text)
    assert rng(doc, "/parallelism/ep")[0] == where(text, "ep: 3", "3")
    assert rng(doc, "/parallelism/ep", "key")[0] == where(text, "ep: 3", "ep")
    assert rng(doc, "/parallelism/expert_placement/1")[0] == where(text, "- 21", "21")
    line = "claims: {mfu: 0.5, memory_per_device_mib: [1, 2]}"
    assert rng(doc, "/claims/memory_per_device_mib/1")[0] == where(text, line, "2]")
    assert rng(doc, "/claims/mfu")[0] == where(text, line, "0.5")


JSON = '{\n  "name": "é𝄞", "parallelism": {"ep": 3,\n    "expert_placement": [22, 21, 21]}\n}\n'


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_json_positions(newline):
    text = JSON.replace("\n", newline)
    doc = load("p.json", text)
    line = '"name": "é𝄞", "parallelism": {"ep": 3,'
    assert rng(doc, "/parallelism/ep")[0] == where(text, line, "3")
    assert rng(doc, "/parallelism/ep", "key")[0] == where(text, line, '"ep"')
    assert rng(doc, "/parallelism/expert_placement/2")[0] == (3, text.replace("\r\n", "\n").split("\n")[2].rindex("21") + 1)


PY = '''"""docstring"""
import os  # never executed

PLAN = {
    "name": "é𝄞", "parallelism": dict(ep=3, expert_placement=[22, 21, 21]),
    "workload": {"batch_size": 8},
}
'''


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_python_positions_convert_utf8_bytes_to_code_points(newline):
    text = PY.replace("\n", newline)
    doc = load("p.py", text)
    line = '"name": "é𝄞", "parallelism": dict(ep=3, expert_placement=[22, 21, 21]),'
    assert rng(doc, "/parallelism/ep")[0] == where(text, line, "3,")
    assert rng(doc, "/parallelism/ep", "key")[0] == where(text, line, "ep=")
    assert rng(doc, "/workload/batch_size")[0] == where(text, '"workload": {"batch_size": 8},', "8")


@pytest.mark.parametrize("name, text, line, column", [
    ("p.toml", "a = 1\nb = = 2\n", 2, 5),
    ("p.toml", "a = 1\na = 2\n", 2, 6),                       # duplicate key, tomllib's position
    ("p.json", '{\n  "a": 1,\n  "b": tru\n}', 3, 8),
    ("p.json", '{"a": 1, "a": 2}', 1, 10),                     # duplicate key
    ("p.yaml", "a: 1\n b: 2\n", 2, 3),
    ("p.yaml", "a: 1\na: 2\n", 2, 1),
    ("p.py", "PLAN = {\n  'a': f(1),\n}\n", 2, 8),
    ("p.py", "PLAN = {\n  'a': 1,,\n}\n", 2, 10),                 # the second comma
])
def test_parse_errors_have_exact_positions(name, text, line, column):
    with pytest.raises(SourceError) as info:
        load(name, text)
    assert (info.value.range.start.line, info.value.range.start.column) == (line, column), info.value.message


def test_python_plan_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    text = f"open({str(marker)!r}, 'w').write('x')\nPLAN = {{'schema_version': 1}}\n"
    assert load("p.py", text).data == {"schema_version": 1}
    assert not marker.exists()
