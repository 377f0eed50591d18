"""hetquad.theory — every complexity bound of docs/theory.md as code, sympy derivations, and checks.

Bounds return frozen records (the numbers, the formula's name, its source, its assumptions);
``check(result, bound)`` compares a ``sims.Result`` with one of them at every recorded step.
``theory`` depends on ``problems`` only; ``hetquad check`` (``hetquad.checks``) runs the
optimizers on the random instances of ``theory.suite``.
"""
from .records import LowerBound, Provenance, RateBound, contraction, iters
from .rates import (ZhangPrediction, adam_mini_variant_rate, adam_variant_rate, blockwise_gd_rate, gd_rate,
                    zhang_prediction)
from .lower_bound import gd_lower_bound
from .tomihari import (IterationBound, LinearHeadSignUpdate, StochasticBound, TomihariBounds,
                       full_batch_sign_step, linear_head_sign_update, tomihari_bounds)
from .sign_descent import SignPlateau, sign_descent_plateau
from .momentum import FirstOrderLowerBound, MomentumBound, first_order_lower_bound, heavy_ball_rate, nesterov_rate
from .normalized import (ClippedPrefix, NormalizedCycle, NormalizedPlateau, clipped_gd_clip_steps,
                         normalized_gd_cycle_1d, normalized_gd_plateau)
from .check import CheckPart, CheckRecord, check
from . import registry, suite


def __getattr__(name: str):
    # the sympy derivations load on first use: `import hetquad.theory` stays free of sympy
    if name == "derivations":
        import importlib
        return importlib.import_module(f"{__name__}.derivations")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["gd_rate", "gd_lower_bound", "blockwise_gd_rate", "adam_variant_rate", "adam_mini_variant_rate",
           "zhang_prediction", "tomihari_bounds", "linear_head_sign_update", "full_batch_sign_step",
           "sign_descent_plateau", "check", "iters", "contraction", "RateBound", "LowerBound", "Provenance",
           "ZhangPrediction", "IterationBound", "StochasticBound", "TomihariBounds", "LinearHeadSignUpdate",
           "SignPlateau", "CheckPart", "CheckRecord", "derivations", "suite", "registry", "heavy_ball_rate",
           "nesterov_rate", "first_order_lower_bound", "MomentumBound", "FirstOrderLowerBound",
           "normalized_gd_plateau", "normalized_gd_cycle_1d", "clipped_gd_clip_steps", "NormalizedPlateau",
           "NormalizedCycle", "ClippedPrefix"]
