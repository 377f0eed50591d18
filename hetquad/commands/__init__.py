"""CLI commands, one module each. A module defines ``register(app)``, which adds its command(s)
to the typer app; ``hetquad.cli`` discovers the modules here, so adding a command is adding a file.

The engine names of every ``--engine`` option (help and allowed values) come from
``engine_names``: ``sims.engines.NAMES`` itself, read without importing ``hetquad.sims``.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAMES_MODULE = "hetquad.sims.engines.names"


def engine_names() -> tuple[str, ...]:
    """``hetquad.sims.engines.NAMES``, without importing ``hetquad.sims``.

    Importing ``hetquad.sims.engines.names`` the usual way runs ``hetquad.sims/__init__`` first
    (numpy, scipy, every optimizer: ~1.8 s against ~0.15 s for all of ``hetquad --help``), so the
    dependency-free file is loaded alone and registered under its own name: a later import of
    ``hetquad.sims.engines`` finds it in ``sys.modules``, and ``NAMES`` stays one tuple.
    """
    mod = sys.modules.get(_NAMES_MODULE)
    if mod is None:
        # find_spec imports the parent (hetquad, light) but not hetquad.sims itself
        sims_dir = importlib.util.find_spec("hetquad.sims").submodule_search_locations[0]
        spec = importlib.util.spec_from_file_location(_NAMES_MODULE, Path(sims_dir) / "engines" / "names.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[_NAMES_MODULE] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules[_NAMES_MODULE]
            raise
    return mod.NAMES


def engine_choices() -> tuple[str, ...]:
    """What ``--engine`` accepts: 'auto' then every engine name."""
    return ("auto", *engine_names())


def engine_help(lead: str = "") -> str:
    """The ``--engine`` help: ``lead`` then 'auto, numpy, numba or cupy.' (from ``engine_names``)."""
    *head, last = engine_choices()
    return f"{lead}{', '.join(head)} or {last}."
