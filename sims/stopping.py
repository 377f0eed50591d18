"""Why a run stops: the stop codes, their messages, the divergence rule and the tol rule.

Every engine applies these functions (the numba driver calls them on whole chunks of steps), and
``Result.stop_reason`` holds ``StopCode.label`` strings, so the CLI, sweeps and figures read one
vocabulary (DESIGN "Engines"):

- 'steps'    — the run performed every requested update;
- 'tol'      — loss ≤ tol·loss₀ (``reached_tol``);
- 'diverged' — loss or ‖∇ℓ‖² is not finite, or loss > 1e12·loss₀ (``diverged``).

A stopped run is frozen and records NaN afterwards.
"""
from __future__ import annotations

import enum

import numpy as np

DIVERGENCE_FACTOR = 1e12  # a run is diverged once loss > 1e12 x its initial loss (DESIGN)


class StopCode(enum.IntEnum):
    """Stop codes as engines store them (int8 arrays); ``label`` is the ``Result.stop_reason`` string."""

    STEPS = 0
    TOL = 1
    DIVERGED = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def message(self) -> str:
        return MESSAGES[self]


MESSAGES = {
    StopCode.STEPS: "ran every requested step",
    StopCode.TOL: "reached loss <= tol * loss0",
    StopCode.DIVERGED: f"diverged: loss or |grad|^2 not finite, or loss > {DIVERGENCE_FACTOR:g} * loss0",
}
STOP_REASONS = tuple(c.label for c in StopCode)  # ('steps', 'tol', 'diverged')
LABELS = {int(c): c.label for c in StopCode}      # engine code -> Result.stop_reason string


def labels(codes) -> tuple:
    """``Result.stop_reason`` strings of an array of stop codes."""
    return tuple(LABELS[int(c)] for c in codes)


def divergence_threshold(loss0: np.ndarray) -> np.ndarray:
    """The loss above which a run is diverged: 1e12·loss₀ (inf for a run started at loss 0)."""
    loss0 = np.asarray(loss0, dtype=np.float64)
    return np.where(loss0 > 0, DIVERGENCE_FACTOR * loss0, np.inf)


def diverged(loss, gsq, threshold) -> np.ndarray:
    """Runs whose loss or ‖g‖² is non-finite or whose loss exceeds ``threshold``.

    ‖g‖² overflowing counts too: Adam's v = inf would otherwise freeze w at a finite loss.
    Arrays broadcast (a chunk of steps (k, n) against thresholds (n,) works).
    """
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(loss) | ~np.isfinite(gsq) | (loss > threshold)


def reached_tol(loss, tol: float | None, loss0) -> np.ndarray:
    """Runs with loss ≤ tol·loss₀ (all False when ``tol`` is None)."""
    loss = np.asarray(loss)
    if tol is None:
        return np.zeros(loss.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return loss <= tol * np.asarray(loss0)


def decide(loss, gsq, *, threshold, tol: float | None, loss0) -> tuple[np.ndarray, np.ndarray]:
    """(diverged, hit tol) masks; a diverged run never also counts as having reached tol."""
    div = diverged(loss, gsq, threshold)
    return div, ~div & reached_tol(loss, tol, loss0)
