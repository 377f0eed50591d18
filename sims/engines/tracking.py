"""Stop, divergence and recording rules shared by the array engines (numpy, batched/cupy).

The numba kernels implement the very same rules inline; tests hold all engines to them:
a run stops with 'diverged' once its loss or ‖∇ℓ‖² is non-finite or its loss > 1e12·loss₀, with 'tol' once
loss ≤ tol·loss₀; a stopped run is frozen and records NaN afterwards.
"""
from __future__ import annotations

import numpy as np

from ..result import DIVERGENCE_FACTOR
from . import Task, Trajectory


def block_slices(problem) -> list[slice]:
    stops = np.cumsum(problem.sizes)
    return [slice(int(s - n), int(s)) for s, n in zip(stops, problem.sizes)]


class Tracker:
    """Records a batch of trajectories step by step and decides which runs are still active."""

    def __init__(self, task: Task, xp=np):
        self.xp = xp
        n, R = task.n, task.record.size
        self.record = task.record
        self.tol = task.tol
        self.slices = block_slices(task.problem) if task.per_block else None
        self.loss = np.full((n, R), np.nan)
        self.gnorm = np.full((n, R), np.nan)
        self.bnorm = np.full((n, R, len(self.slices)), np.nan) if self.slices else None
        self.iterations = np.zeros(n, dtype=np.int64)
        self.stop = np.zeros(n, dtype=np.int8)
        self.final = np.full(n, np.nan)
        self.active = np.ones(n, dtype=bool)
        self._k = 0  # index of the next record slot

    def _to_host(self, x):
        return x if self.xp is np else self.xp.asnumpy(x)

    def _gsq(self, g) -> np.ndarray:
        """‖g‖² per run, on the host."""
        return self._to_host(self.xp.sum(g * g, axis=1))

    def _norms(self, g, gsq):
        xp = self.xp
        gn = np.sqrt(gsq)
        bn = None
        if self.slices:
            bn = self._to_host(xp.stack([xp.sqrt(xp.sum(g[:, s] * g[:, s], axis=1)) for s in self.slices], axis=1))
        return gn, bn

    def start(self, loss, g) -> None:
        loss = self._to_host(loss)
        self.loss0 = loss.copy()
        self.threshold = np.where(loss > 0, DIVERGENCE_FACTOR * loss, np.inf)
        self.final[:] = loss
        self._write(0, loss, g, self._gsq(g), self.active)

    def _write(self, t, loss, g, gsq, mask) -> None:
        if self._k < self.record.size and self.record[self._k] == t:
            gn, bn = self._norms(g, gsq)
            self.loss[mask, self._k] = loss[mask]
            self.gnorm[mask, self._k] = gn[mask]
            if bn is not None:
                self.bnorm[mask, self._k] = bn[mask]
            self._k += 1

    def observe(self, t: int, loss, g) -> np.ndarray:
        """Loss and gradient after update t (so at step t); returns the active mask."""
        loss = self._to_host(loss)
        act = self.active
        with np.errstate(invalid="ignore"):
            # ‖g‖² overflowing is a divergence too: Adam's v = inf would freeze w with a finite loss
            gsq = self._gsq(g)  # also the recorded ‖g‖ (``_write``)
            diverged = act & (~np.isfinite(loss) | ~np.isfinite(gsq) | (loss > self.threshold))
            hit = act & ~diverged & (loss <= self.tol * self.loss0) if self.tol is not None else np.zeros_like(act)
        self.iterations[act] = t
        self.final[act] = loss[act]
        self._write(t, loss, g, gsq, act)
        self.stop[diverged] = 2
        self.stop[hit] = 1
        self.active = act & ~diverged & ~hit
        return self.active

    def finish(self, w_final) -> Trajectory:
        return Trajectory(self.loss, self.gnorm, self.bnorm, self.iterations, self.stop, self.final,
                          np.asarray(self._to_host(w_final)))
