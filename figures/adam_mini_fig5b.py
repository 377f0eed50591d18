"""Adam-mini Fig. 5(b): r = κ(D_Adam H_b)/κ(H_b) against κ(H_b) at fixed d (THEORY §5b).

The same Givens generator as ``adam-mini-fig5`` (``problems.tau.givens_block``, Λ = diag(κ, 1, …, 1),
angle scale R), at d = 50 as in the seed, with κ on the x-axis; x ~ N(0, 1/√d), g = H_b x,
D_Adam = diag(1/|g|), r = ``problems.preconditioner.r_adam``; one (θ, x) draw per sample.
"""
from __future__ import annotations

import numpy as np
import scipy.stats
import xarray as xr

from hetquad.problems.preconditioner import r_adam
from hetquad.problems.tau import givens_block, tau

NAME = "adam-mini-fig5b"
SOURCE = "Zhang et al. 2024b, Adam-mini (seed 002), Fig. 5(b): r vs κ(H_b) at d = 50"
REPRODUCES = "Adam-mini Fig. 5(b)"
SEED_D = 50  # the seed's d for Fig. 5(b)
FIDELITY = {
    "tiny": dict(d=10, kappas=(10.0, 100.0, 1000.0), R=(0.0, 1.0), draws=8),
    "default": dict(d=50, kappas=tuple(10.0 ** np.arange(1.0, 4.01, 0.75)), R=(0.0, 0.1, 0.3, 1.0), draws=12),
    "full": dict(d=50, kappas=tuple(10.0 ** np.arange(1.0, 4.01, 0.25)), R=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0),
                 draws=100),
}
CAPTION = """
r = κ(D_Adam H_b)/κ(H_b) against κ(H_b) for one block H_b = QΛQᵀ, Λ = diag(κ, 1, …, 1), d = {d}
({d_note}), Q from the seed's Givens generator with angle scale R ∈ {{{Rs}}}
(problems.tau.givens_block, as in adam-mini-fig5); κ ∈ [{k_lo:g}, {k_hi:g}] ({n_k} values, log
spaced). Lines: median r over {draws} independent (θ, x) draws per (κ, R), band {band_lo}–{band_hi} %;
x ~ N(0, 1/√d) (r is scale-invariant); κ(D H) = ratio of extreme eigenvalues of D^{{1/2}} H D^{{1/2}} [C].
The seed averages many θ and x draws per point and plots means; r is heavy-tailed, so medians
[C]. Median τ per R: {taus}. Measured: Spearman(κ, r) per R: {spearman}; median r at the largest
κ: {r_top}. {reading}
"""
SUMMARY = """
r = κ(D_Adam H)/κ(H) against κ(H) at d = {d}: Spearman(κ, r) per R {spearman}
"""


def samples(d: int, kappa: float, R: float, draws: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(τ, r) for ``draws`` independent (θ, x) draws at (d, κ, R)."""
    taus, rs = np.empty(draws), np.empty(draws)
    streams = np.random.SeedSequence([seed, d, int(round(np.log10(kappa) * 1000)), int(round(R * 1000))])
    for k, ss in enumerate(streams.spawn(draws)):
        s_theta, s_x = ss.spawn(2)
        h = givens_block(d, kappa=kappa, R=R, seed=np.random.default_rng(s_theta))
        taus[k] = tau(h)
        rs[k] = r_adam(h, np.random.default_rng(s_x).normal(0.0, d ** -0.25, d))
    return taus, rs


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    K, R = np.asarray(cfg["kappas"], dtype=float), np.asarray(cfg["R"], dtype=float)
    t = np.empty((R.size, K.size, cfg["draws"]))
    r = np.empty_like(t)
    for i, rr in enumerate(R):
        for j, k in enumerate(K):
            t[i, j], r[i, j] = samples(cfg["d"], float(k), float(rr), cfg["draws"])
    rho = [scipy.stats.spearmanr(np.repeat(K, cfg["draws"]), r[i].ravel()).statistic for i in range(R.size)]
    return xr.Dataset({"tau": (("R", "kappa", "draw"), t), "r": (("R", "kappa", "draw"), r),
                       "spearman": (("R",), rho)},
                      coords={"R": R, "kappa": K, "draw": np.arange(cfg["draws"])}, attrs={"d": cfg["d"]})


def facts(data: xr.Dataset) -> dict:
    from . import style

    med = data.r.median("draw")
    sp = data.spearman.values
    top = med.isel(kappa=-1)
    dense, diag = float(top.isel(R=-1)), float(top.isel(R=0))
    reading = (f"At the largest κ, r is {dense / diag:.3g}× larger on the densest block (R = {float(data.R[-1]):g}) "
               f"than on the most diagonal one (R = {float(data.R[0]):g}): the seed's point that D_Adam helps "
               + ("near-diagonal blocks and not dense ones holds." if dense > diag else
                  "near-diagonal blocks more is not seen here."))
    d = int(data.attrs["d"])
    return {"d": d, "d_note": "the seed's d for Fig. 5(b)" if d == SEED_D else f"the seed uses d = {SEED_D} [C]",
            "Rs": ", ".join(f"{x:g}" for x in data.R.values),
            "k_lo": float(data.kappa.min()), "k_hi": float(data.kappa.max()), "n_k": data.sizes["kappa"],
            "draws": data.sizes["draw"], **style.band_facts(),
            "taus": ", ".join(f"R = {x:g}: {float(v):.3g}"
                              for x, v in zip(data.R.values, data.tau.median(("kappa", "draw")).values)),
            "spearman": ", ".join(f"{v:.2f} (R = {x:g})" for x, v in zip(data.R.values, sp)),
            "r_top": ", ".join(f"{style.num(float(v))} (R = {x:g})" for x, v in zip(data.R.values, top.values)),
            "reading": reading}


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(1, 1, width=4.6, height=3.6)
    ax = axes[0, 0]
    cmap = style.plt.get_cmap("viridis")
    K = data.kappa.values
    for i, R in enumerate(data.R.values):
        style.band(ax, K, data.r.isel(R=i).values.T, name="r", color=cmap(float(R)),
                   label=f"R = {R:g} (median τ {float(data.tau.isel(R=i).median()):.2g})", marker="o", markersize=3)
    ax.axhline(1.0, color="k", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("κ(H_b)")
    ax.set_ylabel("r = κ(D_Adam H_b) / κ(H_b)")
    ax.set_title(f"Adam-mini Fig. 5(b) analogue, d = {int(data.attrs['d'])}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
