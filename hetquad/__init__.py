"""hetquad — quadratic testbeds for why Transformers need Adam.

``hetquad.problems`` builds quadratics with controlled κ, τ and gradient heterogeneity,
``hetquad.sims`` runs optimizers on them, ``hetquad.theory`` checks runs against the bounds.

The three rooms and ``load`` are imported on first use (PEP 562), so ``import hetquad`` and
``hetquad --help`` do not pay for numpy, scipy, sympy or numba.
"""
__version__ = "0.1.0"

__all__ = ["problems", "sims", "theory", "load", "__version__"]
_SUBPACKAGES = ("problems", "sims", "theory")


def __getattr__(name: str):
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")  # the import binds it on this module
    if name == "load":  # a sweep directory → (table, dataset)
        from .results import load
        globals()["load"] = load
        return load
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
