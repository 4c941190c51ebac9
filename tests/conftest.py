"""Suite-wide settings.

Tests that load a configuration's local plugin modules run with the user-level
permission that deploylint requires for them (``DEPLOYLINT_ALLOW_LOCAL_PLUGINS``,
see ``core/host/trust.py``); ``tests/core/host/test_trust.py`` removes it to
check the default, in which such modules are never imported. Each test has a
result cache of its own (``DEPLOYLINT_CACHE_DIR``, see ``core/pipeline/cache.py``); ``store`` is a test's
cache folder to look into. ``tests/helpers/suite_helpers.py`` holds the helpers several files use to run
deploylint (this folder alone is put on sys.path for it).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers"))

os.environ["DEPLOYLINT_ALLOW_LOCAL_PLUGINS"] = "1"


@pytest.fixture(autouse=True)
def _own_result_cache(tmp_path_factory, monkeypatch):
    """Each test has its own, empty result cache (core/pipeline/cache.py): one test's results never answer another's
    (tests patch deploylint's internals), and the user's own cache is left alone."""
    monkeypatch.setenv("DEPLOYLINT_CACHE_DIR", str(tmp_path_factory.mktemp("result-cache")))


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A result cache folder of the test's own, to look into (``DEPLOYLINT_CACHE_DIR``)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("DEPLOYLINT_CACHE_DIR", str(folder))
    return folder
