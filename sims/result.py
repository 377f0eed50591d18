"""The frozen record of a batch of runs: trajectories, why each run stopped, and its config."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STOP_REASONS = ("steps", "tol", "diverged")
DIVERGENCE_FACTOR = 1e12  # a run is diverged once loss > 1e12 x its initial loss (DESIGN)


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
