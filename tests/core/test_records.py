"""deploylint.core.records makes the classes @dataclass makes: each behaviour side by side with a real dataclass."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
from typing import ClassVar

import pytest

from deploylint.core import records
from deploylint.core.records import field, record


def twins(frozen=False, slots=False, order=False):
    """The same class body twice: through @record and through @dataclass."""
    def body():
        class Point:
            x: int
            y: float = 1.5
            tags: list = dataclasses.field(default_factory=list)
            note: str = dataclasses.field(default="", repr=False, compare=False)
            kind: ClassVar[str] = "point"
        Point.__qualname__ = "Point"
        return Point

    def record_body():
        class Point:
            x: int
            y: float = 1.5
            tags: list = field(default_factory=list)
            note: str = field(default="", repr=False, compare=False)
            kind: ClassVar[str] = "point"
        Point.__qualname__ = "Point"
        return Point

    return (record(frozen=frozen, slots=slots, order=order)(record_body()),
            dataclasses.dataclass(frozen=frozen, slots=slots, order=order)(body()))


OPTIONS = [dict(), dict(frozen=True), dict(slots=True), dict(frozen=True, slots=True), dict(frozen=True, slots=True, order=True)]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_a_record_behaves_as_the_dataclass_of_the_same_body(options, monkeypatch):
    R, D = twins(**options)
    monkeypatch.setattr(sys.modules[__name__], "Point", R, raising=False)   # where pickle looks the class up
    assert str(inspect.signature(R)) == str(inspect.signature(D))
    assert R.__match_args__ == D.__match_args__ == ("x", "y", "tags", "note")
    r, d = R(1, tags=["a"], note="n"), D(1, tags=["a"], note="n")
    assert repr(r) == repr(d) == "Point(x=1, y=1.5, tags=['a'])"
    assert r == R(1, tags=["a"], note="other") and r != R(2) and r != d        # note is not compared; classes differ
    assert R(1).tags is not R(1).tags                                            # a fresh list per instance
    assert hasattr(r, "__dict__") == hasattr(d, "__dict__")
    assert (R.__hash__ is None) == (D.__hash__ is None)
    if options.get("frozen"):
        assert hash(R(1, 2.0, ())) == hash(R(1, 2.0, (), note="x")) == hash((1, 2.0, ()))   # as a dataclass hashes
        for obj in (r, d):
            with pytest.raises(dataclasses.FrozenInstanceError):
                obj.x = 5
            with pytest.raises(dataclasses.FrozenInstanceError):
                del obj.y
    else:
        r.x = 5
        assert r.x == 5
    if options.get("order"):
        assert R(1) < R(2) and R(2, 0.5) >= R(2, 0.5) and sorted([R(3), R(1)]) == [R(1), R(3)]
    for clone in (pickle.loads(pickle.dumps(r)), copy.copy(r), copy.deepcopy(r)):
        assert clone == r and clone.note == r.note
    assert R.kind == "point"


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_the_dataclasses_functions_see_a_record_as_a_dataclass(options):
    R, D = twins(**options)
    assert dataclasses.is_dataclass(R) and dataclasses.is_dataclass(R(1))
    assert [(f.name, f.type, f.default, f.repr, f.compare) for f in dataclasses.fields(R)] == \
           [(f.name, f.type, f.default, f.repr, f.compare) for f in dataclasses.fields(D)]
    assert dataclasses.replace(R(1, tags=["a"]), y=3.0) == R(1, 3.0, ["a"])
    assert dataclasses.asdict(R(1)) == dataclasses.asdict(D(1)) == {"x": 1, "y": 1.5, "tags": [], "note": ""}
    assert records.replace(R(1, tags=["a"]), y=3.0) == R(1, 3.0, ["a"])
    assert [f.name for f in records.fields(R)] == ["x", "y", "tags", "note"]
    assert R.__doc__ == D.__doc__


def test_post_init_runs_on_construction_and_on_replace():
    @record(frozen=True, slots=True)
    class Span:
        start: int
        end: int

        def __post_init__(self):
            if self.end < self.start:
                raise ValueError("ends before it starts")

    with pytest.raises(ValueError):
        Span(3, 1)
    with pytest.raises(ValueError):
        records.replace(Span(1, 3), end=0)


def test_a_default_before_a_field_without_one_is_refused_as_dataclasses_refuses_it():
    with pytest.raises(TypeError):
        @record
        class Bad:
            a: int = 1
            b: int


def test_every_record_of_deploylint_is_a_dataclass_with_the_same_fields():
    # the public types (Diagnostic, Plan, ...) stay what the docs call them: dataclasses
    import deploylint.core as core
    from deploylint.core.plan import Plan
    from deploylint.core.estimate.analysis import Analysis

    for cls in (core.Diagnostic, core.Fix, core.Edit, core.Range, core.Context, Plan, Analysis):
        assert dataclasses.is_dataclass(cls), cls
        assert [f.name for f in dataclasses.fields(cls)] == [f.name for f in records.fields(cls)], cls


def test_making_records_imports_neither_dataclasses_nor_inspect():
    code = ("import sys; from deploylint.core.records import record\n"
            "@record(frozen=True, slots=True)\nclass P:\n    a: int\n    b: int = 2\n"
            "assert P(1) == P(1, 2) and repr(P(1)) == 'P(a=1, b=2)'\n"
            "print(sorted({'dataclasses', 'inspect'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


from deploylint.core import Diagnostic  # noqa: E402  (the subclass below must live at module level to pickle)


@dataclasses.dataclass(frozen=True)
class AcmeDiagnostic(Diagnostic):
    """A third-party plugin's diagnostic with a field of its own."""
    extra: int = 0


def test_a_plugins_dataclass_subclass_keeps_its_own_fields_through_pickle_and_copy():
    found = AcmeDiagnostic("ACME001", "warning", "a message", extra=3)
    for again in (pickle.loads(pickle.dumps(found)), copy.copy(found), copy.deepcopy(found)):
        assert again == found and again.extra == 3


def test_a_plain_subclass_is_a_dataclass_whichever_class_is_asked_first():
    from deploylint.core import Position

    class MyPosition(Position):
        pass

    # asked about the subclass before anything asked about Position (a fresh interpreter)
    code = ("import dataclasses\nfrom deploylint.core import Position\nclass MyPosition(Position): pass\n"
            "print(dataclasses.is_dataclass(MyPosition), [f.name for f in dataclasses.fields(MyPosition)])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True ['line', 'column']", out.stderr
    assert dataclasses.asdict(MyPosition(2, 3)) == {"line": 2, "column": 3}


def test_the_init_of_a_record_belongs_to_its_module_and_its_string_hints_resolve():
    import typing

    from deploylint.core import Diagnostic, Severity

    assert Diagnostic.__init__.__module__ == "deploylint.core.diagnostics"
    assert typing.get_type_hints(Diagnostic.__init__)["severity"] is Severity
    assert inspect.signature(Diagnostic, eval_str=True).parameters["severity"].annotation is Severity


# The compiled __init__ sources are kept beside the .pyc files (records._CODE_CACHE); each run below points the
# cache at a file of its own and writes it as an interpreter that writes .pyc files does.
CACHED_RUN = """
import builtins, sys
sys.dont_write_bytecode = not {write_bytecode}
from deploylint.core import records
records._CODE_CACHE = {path!r}
compiled = []
real_compile = builtins.compile
def counting_compile(source, *args, **kwargs):
    compiled.append(source)
    return real_compile(source, *args, **kwargs)
builtins.compile = counting_compile
import inspect
from deploylint.core import Diagnostic, Position
from deploylint.core.plan import Plan
builtins.compile = real_compile
found = Diagnostic("X001", "warning", "a message", path="/model/layers")
assert found == Diagnostic("X001", "warning", "a message", path="/model/layers") and found.data == dict() and Position(2, 3).column == 3
print(len(compiled), str(inspect.signature(Position)), Plan.__init__.__globals__ is vars(sys.modules["deploylint.core.plan"]))
"""


def cached_run(path, write_bytecode=True) -> tuple[int, str]:
    out = subprocess.run([sys.executable, "-c", CACHED_RUN.format(path=str(path), write_bytecode=write_bytecode)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    compiled, rest = out.stdout.strip().split(" ", 1)
    return int(compiled), rest


def test_the_compiled_inits_are_read_back_by_the_next_interpreter(tmp_path):
    path = tmp_path / "records.inits"
    first, classes = cached_run(path)
    assert first >= 10 and path.exists()
    again, same_classes = cached_run(path)
    # nothing compiled the second time, and the classes are the same: signature, globals of their module
    assert (again, same_classes) == (0, classes) == (0, "(line: 'int', column: 'int') -> None True")


def test_no_compiled_inits_are_kept_where_no_pyc_would_be_written(tmp_path):
    path = tmp_path / "records.inits"
    first, _ = cached_run(path, write_bytecode=False)
    assert first >= 10 and not path.exists()


@pytest.mark.parametrize("content", [b"", b"\x00garbage", "not the cache".encode()])
def test_a_cache_file_that_is_not_one_is_compiled_over(tmp_path, content):
    import marshal

    path = tmp_path / "records.inits"
    first, classes = cached_run(path)
    for written in (content, marshal.dumps(("another Python", marshal.loads(path.read_bytes())[1])),
                    marshal.dumps((sys.version, ["a list, not the sources"]))):
        path.write_bytes(written)
        again, same_classes = cached_run(path)
        assert (again, same_classes) == (first, classes)
        assert marshal.loads(path.read_bytes())[0] == sys.version      # written anew


def test_a_source_the_cache_does_not_hold_is_compiled_and_kept(tmp_path):
    # (a record whose fields changed has a new source: found by its whole text, it is compiled like a new one)
    import marshal

    path = tmp_path / "records.inits"
    cached_run(path)
    version, sources = marshal.loads(path.read_bytes())
    position = [text for text in sources if "_set_line(self, line)" in text and "_set_column(self, column)" in text]
    assert len(position) == 1
    path.write_bytes(marshal.dumps((version, {text: code for text, code in sources.items() if text not in position})))
    compiled, classes = cached_run(path)
    assert compiled == 1 and classes == "(line: 'int', column: 'int') -> None True"
    assert marshal.loads(path.read_bytes())[1].keys() == sources.keys()


def test_past_its_limit_the_cache_keeps_only_the_sources_of_the_run_that_writes_it(tmp_path):
    import marshal

    path = tmp_path / "records.inits"
    stale = {f"x = {n}\n": compile(f"x = {n}\n", "<string>", "exec") for n in range(3000)}   # more than _CODE_LIMIT
    path.write_bytes(marshal.dumps((sys.version, stale)))
    compiled, _ = cached_run(path)
    kept = marshal.loads(path.read_bytes())[1]
    assert compiled >= 10 and len(kept) == compiled and not kept.keys() & stale.keys()
