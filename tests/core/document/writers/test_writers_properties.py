"""Property tests: random plans in random formatting, random value changes — the result always loads, means
exactly what the change says, keeps every comment and line ending, touches few lines, and a repeated set is a no-op.
The changes of one fix applied at once (``writers._splice_local_edits``) give exactly the text that applying them
one after the other, re-reading the file in between, gives — or the shortcut steps aside."""

import copy
import itertools
import json
import os
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deploylint.core.document import pointer as jp
from deploylint.core.diagnostics import ValueChange
from deploylint.core.document.sources import load
from deploylint.core.document import writers
from deploylint.core.document.writers import WriteError, apply_changes, minimal_edits

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


# -- the changes of one fix at once ------------------------------------------------------
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "examples")


def in_turn(document, changes):
    """The reference: each change applied to the text the previous one left."""
    writer = writers.writer_for(document.format)
    try:
        return writers._apply_in_turn(document, writer, list(changes))
    except WriteError:
        return WriteError


def at_once(document, changes):
    try:
        return apply_changes(document, changes)
    except WriteError:
        return WriteError


VALUES = st.one_of(st.integers(-5, 10**6), st.booleans(), st.floats(0.001, 1e9),
                   st.lists(st.integers(0, 64), min_size=1, max_size=4),
                   st.text("ab_-é'\" ", min_size=0, max_size=6),
                   st.dictionaries(st.sampled_from(["a", "b c", "d"]), st.integers(0, 9), max_size=2))


@st.composite
def fix_changes(draw):
    out = []
    for _ in range(draw(st.integers(2, 5))):
        op = draw(st.sampled_from(["set", "set", "insert", "remove"]))
        if op == "set":
            out.append(ValueChange("set", draw(st.sampled_from(LEAVES + NEW)), draw(VALUES)))
        elif op == "insert":
            out.append(ValueChange("insert", draw(st.sampled_from(NEW)), draw(VALUES)))
        else:
            out.append(ValueChange("remove", draw(st.sampled_from(REMOVABLE + ["/parallelism", "/hardware"]))))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), fix_changes())
def test_changes_at_once_equal_changes_in_turn(doc, changes):
    fmt, text, _ = doc
    document = load("plan" + SUFFIX[fmt], text)
    expected = in_turn(document, changes)
    assert at_once(document, changes) == expected
    # at_once falls back to the sequential path when the shortcut steps aside: compare the shortcut itself where it
    # applies (about one example in ten here; test_every_ordered_pair_and_triple_on_the_examples holds its count)
    writer = writers.writer_for(document.format)
    spliced = (writers._splice_local_edits(document, writer, changes)
               if getattr(writer, "local_edit", None) is not None else None)
    event("spliced" if spliced is not None else "sequential")
    if spliced is not None:
        assert spliced == expected


def seed_documents():
    for name in ("seed-moe-64e-3dev.toml", "seed-moe-64e-3dev.plan.json", "mixtral-8x7b-h100.plan.toml"):
        path = os.path.join(EXAMPLES, name)
        with open(path, encoding="utf-8") as fh:
            yield load(path, fh.read())


CANDIDATES = [
    ValueChange("set", "/parallelism/ep", 4), ValueChange("set", "/parallelism/dp", 2),
    ValueChange("set", "/hardware/num_devices", 4), ValueChange("remove", "/parallelism/expert_placement"),
    ValueChange("remove", "/parallelism/ep"), ValueChange("remove", "/parallelism"), ValueChange("remove", "/claims"),
    ValueChange("set", "/workload/batch_size", 1024), ValueChange("remove", "/claims/latency_ms_per_layer"),
    ValueChange("remove", "/claims/throughput_samples_per_s"), ValueChange("set", "/claims/mfu", 0.5),
    ValueChange("set", "/parallelism/expert_placement", [16, 16, 16, 16]), ValueChange("insert", "/serving/x", 1),
    ValueChange("set", "/model/moe/top_k", 1), ValueChange("remove", "/model/moe"),
]


def test_every_ordered_pair_and_triple_on_the_examples():
    spliced = 0
    for n, document in enumerate(seed_documents()):
        writer = writers.writer_for(document.format)
        fixes = itertools.chain(itertools.permutations(CANDIDATES, 2),
                                itertools.permutations(CANDIDATES[:9], 3) if n == 0 else ())
        for changes in map(list, fixes):
            assert at_once(document, changes) == in_turn(document, changes), (document.path, changes)
            spliced += writers._splice_local_edits(document, writer, changes) is not None
    assert spliced > 500          # the comparison is of the shortcut, not of the sequential path with itself


def test_a_layout_fix_takes_the_shortcut():
    """The layout fixes of the seed (set the degrees, add dp, drop the placement) are applied without re-reading."""
    seed = next(seed_documents())
    changes = [ValueChange("set", "/hardware/num_devices", 4), ValueChange("set", "/parallelism/dp", 2),
               ValueChange("set", "/parallelism/ep", 2), ValueChange("remove", "/parallelism/expert_placement")]
    spliced = writers._splice_local_edits(seed, writers.writer_for("toml"), changes)
    assert spliced is not None and spliced == in_turn(seed, changes)
    assert "ep = 2\ndp = 2\n\n[workload]" in spliced and "expert_placement" not in spliced


def test_a_key_added_to_a_table_another_change_removes_is_left_to_the_sequential_path():
    text = "[a]\nx = 1\n\n[b]\ny = 2\n"
    document = load("p.toml", text)
    changes = [ValueChange("set", "/a/z", 3), ValueChange("remove", "/a")]
    assert writers._splice_local_edits(document, writers.writer_for("toml"), changes) is None
    assert apply_changes(document, changes) == "\n[b]\ny = 2\n"     # the key added went with its table


def test_two_edits_on_one_line_are_left_to_the_sequential_path():
    document = load("p.toml", "[a]\nx = { p = 1, q = 2 }\n")
    changes = [ValueChange("set", "/a/x/p", 5), ValueChange("remove", "/a/x/q")]
    assert writers._splice_local_edits(document, writers.writer_for("toml"), changes) is None
    assert apply_changes(document, changes) == "[a]\nx = { p = 5 }\n"
