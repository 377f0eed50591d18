"""Suite-wide settings.

Hypothesis is derandomized by default, so `make test` (and CI) draws the same examples on every run
and a red run is a regression, not a new random draw. `make fuzz` (HYPOTHESIS_PROFILE=explore)
draws fresh random examples on every run, to look for new failures.
"""
import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
