"""Big plan files cost in proportion to their size: the structure behind the linear cost, tested without timing.

The figures themselves are in bench/README.md (`python bench/bench_size.py`); these tests pin the
mechanisms: one TOML scan per check, fixes rendered only when asked for, line indexes and fix diffs
that agree with a plain reference, one span per list item only up to a bound, and a bounded number
of schema diagnostics per file.
"""

import bisect
import json
import random
import re

import pytest

from deploylint.core.diagnostics import Position
from deploylint.core.document import MAX_ITEM_SPANS, LineIndex
from deploylint.core.document.sources import load
from deploylint.core.document.sources import toml_source
from deploylint.core.document.writers import WriteError, apply_changes, minimal_edits
from deploylint.core.diagnostics import ValueChange
from deploylint.core.pipeline.engine import Engine, render_fixes
from deploylint.core.pipeline.schema import MAX_SCHEMA_DIAGNOSTICS, MAX_UNKNOWN_KEYS_PER_TABLE
from deploylint.core.testing import render_plan
from suite_helpers import run_check

SEED = {
    "schema_version": 1,
    "model": {"layers": 4, "hidden_size": 1024, "num_attention_heads": 16, "vocab_size": 32000,
              "moe": {"num_experts": 64, "top_k": 2, "expert_ffn_hidden_size": 512}},
    "hardware": {"num_devices": 3, "memory_gib": 64, "peak_tflops": 400, "memory_bandwidth_gbps": 1600,
                 "intra_node_bandwidth_gbps": 196},
    "parallelism": {"tp": 1, "pp": 1, "ep": 3, "expert_placement": [22, 21, 21]},
    "workload": {"mode": "inference", "batch_size": 8, "seq_len": 16},
    "claims": {"throughput_samples_per_s": 3800, "latency_ms_per_layer": 2.1, "memory_per_device_mib": 149},
}


def _apply(text, edits):
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[:e.start] + e.new_text + text[e.end:]
    return text


# -- line index -------------------------------------------------------------------------------
def test_line_index_agrees_with_a_plain_list_of_line_starts_for_every_line_ending():
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(["a", "é", "\n", "\r\n", "\r", "\n\n", "xy"]) for _ in range(rng.randint(0, 60)))
        starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
        idx = LineIndex(text)
        assert idx.line_count == len(starts)
        for offset in range(len(text) + 1):
            line = bisect.bisect_right(starts, offset) - 1
            # an offset between \r and \n belongs to the line the \r ends
            if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
                line = bisect.bisect_right(starts, offset - 1) - 1
            assert idx.position(offset) == Position(line + 1, offset - starts[line] + 1)
        for n in range(1, len(starts) + 1):
            assert idx.line_start(n) == starts[n - 1]


def test_line_index_of_a_text_past_one_block_agrees_with_a_plain_list_of_line_starts():
    """A text of one block (every plan) has its line starts listed at once; a longer one finds them block by block."""
    from deploylint.core.document import _LfStarts

    rng = random.Random(5)
    for size in (_LfStarts.BLOCK - 1, _LfStarts.BLOCK, _LfStarts.BLOCK + 1, 3 * _LfStarts.BLOCK + 17):
        text = "".join(rng.choice(["ab", "\n", "é", "\n\n", "x" * 40]) for _ in range(size))[:size]
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        idx = LineIndex(text)
        assert idx.line_count == len(starts)
        for offset in [*range(0, len(text) + 1, 97), *(s - 1 for s in starts[1:]), *starts, len(text)]:
            line = bisect.bisect_right(starts, offset) - 1
            assert idx.position(offset) == Position(line + 1, offset - starts[line] + 1)
        assert [idx.line_start(n) for n in range(1, len(starts) + 1, 13)] == starts[::13]


def test_line_index_finds_the_last_line_of_ten_million_blank_lines():
    text = "\n" * 10_000_000 + "ep = 3\n"
    idx = LineIndex(text)
    assert idx.position(text.index("3")) == Position(10_000_001, 6)
    assert idx.line_text(10_000_001) == "ep = 3"


# -- fix diffs --------------------------------------------------------------------------------
def test_minimal_edits_reproduce_the_new_text_and_cover_only_what_changed():
    rng = random.Random(11)
    for _ in range(2000):
        alphabet = rng.choice(["ab\n", "a\r\n", "\n\r x", "ab", "\n"])
        old = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        new = list(old)
        for _ in range(rng.randint(0, 3)):
            pos = rng.randint(0, len(new))
            op = rng.random()
            if op < 0.4:
                new.insert(pos, rng.choice(alphabet))
            elif new:
                new[min(pos, len(new) - 1):min(pos, len(new) - 1) + 1] = [] if op < 0.7 else [rng.choice(alphabet)]
        new = "".join(new)
        edits = minimal_edits(old, new)
        assert _apply(old, edits) == new
        assert sum(e.end - e.start for e in edits) <= len(old)


def _edits_by_difflib(old, new):
    """The edits of difflib's line opcodes between two regions (the reference of the shortcut that skips difflib
    where no line can match)."""
    import difflib

    from deploylint.core.document.writers import _common_prefix, _common_suffix

    a_lines, b_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    starts = [0]
    for line in a_lines:
        starts.append(starts[-1] + len(line))
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False).get_opcodes():
        if tag != "equal":
            a, b = "".join(a_lines[i1:i2]), "".join(b_lines[j1:j2])
            p = _common_prefix(a, b)
            s = _common_suffix(a, b, min(len(a), len(b)) - p)
            out.append((starts[i1] + p, starts[i2] - s, b[p:len(b) - s]))
    return out


def test_the_line_diff_of_two_regions_is_that_of_difflib_also_where_difflib_is_skipped():
    from deploylint.core.document.writers import _line_diff

    rng = random.Random(13)
    shapes = {"one line each": 0, "lines against none": 0, "more lines": 0}
    for _ in range(3000):
        alphabet = rng.choice(["ab\n", "a\r\n", "\n\r x", "ab", "\n", "a\x0cb\u2028", "x"])
        old, new = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, n))) for n in rng.choice([(0, 3), (3, 0), (2, 2), (8, 8)]))
        lines = (len(old.splitlines()), len(new.splitlines()))
        shapes["one line each" if lines == (1, 1) else "lines against none" if 0 in lines else "more lines"] += 1
        assert [(e.start, e.end, e.new_text) for e in _line_diff(old, new)] == _edits_by_difflib(old, new), (old, new)
    assert all(n > 100 for n in shapes.values()), shapes


def test_one_changed_value_among_many_identical_lines_is_one_edit_of_that_value():
    old = "\n" * 200_000 + "ep = 3\n" + "\n" * 200_000
    new = old.replace("ep = 3", "ep = 4")
    edits = minimal_edits(old, new)
    assert [(e.start, e.end, e.new_text) for e in edits] == [(200_005, 200_006, "4")]


# -- one scan, rendering on demand ---------------------------------------------------------------
def _count_scans(monkeypatch):
    calls = []
    real = toml_source.scan

    def counting(text):
        calls.append(len(text))
        return real(text)

    monkeypatch.setattr(toml_source, "scan", counting)
    return calls


def test_a_check_scans_a_toml_plan_once_and_renders_no_fix_unless_asked(deploylint, monkeypatch):
    text = render_plan(SEED, "toml")
    engine = Engine(deploylint.registry(), render_fixes=False)
    calls = _count_scans(monkeypatch)
    result = engine.check_text("plan.toml", text)
    assert len(calls) == 1
    fixes = [f for d in result.diagnostics for f in d.fixes]
    assert fixes and all(f.changes and not f.edits for f in fixes)

    # rendering afterwards gives exactly what a rendering check gives
    rendered = render_fixes(result)
    eager = Engine(deploylint.registry()).check_text("plan.toml", text)
    assert [d.to_json() for d in rendered.diagnostics] == [d.to_json() for d in eager.diagnostics]
    # a one-change fix is written from the loader's own scan: no second scan for it
    calls.clear()
    single = next(d for d in result.diagnostics if d.code == "MEM103")
    from deploylint.core.pipeline.engine import rendered as render_one

    assert render_one(result.document, single.with_(fixes=single.fixes[:1])).fixes[0].edits
    assert calls == []


def test_the_number_of_scans_does_not_grow_with_the_file(deploylint, monkeypatch):
    engine = Engine(deploylint.registry())
    counts = []
    for lines in (100, 10_000):
        text = render_plan(SEED, "toml").replace("[model]", "# a comment\n" * lines + "[model]", 1)
        calls = _count_scans(monkeypatch)
        engine.check_text("plan.toml", text)
        counts.append(len(calls))
    assert counts[0] == counts[1]


# -- list items past the span bound --------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["toml", "yaml", "json", "python"])
def test_a_long_list_is_read_whole_and_located_item_by_item_up_to_the_bound(fmt):
    items = list(range(1000, 1000 + MAX_ITEM_SPANS + 5000))
    plan = dict(SEED, extra_list=items)
    text = render_plan(plan, fmt)
    path = {"toml": "p.toml", "yaml": "p.yaml", "json": "p.json", "python": "p.py"}[fmt]
    doc = load(path, text)
    assert doc.data["extra_list"] == items
    last = doc.spans[f"/extra_list/{MAX_ITEM_SPANS - 1}"].value
    assert text[last.start:last.end] == str(items[MAX_ITEM_SPANS - 1])
    assert f"/extra_list/{MAX_ITEM_SPANS}" not in doc.spans
    # a value after the list is still exactly located
    after = doc.spans["/workload/seq_len"].value
    assert text[after.start:after.end] == "16"
    # an item with no position cannot be edited in place: the writer refuses instead of guessing
    with pytest.raises(WriteError, match="past item"):
        apply_changes(doc, [ValueChange("set", f"/extra_list/{MAX_ITEM_SPANS + 1}", 7)])
    fixed = apply_changes(doc, [ValueChange("set", f"/extra_list/{MAX_ITEM_SPANS - 1}", 7)])
    assert load(path, fixed).data["extra_list"][MAX_ITEM_SPANS - 1] == 7


def test_a_long_toml_list_with_strings_comments_and_tables_past_the_bound_is_read_exactly():
    tail = ', "a,]", \'b\', 1979-05-27 07:32:00, [1, 2], { k = 1 }, """m\nl""", # c ] \n 3'
    text = "x = [" + ", ".join(str(i) for i in range(MAX_ITEM_SPANS + 50)) + tail + "]\ny = 2\n"
    import tomllib

    doc = load("p.toml", text)
    assert doc.data == tomllib.loads(text)
    assert text[doc.spans["/y"].value.start] == "2"


# -- bounded schema diagnostics --------------------------------------------------------------------
def test_thousands_of_unknown_keys_give_a_bounded_report_that_counts_the_rest(deploylint):
    workload = dict(SEED["workload"], **{f"output_len_{i:05d}": 1 for i in range(3000)})
    result = deploylint.lint(dict(SEED, workload=workload), format="json")
    unknown = [d for d in result.diagnostics if d.code == "DL003"]
    assert len(unknown) == MAX_UNKNOWN_KEYS_PER_TABLE + 1
    rest = next(d for d in unknown if "more unknown keys" in d.message)
    assert rest.data["more_unknown_keys"] == 3000 - MAX_UNKNOWN_KEYS_PER_TABLE
    assert f"{3000 - MAX_UNKNOWN_KEYS_PER_TABLE:,} more unknown keys in [workload]" in rest.message
    assert rest.range.start.line > 1   # at the first key not reported on its own


def test_unknown_keys_in_every_section_stop_at_the_schema_diagnostic_bound(deploylint):
    plan = {name: (dict(section, **{f"extra_{i:03d}": 1 for i in range(100)}) if isinstance(section, dict) else section)
            for name, section in SEED.items()}
    result = deploylint.lint(plan, format="json")
    schema = [d for d in result.diagnostics if d.code in ("DL002", "DL003")]
    assert len(schema) == MAX_SCHEMA_DIAGNOSTICS + 1
    last = next(d for d in schema if d.code == "DL002")
    assert f"only the first {MAX_SCHEMA_DIAGNOSTICS} are reported" in last.message


# -- the bound on keys and list items ----------------------------------------------------------------
from deploylint.core.document import sources as sources_pkg  # noqa: E402
from deploylint.core.document.sources import MAX_ENTRIES, SourceError  # noqa: E402

PATHS = {"toml": "p.toml", "yaml": "p.yaml", "json": "p.json", "python": "p.py"}
FIRST = 10 ** 6   # list items of seven distinct digits: the refused one says which it is


def _refused_at(fmt, text):
    with pytest.raises(SourceError) as info:
        load(PATHS[fmt], text)
    err = info.value
    assert f"more than {MAX_ENTRIES:,} keys and list items" in err.message
    return text[LineIndex(text).offset(err.range.start):]


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json", "python"])
def test_a_list_past_the_entry_bound_is_refused_at_the_first_item_past_it(fmt):
    items = list(range(FIRST, FIRST + MAX_ENTRIES + 10))
    at = _refused_at(fmt, render_plan(dict(SEED, extra_list=items), fmt))
    item = int(at[:7])
    # the seed's own keys and items before the list count too: the refused item is the bound's, give or take them
    assert MAX_ENTRIES - 40 <= item - FIRST < MAX_ENTRIES


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json", "python"])
def test_keys_past_the_entry_bound_are_refused_at_the_first_key_past_it(fmt):
    workload = dict(SEED["workload"], **{f"output_len_{i:07d}": 1 for i in range(MAX_ENTRIES + 10)})
    at = _refused_at(fmt, render_plan(dict(SEED, workload=workload), fmt))
    key = re.match(r"""["']?output_len_(\d{7})""", at)
    assert key and MAX_ENTRIES - 40 <= int(key.group(1)) < MAX_ENTRIES


@pytest.mark.parametrize("fmt", ["toml", "json", "python"])     # counted before the parser runs (YAML: as it runs)
def test_entries_of_one_character_each_just_past_the_bound_are_refused(fmt):
    """The shortest entries (empty list items: one comma each) of a text barely longer than the bound: a text of at
    most MAX_ENTRIES characters is not counted at all, so this one must be."""
    text = '{"x": [' if fmt == "json" else "x = ["
    text += "," * MAX_ENTRIES + "]\n"
    assert len(text) < MAX_ENTRIES + 10
    _refused_at(fmt, text + ("}" if fmt == "json" else ""))


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json", "python"])
def test_a_plan_just_within_the_entry_bound_is_read_whole(fmt):
    items = list(range(FIRST, FIRST + MAX_ENTRIES - 100))
    doc = load(PATHS[fmt], render_plan(dict(SEED, extra_list=items), fmt))
    assert doc.data["extra_list"] == items
    assert doc.data["workload"] == SEED["workload"]


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json", "python"])
def test_commas_colons_and_brackets_inside_strings_and_comments_are_not_counted(fmt):
    many = ", [x: 1, y = 2]" * MAX_ENTRIES
    plan = dict(SEED, name=many, notes=[many, "'\"" + many])
    text = render_plan(plan, fmt)
    if fmt != "json":
        text = text.replace("\n", f"\n# {many}\n", 1)
    doc = load(PATHS[fmt], text)
    assert doc.data["name"] == many and doc.data["notes"][1].endswith(many)


@pytest.mark.parametrize("fmt,parser", [("toml", "tomllib.loads"), ("json", "json.loads"), ("python", "ast.parse")])
def test_a_file_past_the_entry_bound_never_reaches_the_parser(fmt, parser, monkeypatch):
    import importlib

    module = importlib.import_module(f"deploylint.core.document.sources.{fmt}_source")
    owner, name = parser.split(".")
    called = []
    monkeypatch.setattr(getattr(module, owner), name, lambda *a, **k: called.append(1))
    items = list(range(FIRST, FIRST + MAX_ENTRIES + 10))
    _refused_at(fmt, render_plan(dict(SEED, extra_list=items), fmt))
    assert called == []


def test_yaml_events_past_the_entry_bound_are_never_read(monkeypatch):
    import yaml

    real, seen = yaml.parse, []

    def counting(*args, **kwargs):
        for event in real(*args, **kwargs):
            seen.append(1)
            yield event

    monkeypatch.setattr(yaml, "parse", counting)
    items = list(range(FIRST, FIRST + 3 * MAX_ENTRIES))
    _refused_at("yaml", render_plan(dict(SEED, extra_list=items), "yaml"))
    assert len(seen) < MAX_ENTRIES + 100


def test_the_cli_reports_a_plan_past_the_entry_bound_as_a_dl001_with_its_position(tmp_path, capsys):
    # deploylint check as the command line runs it (the cli's main, text and JSON): one DL001 at a line past the
    # first, exit 1, no traceback
    path = tmp_path / "plan.json"
    path.write_text(render_plan(dict(SEED, extra_list=list(range(FIRST, FIRST + MAX_ENTRIES + 10))), "json"))
    code, out, err = run_check(capsys, str(path), "--format", "json", "--no-cache")
    assert code == 1 and "Traceback" not in err
    [d] = json.loads(out)["diagnostics"]
    assert d["code"] == "DL001" and d["range"]["start"]["line"] > 1 and "keys and list items" in d["message"]
    code, out, err = run_check(capsys, str(path), "--no-cache")
    assert code == 1 and re.search(rf"plan\.json:{d['range']['start']['line']}:\d+: DL001 error ", out), out


COUNTED = {  # text, and its keys and list items as the bound counts them
    "toml": ('a = 1\nb = [1, 2, 3]\n[t]\nc = {x = 1, y = "a,b=c"}\n[[arr]]\nd = 1\n# e = 1, 2\n'
             's = """x = [1, 2]"""\nl = \'\'\'q, r\'\'\'\nn = [[1, 2], [3]]\nm = [\n  [1],\n  [2]\n]\ne = []\n',
             # a, b+3, t, c+x+y, arr (a key and its first item), d, s, l, n+2+2+1, m+2+1+1, e
             1 + 4 + 1 + 3 + 2 + 1 + 1 + 1 + 6 + 5 + 1),
    "json": ('{"a": 1, "b": [1, 2, 3], "c": {"x": 1, "y": "a,b:c\\"]"}, "e": [], "f": [{"g": 1}, {"g": 2}]}',
             1 + 4 + 3 + 1 + 1 + 2 + 2),
    "python": ('"""doc, x: 1"""\n# c: 1, 2\nPLAN = {"a": 1, "b": [1, 2, 3], "c": dict(x=1, y="a,b:c"), '
               '"t": (1, 2), "e": [], "s": \'q, r\'}\n',
               # PLAN, a, b+3, c and its two keyword items, t+2, e, s
               1 + 1 + 4 + 3 + 3 + 1 + 1),
}


@pytest.mark.parametrize("fmt", sorted(COUNTED))
def test_the_bound_counts_each_key_and_list_item_once_and_nothing_in_strings_or_comments(fmt, monkeypatch):
    import importlib

    module = importlib.import_module(f"deploylint.core.document.sources.{fmt}_source")
    text, entries = COUNTED[fmt]
    monkeypatch.setattr(sources_pkg, "MAX_ENTRIES", entries)
    sources_pkg.refuse_too_many_entries(text, module._ENTRIES, 64)     # exactly at the bound: read
    monkeypatch.setattr(sources_pkg, "MAX_ENTRIES", entries - 1)
    with pytest.raises(SourceError, match="keys and list items"):
        sources_pkg.refuse_too_many_entries(text, module._ENTRIES, 64)
