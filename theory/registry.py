"""The one table of bounds: which bound applies to which optimizer run, how to compute it, how to check it.

Every consumer reads these rows: ``theory.check`` (a record → its row's ``checker``),
``hetquad run`` and sweeps (``hetquad.sweep.bound_check`` → ``match``: the first row whose
``applies`` accepts the run gives the iteration bound), ``hetquad check`` (``hetquad.checks``: one
case per row, its instances drawn from ``theory.suite`` with the row's ``key``) and the
``bound-slack`` figure (the rows ``hetquad check`` prints). A new bound is its theory function
plus one ``Row`` (and, for ``hetquad check``, a ``run_spec`` or a runner in ``hetquad.checks``).

``theory`` never imports ``sims``: ``applies`` reads an optimizer spec by duck typing (its
``name`` and fields), and ``run_spec`` names the spec to build (``sims.make(name, **kwargs)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .check import CHECKERS, _check_envelope, _check_lower, _check_rate, _check_zhang
from .lower_bound import gd_lower_bound
from .momentum import MomentumBound, heavy_ball_rate, nesterov_rate
from .normalized import NormalizedPlateau, normalized_gd_plateau
from .rates import ZhangPrediction, adam_mini_variant_rate, adam_variant_rate, blockwise_gd_rate, gd_rate, zhang_prediction
from .records import LowerBound, RateBound
from .sign_descent import SignPlateau, sign_descent_plateau
from .tomihari import IterationBound, LinearHeadSignUpdate, StochasticBound, linear_head_sign_update, tomihari_bounds

#: relative tolerance for "the run uses the bound's own hyper-parameters"
PARAM_RTOL = 1e-9


@dataclass(frozen=True)
class Row:
    """One bound.

    Attributes
    ----------
    name : str            the bound's name (a record's ``name``; ``theory.NAME`` in sweep tables)
    function : callable   the ``hetquad.theory`` function that computes it
    record : type         the record type it returns
    checker : callable    (result, bound, eps) -> CheckRecord
    section : str         where docs/theory.md states it
    optimizers : tuple    names of the ``sims`` specs it is checked with
    key : int             spawn key of its ``hetquad check`` instance streams (fixed: the instances
                          of a row do not change when rows are added)
    instances : str       which ``theory.suite`` draw: 'coupled', 'quadratic', 'plateau', 'linear_head'
    expected : str        THEORY §10's expected slack, printed beside the measured one
    stochastic : bool     a Monte-Carlo bound (fewer instances)
    applies : callable, optional   (problem, optimizer, w0) -> True (this run's bound), False (not
                          this row's optimizer) or a reason (this row's optimizer, other
                          hyper-parameters); rows without it give no bound to single runs
    make : callable, optional      (problem, optimizer, w0) -> the bound for a run ``applies`` accepted
    run_spec : callable, optional  (problem, bound) -> (spec name, kwargs): what ``hetquad check``
                          runs from the instance's w0 when no dedicated runner exists
    run_lr : callable, optional    bound -> the step size it holds at: a number, or one per block (a
                          run's lr × its per-block ``lrs``); ``theory.check`` refuses (ValueError) a
                          run of one of ``optimizers`` whose config used another. None: any lr
    """

    name: str
    function: Callable
    record: type
    checker: Callable
    section: str
    optimizers: tuple
    key: int
    instances: str
    expected: str = ""
    stochastic: bool = False
    applies: Callable | None = None
    make: Callable | None = None
    run_spec: Callable | None = None
    run_lr: Callable | None = None


def _late(name: str):
    """``hetquad.theory.NAME`` looked up at call time (so a patched theory function is the one used)."""
    import importlib
    return getattr(importlib.import_module(__package__), name)


def _scalar(opt, name):
    v = getattr(opt, name, None)
    return None if isinstance(v, tuple) or v is None else float(v)


def _close(a, b) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=PARAM_RTOL, abs_tol=0.0)


def _theorem_variant(opt, name, w0) -> bool:
    if getattr(opt, "name", None) != name or w0 is None or _scalar(opt, "lr") is None:
        return False
    return opt == type(opt).theorem_variant(opt.lr)


def _gd(p, opt, w0):
    return getattr(opt, "name", None) == "gd" and _scalar(opt, "lr") is not None


def _blockwise(p, opt, w0):
    if getattr(opt, "name", None) != "blockwise-gd" or not p.is_block_diagonal:
        return False
    b = _late("blockwise_gd_rate")(p)
    lrs = np.asarray(opt.lrs, dtype=float) * (_scalar(opt, "lr") or math.nan)
    if lrs.shape != (len(b.block_lrs),) or not np.allclose(lrs, b.block_lrs, rtol=PARAM_RTOL, atol=0):
        return "n/a: theory.blockwise_gd_rate holds at the per-block optimal lrs only"
    return True


def _sgd(nesterov: bool, bound_fn):
    def applies(p, opt, w0):
        if getattr(opt, "name", None) != "sgd" or bool(getattr(opt, "nesterov", False)) != nesterov:
            return False
        b = _late(bound_fn.__name__)(p)
        ok = (_close(_scalar(opt, "lr"), b.lr) and _close(_scalar(opt, "momentum"), b.momentum)
              and _scalar(opt, "dampening") == 0.0 and _scalar(opt, "weight_decay") == 0.0)
        return True if ok else f"n/a: theory.{b.name} holds at lr = {b.lr:.6g}, momentum = {b.momentum:.6g} only"
    return applies


def _lr(b):
    return b.lr


ROWS = (
    Row("gd_rate", gd_rate, RateBound, _check_rate, "THEORY §2", ("gd",), 0, "coupled",
        "T: 1.0-2.2, median 1.17", applies=_gd, make=lambda p, o, w0: _late("gd_rate")(p, lr=float(o.lr)), run_lr=_lr),
    Row("gd_lower_bound", gd_lower_bound, LowerBound, _check_lower, "THEORY §2", ("gd",), 1, "coupled",
        ">= 1, -> 1 at eta*"),
    Row("blockwise_gd_rate", blockwise_gd_rate, RateBound, _check_rate, "THEORY §3", ("blockwise-gd",), 2,
        "quadratic", "T: 1.0-2.7, median 1.23", applies=_blockwise, make=lambda p, o, w0: _late("blockwise_gd_rate")(p),
        run_lr=lambda b: b.block_lrs),
    Row("adam_variant_rate", adam_variant_rate, RateBound, _check_rate, "THEORY §4", ("adam",), 3, "coupled",
        "T at eta_P: 1.0-3.2, median 1.37", applies=lambda p, o, w0: _theorem_variant(o, "adam", w0),
        make=lambda p, o, w0: _late("adam_variant_rate")(p, np.asarray(w0), lr=float(o.lr)), run_lr=_lr),
    Row("adam_mini_variant_rate", adam_mini_variant_rate, RateBound, _check_rate, "THEORY §4", ("adam-mini",),
        4, "quadratic", "~ blockwise GD", applies=lambda p, o, w0: _theorem_variant(o, "adam-mini", w0),
        make=lambda p, o, w0: _late("adam_mini_variant_rate")(p, np.asarray(w0), lr=float(o.lr)), run_lr=_lr),
    Row("zhang_prediction", zhang_prediction, ZhangPrediction, _check_zhang, "THEORY §4", ("adam",), 5,
        "quadratic", ">= 1", run_lr=lambda b: b.adam.lr),
    Row("tomihari_bounds.gd", tomihari_bounds, IterationBound, CHECKERS[IterationBound], "THEORY §8.3",
        ("adaptive-gd",), 6, "coupled", "11-400 (median ~70)"),
    Row("tomihari_bounds.sign", tomihari_bounds, IterationBound, CHECKERS[IterationBound], "THEORY §8.3",
        ("signsgd",), 7, "coupled", "3.5-26 (median ~10)"),
    Row("tomihari_bounds.sgd", tomihari_bounds, StochasticBound, CHECKERS[StochasticBound], "THEORY §8.4",
        ("gd",), 8, "coupled", "1.6-7", stochastic=True),
    Row("tomihari_bounds.signsgd", tomihari_bounds, StochasticBound, CHECKERS[StochasticBound],
        "THEORY §8.4", ("signsgd",), 9, "quadratic", "1.6-7", stochastic=True),
    Row("sign_descent_plateau", sign_descent_plateau, SignPlateau, CHECKERS[SignPlateau], "THEORY §9.1",
        ("signsgd",), 10, "plateau", ">= 1.1 (median ~3.2)"),
    Row("linear_head_sign_update", linear_head_sign_update, LinearHeadSignUpdate,
        CHECKERS[LinearHeadSignUpdate], "THEORY §8.5", ("signsgd",), 11, "linear_head", "exact"),
    Row("heavy_ball_rate", heavy_ball_rate, MomentumBound, _check_envelope, "THEORY §12", ("sgd",), 12,
        "coupled", ">= 1 (envelope grows like t^2 rho^2t)", applies=_sgd(False, heavy_ball_rate),
        make=lambda p, o, w0: _late("heavy_ball_rate")(p),
        run_spec=lambda p, b: ("sgd", {"lr": b.lr, "momentum": b.momentum}), run_lr=_lr),
    Row("nesterov_rate", nesterov_rate, MomentumBound, _check_envelope, "THEORY §12", ("sgd",), 13,
        "coupled", ">= 1 (loose: 2 kappa factor)", applies=_sgd(True, nesterov_rate),
        make=lambda p, o, w0: _late("nesterov_rate")(p),
        run_spec=lambda p, b: ("sgd", {"lr": b.lr, "momentum": b.momentum, "nesterov": True}), run_lr=_lr),
    Row("normalized_gd_plateau", normalized_gd_plateau, NormalizedPlateau, CHECKERS[NormalizedPlateau],
        "THEORY §13", ("normalized-gd",), 14, "plateau", "level: min ~1.2, median ~40; floor: min ~2"),
)


def names() -> list[str]:
    """Every bound's name, in table order."""
    return [r.name for r in ROWS]


def get(name: str) -> Row:
    """The row called ``name``."""
    for r in ROWS:
        if r.name == name:
            return r
    raise ValueError(f"bound must be one of {names()}, got {name!r}")


def row_for(bound) -> Row:
    """The row that checks the record ``bound``: by its name, else by its type."""
    name = getattr(bound, "name", None)
    for r in ROWS:
        if r.name == name and isinstance(bound, r.record):
            return r
    for r in ROWS:
        if isinstance(bound, r.record):
            return r
    raise TypeError(f"bound must be a hetquad.theory bound record, got {type(bound).__name__}")


def for_optimizer(name: str) -> list[Row]:
    """The rows checked with the ``sims`` spec called ``name``."""
    return [r for r in ROWS if name in r.optimizers]


def match(problem, optimizer, w0=None):
    """(row, bound) of the first row that applies to this run, or (None, why none applies).

    The problem must be a ``BlockQuadratic`` with a constant-lr run (the caller checks both).
    """
    reason = None
    for r in ROWS:
        if r.applies is None:
            continue
        ok = r.applies(problem, optimizer, w0)
        if ok is True:
            return r, r.make(problem, optimizer, w0)
        if ok and reason is None:
            reason = ok
    return None, reason or f"n/a: no iteration bound for {getattr(optimizer, 'name', type(optimizer).__name__)} " \
                           "with these hyper-parameters"
