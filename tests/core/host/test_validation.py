"""What a plugin hands back is checked so that every output can carry it: the JSON figures and fix values."""

import enum
import json

from hypothesis import given, settings, strategies as st

from deploylint.core.host.validation import json_problem


def encodes(value) -> bool:
    """What every output needs of a figure: plain, finite JSON that encodes as UTF-8."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return False
    return True


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


# every character, lone surrogates included (no UTF-8 encoder accepts them)
TEXT = st.text(st.characters(codec=None, categories=None), max_size=6)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | TEXT | TEXT.map(Name)
           | st.sampled_from([float("nan"), float("inf"), -float("inf"), "\udc80", "é\ud800", Level.LOW, b"bytes", 1j]))
KEYS = TEXT | st.integers() | st.floats() | st.none() | st.booleans() | st.just((1, 2))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_a_value_passes_exactly_when_it_is_plain_finite_json_that_encodes(value):
    assert (json_problem(value, "figures (data)") is None) == encodes(value)


def test_the_problem_is_named():
    assert json_problem({"x": float("nan")}, "figures (data)") == \
        "gave figures (data) that is not plain, finite JSON (NaN or infinity)"
    assert json_problem(["\udc80"], "a fix value") == "gave a fix value that is not plain, finite JSON (a lone surrogate)"
    assert json_problem({"x": {1, 2}}, "figures (data)") == "gave figures (data) that is not plain, finite JSON (TypeError)"


def test_a_cycle_is_refused_and_a_deep_nesting_passed_as_the_encoder_would():
    cycle: list = []
    cycle.append(cycle)
    assert json_problem(cycle, "figures (data)") == "gave figures (data) that is not plain, finite JSON (ValueError)"
    shared = [1.5]
    assert json_problem([shared, {"k": shared}], "figures (data)") is None    # the same list twice is no cycle
    nested: object = 0.5
    for _ in range(200):                    # past the quick check's depth: the encoder decides
        nested = {"k": [nested]}
    assert json_problem(nested, "figures (data)") is None
    nested = float("inf")
    for _ in range(200):
        nested = [nested]
    assert json_problem(nested, "figures (data)") == "gave figures (data) that is not plain, finite JSON (NaN or infinity)"
