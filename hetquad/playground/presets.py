"""The four notebooks' stories as starting states of the playground (``embed('01')`` …)."""
from __future__ import annotations

from .state import OptChoice, State

ADAM = (("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8))

# 01 · block heterogeneity: three blocks κ_l = 10 whose scales spread to κ(H) = 1000 (τ = 1: diagonal
# blocks). One GD lr faces all blocks; the η slider moves it on the ρ_l(η) picture.
# 02 · τ and the Adam preconditioner: Adam-mini Fig. 5's Givens-rotated block; the rotation R
# changes τ and what a diagonal preconditioner can do (|H| heatmap).
# 03 · gradient heterogeneity: blocks of spread scales, initial block gradients with Gini 0.5 on the
# sharpest blocks; GD against sign descent (scheduled, as Tomihari & Sato ask) and Adam.
# 04 · your own sweep: the family of examples/sweeps/tau_kappa.toml; move a slider, copy as sweep.
PRESETS = {
    "01": State(problem="tau-kappa",
                params=(("tau", 1.0), ("kappa", 1000.0), ("n_blocks", 3), ("block_size", 10),
                        ("block_kappa", 10.0)),
                optimizers=(OptChoice("gd", 0.002), OptChoice("blockwise-gd", 1.0),
                            OptChoice("adam", 0.01, ADAM), OptChoice("adam", 0.01, variant="theorem")),
                steps=1000, batch=8),
    "02": State(problem="adam-mini-fig5", params=(("d", 50), ("kappa", 500.0), ("R", 0.5)),
                optimizers=(OptChoice("gd", 0.004), OptChoice("adam", 0.01, ADAM),
                            OptChoice("adam", 0.1, variant="theorem"),
                            OptChoice("adam-mini", 0.2, variant="theorem")),
                steps=1000, batch=8),
    "03": State(problem="tomihari-blocks",
                params=(("n_blocks", 4), ("block_size", 10), ("spread", 3.0)),
                gini=0.5,
                optimizers=(OptChoice("gd", 2e-4), OptChoice("signsgd", 0.01, schedule=("step", 30, 0.5)),
                            OptChoice("signum", 0.01, (("momentum", 0.9),), schedule=("step", 30, 0.5)),
                            OptChoice("adam", 0.01, ADAM)),
                steps=1000, batch=8),
    "04": State(problem="tau-kappa",
                params=(("tau", 0.5), ("kappa", 100.0), ("n_blocks", 4), ("block_size", 10),
                        ("block_kappa", 10.0)),
                optimizers=(OptChoice("gd", 0.01), OptChoice("adam", 0.01, ADAM),
                            OptChoice("adam-mini", 0.01, ADAM)),
                steps=1000, batch=8),
}
TITLES = {"01": "01 · block heterogeneity: move η on the ρ_l(η) picture",
          "02": "02 · τ and the Adam preconditioner: move the rotation R",
          "03": "03 · gradient heterogeneity and sign descent: move the Gini",
          "04": "04 · your own sweep: move a slider, then copy as sweep"}


def preset(name: str) -> State:
    """The starting ``State`` of preset ``name`` (one of ``PRESETS``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
    return PRESETS[name]
