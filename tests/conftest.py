"""Suite-wide settings.

Tests that load a configuration's local plugin modules run with the user-level
permission that deploylint requires for them (``DEPLOYLINT_ALLOW_LOCAL_PLUGINS``,
see ``core/host/trust.py``); ``tests/core/host/test_trust.py`` removes it to
check the default, in which such modules are never imported.
"""

import os

os.environ["DEPLOYLINT_ALLOW_LOCAL_PLUGINS"] = "1"
