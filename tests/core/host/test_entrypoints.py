"""The fast entry-point scan must find exactly what importlib.metadata finds."""

import importlib.metadata

from deploylint.core.host.entrypoints import entry_points


def _as_set(eps):
    return {(ep.name, ep.value) for ep in eps}


def test_scan_agrees_with_importlib_metadata_for_our_group_and_pytest11():
    for group in ("deploylint", "pytest11", "console_scripts"):
        ours = _as_set(entry_points(group))
        theirs = {(ep.name, ep.value) for ep in importlib.metadata.entry_points(group=group)}
        assert ours == theirs, group


def test_builtin_plugins_are_registered_through_the_entry_point_group():
    names = {ep.name for ep in entry_points("deploylint")}
    assert {"memory", "compute", "experts", "parallelism", "claims"} <= names


def test_first_distribution_on_the_path_wins(tmp_path):
    for folder, value in (("first", "mod_a"), ("second", "mod_b")):
        info = tmp_path / folder / "acme_rules-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "entry_points.txt").write_text(f"[deploylint]\nacme = {value}\n\n[other]\nx = y\n")
    found = entry_points("deploylint", [str(tmp_path / "first"), str(tmp_path / "second")])
    assert [(e.name, e.value, e.dist_name, e.dist_version) for e in found] == [("acme", "mod_a", "acme_rules", "1.0")]
    assert entry_points("deploylint", [str(tmp_path / "missing")]) == []
