"""Shared test setup.

Hypothesis profiles: "ci" (used when the CI environment variable is set) derandomizes the
search so that a CI run is reproducible from the commit alone, and keeps no example
database between runs; "dev" (the default) searches randomly and remembers failures.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile("ci" if os.environ.get("CI") else "dev")
