"""Suite-wide settings.

Tests that load a configuration's local plugin modules run with the user-level
permission that deploylint requires for them (``DEPLOYLINT_ALLOW_LOCAL_PLUGINS``,
see ``core/host/trust.py``); ``tests/core/host/test_trust.py`` removes it to
check the default, in which such modules are never imported. Each test has a
result cache of its own (``DEPLOYLINT_CACHE_DIR``, see ``core/pipeline/cache.py``).
"""

import os

import pytest

os.environ["DEPLOYLINT_ALLOW_LOCAL_PLUGINS"] = "1"


@pytest.fixture(autouse=True)
def _own_result_cache(tmp_path_factory, monkeypatch):
    """Each test has its own, empty result cache (core/pipeline/cache.py): one test's results never answer another's
    (tests patch deploylint's internals), and the user's own cache is left alone."""
    monkeypatch.setenv("DEPLOYLINT_CACHE_DIR", str(tmp_path_factory.mktemp("result-cache")))
