"""The engine names, the one source of truth for ``sims.engines.NAMES`` and the CLI's help.

Dependency-free on purpose: ``hetquad --help`` loads this file alone
(``hetquad.commands.engine_names``), without ``hetquad.sims`` and its numpy, scipy and numba.
"""
NAMES = ("numpy", "numba", "cupy")
