"""Recording, and the one step loop of the array engines (numpy, batched/cupy).

``Tracker`` records a batch step by step and applies the stop rules of ``sims.stopping`` (the
numba driver applies the same functions to whole chunks). ``simulate_rule`` is the loop both
array engines run: the optimizer spec's own ``init``/``update`` (one xp-generic rule table),
with the engine's gradient; a stopped run is frozen and records NaN afterwards.
"""
from __future__ import annotations

import numpy as np

from .. import stopping
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
        self.stop = np.full(n, stopping.StopCode.STEPS, dtype=np.int8)
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
        self.threshold = stopping.divergence_threshold(loss)
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
        with np.errstate(invalid="ignore", over="ignore"):
            gsq = self._gsq(g)  # also the recorded ‖g‖ (``_write``)
        diverged, hit = stopping.decide(loss, gsq, threshold=self.threshold, tol=self.tol, loss0=self.loss0)
        diverged, hit = act & diverged, act & hit
        self.iterations[act] = t
        self.final[act] = loss[act]
        self._write(t, loss, g, gsq, act)
        self.stop[diverged] = stopping.StopCode.DIVERGED
        self.stop[hit] = stopping.StopCode.TOL
        self.active = act & ~diverged & ~hit
        return self.active

    def finish(self, w_final) -> Trajectory:
        return Trajectory(self.loss, self.gnorm, self.bnorm, self.iterations, self.stop, self.final,
                          np.asarray(self._to_host(w_final)))


def _freeze(new, old, keep, n: int, xp):
    """Keep the state of stopped runs: batched (n, ...) fields take ``old`` where ``keep`` is False."""
    fields = {}
    for name, a, b in zip(new._fields, new, old):
        if getattr(a, "ndim", 0) == 2 and a.shape[0] == n and a is not b:
            fields[name] = xp.where(keep, a, b)
    return new._replace(**fields)


def simulate_rule(task: Task, value_and_grad, xp=np, noisy=None) -> Trajectory:
    """Run ``task`` through the optimizer's own ``init``/``update`` on ``xp`` arrays.

    Parameters
    ----------
    task : Task
    value_and_grad : callable w (n, d) -> (loss (n,), gradient (n, d)), on ``xp`` arrays
    xp : numpy or cupy
    noisy : callable (w, g, t) -> the gradient the update sees, optional (stochastic runs)
    """
    opt = task.optimizer
    state = opt.init(task.problem, xp.asarray(np.ascontiguousarray(task.w0, dtype=np.float64)))
    tracker = Tracker(task, xp)
    n = task.n
    host_mask, keep = None, None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss, g = value_and_grad(state.w)
        tracker.start(loss, g)
        for t in range(task.steps):
            active = tracker.active
            if not active.any():
                break
            new = opt.update(state, g if noisy is None else noisy(state.w, g, t))
            if not active.all():  # copy the mask to the device only when it changes
                if host_mask is None or not np.array_equal(host_mask, active):
                    host_mask, keep = active.copy(), xp.asarray(active)[:, None]
                new = _freeze(new, state, keep, n, xp)
            state = new
            loss, g = value_and_grad(state.w)
            tracker.observe(t + 1, loss, g)
    return tracker.finish(state.w)
