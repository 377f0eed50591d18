"""The frozen record of a batch of runs: trajectories, why each run stopped, and its config."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .stopping import DIVERGENCE_FACTOR, STOP_REASONS  # noqa: F401  (re-exported: one table)


@dataclass(frozen=True, eq=False)
class Hyper:
    """The hyper-parameters of every run: name → read-only (batch,) array, one value per run
    (BlockwiseGD's ``lrs``: (batch, blocks)). ``hyper['lr'][i]`` is run i's lr."""

    items: tuple  # ((name, read-only array), ...): picklable, unlike a mappingproxy

    @classmethod
    def build(cls, columns: dict) -> "Hyper":
        frozen = []
        for k, v in columns.items():
            a = np.array(v, dtype=np.float64)
            a.setflags(write=False)
            frozen.append((k, a))
        return cls(tuple(frozen))

    @property
    def columns(self) -> dict:
        return dict(self.items)

    def __getitem__(self, name: str) -> np.ndarray:
        for k, a in self.items:
            if k == name:
                return a
        raise KeyError(f"no hyper-parameter {name!r}; have {[k for k, _ in self.items]}")

    def __iter__(self):
        return (k for k, _ in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def as_dict(self) -> dict:
        """name → a writable copy of the (batch,) array."""
        return {k: v.copy() for k, v in self.columns.items()}

    def as_frame(self):
        """A pandas DataFrame, one row per run; a 2-D entry ``lrs`` becomes ``lrs[0]``, ``lrs[1]``, …"""
        import pandas as pd
        cols = {}
        for k, v in self.columns.items():
            if v.ndim == 1:
                cols[k] = v
            else:
                cols.update({f"{k}[{j}]": v[:, j] for j in range(v.shape[1])})
        return pd.DataFrame(cols)


@dataclass(frozen=True, eq=False)
class Result:
    """Outcome of ``sims.run``.

    Attributes
    ----------
    loss, grad_norm : (batch, n_records) arrays
        Loss and ‖∇ℓ‖ at the recorded ``steps``; NaN after a run stopped early.
    steps : (n_records,) int array
        The recorded step indices (0 is the initial point).
    block_grad_norm : (batch, n_records, B) array or None
        ‖g_l‖ per problem block (``per_block=True``).
    stop_reason : tuple of str
        Per run: 'steps' (ran them all), 'tol' (loss ≤ tol·loss₀) or 'diverged'.
    iterations : (batch,) int array
        Updates performed by each run.
    final_loss : (batch,) array
        Loss after the last update of each run (the diverging value for diverged runs).
    w_final : (batch, d) array
    engine : str
    wall_time : float
        Seconds spent in the engine.
    config : dict
        Everything needed to re-create the run (problem name, optimizer spec, steps, seed, ...).
    hyper : Hyper or None
        One value per run of every numeric hyper-parameter of the optimizer (per-run grids).
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    steps: np.ndarray
    stop_reason: tuple
    iterations: np.ndarray
    final_loss: np.ndarray
    w_final: np.ndarray
    engine: str
    wall_time: float
    config: dict = field(default_factory=dict)
    block_grad_norm: np.ndarray | None = None
    hyper: Hyper | None = None

    @property
    def batch(self) -> int:
        return int(self.loss.shape[0])

    def iterations_to(self, tol: float, *, metric: str = "loss") -> np.ndarray:
        """First recorded step with ``metric`` ≤ tol × its initial value, per run (inf if never).

        ``metric`` is 'loss' (T(ε) of THEORY) or 'grad_norm'. The resolution is the recording
        grid (``record_every``).
        """
        if metric not in ("loss", "grad_norm"):
            raise ValueError(f"metric must be 'loss' or 'grad_norm', got {metric!r}")
        x = self.loss if metric == "loss" else self.grad_norm
        with np.errstate(invalid="ignore"):
            hit = x <= tol * x[:, :1]
        first = np.argmax(hit, axis=1)
        out = self.steps[first].astype(np.float64)
        out[~hit.any(axis=1)] = np.inf
        return out

    def summary(self) -> dict:
        """Counts of stop reasons and median final loss ratio, for printing."""
        reasons = {r: int(sum(s == r for s in self.stop_reason)) for r in STOP_REASONS}
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = self.final_loss / self.loss[:, 0]
        ratio = ratio[~np.isnan(ratio)]  # a run started at the optimum has 0/0: no ratio (not a warning)
        median = float(np.median(ratio)) if ratio.size else float("nan")
        return {"runs": self.batch, **reasons, "median_final_loss_ratio": median,
                "engine": self.engine, "wall_time": self.wall_time}
