"""Property tests: random plans in random formatting, random value changes — the result always loads, means
exactly what the change says, keeps every comment and line ending, touches few lines, and a repeated set is a no-op."""

import copy
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploylint.core.document import pointer as jp
from deploylint.core.diagnostics import ValueChange
from deploylint.core.document.sources import load
from deploylint.core.document.writers import apply_changes, minimal_edits

PLAN = {
    "schema_version": 1,
    "name": "prop",
    "model": {"layers": 8, "hidden_size": 1024, "num_attention_heads": 16, "vocab_size": 32000,
              "moe": {"num_experts": 64, "top_k": 2}},
    "hardware": {"num_devices": 8, "memory_gib": 80},
    "parallelism": {"tp": 1, "ep": 4, "expert_placement": [16, 16, 16, 16]},
    "workload": {"mode": "inference", "batch_size": 8},
}
SUFFIX = {"toml": ".toml", "yaml": ".yaml", "json": ".json", "python": ".py"}


def tv(v):
    return json.dumps(v) if not isinstance(v, bool) else ("true" if v else "false")


def render_toml(data, moe_style, comment_every, draw_comment):
    out = []

    def scal(d, prefix=""):
        for k, v in d.items():
            if not isinstance(v, dict):
                out.append(f"{prefix}{k} = {tv(v)}")
                if draw_comment():
                    out.append("# note on " + k)
    scal({k: v for k, v in data.items() if not isinstance(v, dict)})
    for section, body in data.items():
        if not isinstance(body, dict):
            continue
        out.append("")
        out.append(f"[{section}]  # section {section}")
        scal({k: v for k, v in body.items() if not isinstance(v, dict)})
        for sub, inner in body.items():
            if not isinstance(inner, dict):
                continue
            if moe_style == "inline":
                out.append(f"{sub} = {{ " + ", ".join(f"{k} = {tv(v)}" for k, v in inner.items()) + " }")
            elif moe_style == "dotted":
                scal(inner, prefix=f"{sub}.")
            else:
                out.append(f"[{section}.{sub}]")
                scal(inner)
    return "\n".join(out) + "\n"


def render_yaml(data, flow, draw_comment, indent=0):
    out = []
    for k, v in data.items():
        pad = "  " * indent
        if isinstance(v, dict) and flow and indent:
            out.append(f"{pad}{k}: {{" + ", ".join(f"{a}: {tv(b)}" for a, b in v.items()) + "}")
        elif isinstance(v, dict):
            out.append(f"{pad}{k}:  # {k}")
            out.append(render_yaml(v, flow, draw_comment, indent + 1).rstrip("\n"))
        else:
            out.append(f"{pad}{k}: {tv(v)}")
            if draw_comment():
                out.append(f"{pad}# about {k}")
    return "\n".join(out) + "\n"


def render_python(data):
    def lit(v, depth):
        if isinstance(v, dict):
            pad = "    " * (depth + 1)
            return "{\n" + "".join(f"{pad}{json.dumps(k)}: {lit(x, depth + 1)},  # {k}\n" for k, x in v.items()) + "    " * depth + "}"
        if isinstance(v, bool):
            return repr(v)
        return json.dumps(v)
    return "# generated\nimport os\n\nPLAN = " + lit(data, 0) + "\n"


@st.composite
def documents(draw):
    fmt = draw(st.sampled_from(["toml", "yaml", "json", "python"]))
    coin = st.booleans()

    def draw_comment():
        return draw(coin)

    data = copy.deepcopy(PLAN)
    if fmt == "toml":
        text = render_toml(data, draw(st.sampled_from(["table", "inline", "dotted"])), 0, draw_comment)
    elif fmt == "yaml":
        text = render_yaml(data, draw(coin), draw_comment)
    elif fmt == "json":
        text = json.dumps(data, indent=draw(st.sampled_from([2, 4]))) + "\n"
    else:
        text = render_python(data)
    if draw(coin):
        text = text.replace("\n", "\r\n")
    return fmt, text, data


LEAVES = ["/name", "/model/layers", "/model/moe/top_k", "/model/moe/num_experts", "/hardware/memory_gib",
          "/parallelism/tp", "/parallelism/ep", "/workload/batch_size", "/parallelism/expert_placement"]
NEW = ["/parallelism/pp", "/workload/seq_len", "/model/moe/expert_ffn_hidden_size", "/claims/mfu", "/hardware/devices_per_node"]
REMOVABLE = ["/name", "/parallelism/expert_placement", "/parallelism/tp", "/hardware/memory_gib", "/model/moe/top_k"]


@st.composite
def changes(draw):
    op = draw(st.sampled_from(["set", "insert", "remove", "rename"]))
    value = draw(st.one_of(st.integers(0, 10**6), st.lists(st.integers(0, 64), min_size=1, max_size=5),
                           st.text("abcdefgh_-é", min_size=1, max_size=8)))
    if op == "set":
        return ValueChange("set", draw(st.sampled_from(LEAVES)), value)
    if op == "insert":
        return ValueChange("insert", draw(st.sampled_from(NEW)), value)
    if op == "remove":
        return ValueChange("remove", draw(st.sampled_from(REMOVABLE)))
    return ValueChange("rename", draw(st.sampled_from(["/parallelism/tp", "/workload/batch_size", "/model/layers"])),
                       draw(st.sampled_from(["tp_size", "batch", "n_layers"])))


def expected(data, change):
    data = copy.deepcopy(data)
    tokens = jp.split(change.path)
    node = data
    for t in tokens[:-1]:
        node = node.setdefault(t, {})
    if change.op in ("set", "insert"):
        node[tokens[-1]] = change.value
    elif change.op == "remove":
        del node[tokens[-1]]
    else:
        node[change.value] = node.pop(tokens[-1])
    return data


def same_meaning(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_meaning(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), changes())
def test_any_change_in_any_format(doc, change):
    fmt, text, data = doc
    document = load("plan" + SUFFIX[fmt], text)
    assert document.data == data
    new = apply_changes(document, [change])
    reloaded = load("plan" + SUFFIX[fmt], new)
    assert same_meaning(reloaded.data, expected(data, change))
    # comments and line endings survive
    kept = [c for c in re.findall(r"#[^\r\n]*", text)]
    assert all(c in new for c in kept if change.op != "remove" or jp.split(change.path)[-1] not in c)
    assert ("\r\n" in text) == ("\r\n" in new) and ("\r\n" not in text or "\n" not in new.replace("\r\n", ""))
    # few lines touched: a change is local
    edits = minimal_edits(text, new)
    touched = sum(text[e.start:e.end].count("\n") + e.new_text.count("\n") for e in edits)
    assert touched <= 8
    if change.op == "set":
        again = apply_changes(reloaded, [change])
        assert again == new                      # idempotent


def test_yaml_set_on_an_alias_replaces_the_alias_not_the_anchor():
    text = "base: &p [22, 21, 21]\nparallelism:\n  ep: 3\n  expert_placement: *p\n"
    new = apply_changes(load("p.yaml", text), [ValueChange("set", "/parallelism/expert_placement", [16, 16, 16, 16])])
    assert new == "base: &p [22, 21, 21]\nparallelism:\n  ep: 3\n  expert_placement: [16, 16, 16, 16]\n"
