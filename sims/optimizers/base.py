"""What every spec shares: the array namespace, per-run hyper-parameters, batching and the moment pieces.

A per-run value is stored as a tuple (the spec stays frozen, hashable and serializable); ``_PerRun`` does
the bookkeeping of the names a spec lists in ``HYPER``.
"""
from __future__ import annotations

import numpy as np

from ..schedules import Constant


def namespace(a):
    """The array module (numpy or cupy) that ``a`` belongs to."""
    if type(a).__module__.partition(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def per_run(name: str, value, check):
    """A number → ``check(name, value)``; a 1-D array → a tuple, element i checked as ``name[i]``.

    So a NaN in run 3's lr is ``ValueError: lr[3] must be finite, got nan``.
    """
    if isinstance(value, (str, bytes)):
        return check(name, value)  # the validator's own TypeError ("must be a real number")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if np.ndim(value) == 0:
        return check(name, value)
    arr = np.asarray(value, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D array (one value per run), "
                         f"got shape {arr.shape}")
    return tuple(check(f"{name}[{i}]", x.item() if isinstance(x, np.generic) else x)
                 for i, x in enumerate(arr.tolist()))


def run_values(value) -> tuple:
    """The per-run values of a hyper-parameter as a tuple (a number gives a 1-tuple)."""
    return value if isinstance(value, tuple) else (value,)


def column(value, xp=np):
    """(k, 1) float64 column of a hyper-parameter: k = its runs, 1 for a number (broadcasts)."""
    return xp.asarray(np.array(run_values(value), dtype=np.float64)[:, None])


def _fit_batch(w, runs: int | None):
    """Broadcast a single initial point over ``runs`` per-run hyper-parameter rows."""
    if runs is None or w.shape[0] == runs:
        return w
    if w.shape[0] == 1:
        return namespace(w).repeat(w, runs, axis=0)
    raise ValueError(f"the optimizer has {runs} per-run hyper-parameter values but w0 has {w.shape[0]} rows")


class _PerRun:
    """Per-run bookkeeping of the numeric hyper-parameters named by ``HYPER``."""

    HYPER: tuple = ()

    def _lengths(self) -> dict:
        return {k: len(getattr(self, k)) for k in self.HYPER if isinstance(getattr(self, k), tuple)}

    def _check_runs(self) -> None:
        lengths = self._lengths()
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ValueError(f"per-run hyper-parameters must all have one value per run: {shown}")

    def runs(self) -> int | None:
        """Number of runs the per-run hyper-parameters give (None when all are numbers)."""
        lengths = self._lengths()
        return next(iter(lengths.values())) if lengths else None

    def hyper(self, n: int) -> dict:
        """Per-run values of every numeric hyper-parameter: name → (n,) float array."""
        return {k: np.broadcast_to(np.array(run_values(getattr(self, k)), dtype=np.float64), (n,)).copy()
                for k in self.HYPER}


def _schedule(s):
    if not isinstance(s, Constant):
        raise TypeError(f"schedule must be a hetquad.sims.schedules spec, got {type(s).__name__}")
    return s


def _as_batch(w0):
    xp = namespace(w0)
    w = xp.array(w0, dtype=np.float64)
    return w[None, :] if w.ndim == 1 else w


def _rows(a: np.ndarray, n: int) -> np.ndarray:
    """(k, ...) per-run rows (k = n, or 1 shared) → (n, ...)."""
    return np.ascontiguousarray(np.broadcast_to(a, (n,) + a.shape[1:]))


# -- shared moment pieces --------------------------------------------------------------------
def ema(buf, x, beta):
    """buf ← β·buf + (1−β)·x (β a number or a (k, 1) per-run column)."""
    return beta * buf + (1.0 - beta) * x


def scaled(m, denom):
    """m / denom with 0/0 := 0: with ε = 0, a coordinate whose gradient has always been 0 (m = v = 0)
    does not move (the ε → 0⁺ limit) instead of turning the run into NaN. m ≠ 0 over denom = 0
    stays ±inf, so a v that really vanished is still reported as a divergence."""
    xp = namespace(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(m == 0.0, 0.0, m / denom)


def corrections(betas: np.ndarray, t: int) -> np.ndarray:
    """1 − β^t per run with Python's float power (torch's scalar rule), once per distinct β.

    Never numpy's vectorised power: its SIMD and scalar paths may round differently, which
    would make a run's numbers depend on its position in the batch.
    """
    uniq, inv = np.unique(betas, return_inverse=True)
    return np.array([1.0 - float(b) ** t for b in uniq])[inv.ravel()]
