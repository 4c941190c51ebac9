"""JSON pointers (RFC 6901) as rules and spans use them."""

import pytest

from deploylint.core.document import pointer as jp


def test_escaping_round_trips_slash_and_tilde():
    p = jp.join("a/b", "c~d", 0)
    assert p == "/a~1b/c~0d/0"
    assert jp.split(p) == ["a/b", "c~d", "0"]


def test_resolve_and_ancestors():
    data = {"claims": {"memory_per_device_mib": [1, 2]}}
    assert jp.resolve(data, "/claims/memory_per_device_mib/1") == 2
    assert jp.resolve(data, "/claims/nope", None) is None
    assert not jp.exists(data, "/claims/memory_per_device_mib/2")
    assert list(jp.ancestors("/a/b")) == ["/a/b", "/a", ""]
    with pytest.raises(ValueError):
        jp.split("a/b")
