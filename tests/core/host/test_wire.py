"""The worker's wire encoding (core/host/wire.py): what a plugin's rule returns arrives whole in the host."""

import json

from deploylint.core import Diagnostic, Fix, Position, Range, Related, Severity
from deploylint.core.diagnostics import Edit
from deploylint.core.host.wire import diagnostic_from_wire as from_wire, diagnostic_to_wire as to_wire


def test_a_diagnostic_crosses_the_wire_with_its_ranges_related_places_fixes_and_refusal():
    here = Range(Position(2, 3), Position(2, 9))
    fix = Fix.set("/parallelism/tp", 4, "use tp 4", applicability="unsafe").with_edits([Edit(here, "4", 10, 16)])
    sent = Diagnostic("HOST001", Severity.WARNING, "explained; no fix offered: the value is set in cluster.yaml",
                      "/parallelism/tp", range=here, fixes=(fix,), data={"tp": 2},
                      related=(Related("set here", Range(Position(3, 1), Position(3, 4)), "cluster.yaml", 5, 8),
                               Related("no place", None)),
                      refusal="the value is set in cluster.yaml")
    got = from_wire(json.loads(json.dumps(to_wire(sent))))
    assert got == sent
    assert got.refusal == "the value is set in cluster.yaml"


def test_a_diagnostic_without_a_refusal_arrives_without_one():
    sent = Diagnostic("HOST001", Severity.INFO, "plain", "/hardware/num_devices")
    assert from_wire(json.loads(json.dumps(to_wire(sent)))).refusal == ""


def test_the_host_refuses_a_range_out_of_shape():
    import pytest

    sent = to_wire(Diagnostic("HOST001", Severity.INFO, "plain", "/hardware/num_devices"))
    for bad in ([1, 2, 3], [1, 2, 3, "4"], [1, 2, 3, 4.0]):
        with pytest.raises(ValueError):
            from_wire({**sent, "range": bad})
