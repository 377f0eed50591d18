"""Adam-mini Fig. 5: r = κ(D_Adam H_b)/κ(H_b) against the diagonal share τ (THEORY §5b).

Two generators of a block H_b with spectrum diag(κ, 1, …, 1): the paper's Givens product with
angle scale R (``problems.tau.givens_block``; τ is random and not monotone in R) and the exact
target-τ block (``problems.tau.target_tau_block``). For each block, x ~ N(0, 1/√d), g = H_b x,
D_Adam = diag(1/|g|) and r = ``problems.preconditioner.r_adam``.
"""
from __future__ import annotations

import numpy as np
import scipy.stats
import xarray as xr

from hetquad.problems.preconditioner import r_adam
from hetquad.problems.tau import givens_block, target_tau_block, tau, tau_range

NAME = "adam-mini-fig5"
SOURCE = "Zhang et al. 2024, Adam-mini (seed 002), Fig. 5 and Eq. (3): r vs off-diagonal mass"
KAPPA = 500.0
REPRODUCES = "Adam-mini Fig. 5(a)"
CAPTION = """
r = κ(D_Adam H_b)/κ(H_b) against τ = Σ|H_ii|/Σ|H_ij| for one block H_b = QΛQᵀ, Λ = diag({kappa:g}, 1,
…, 1) (THEORY §5b), d = {dims}. Dots: the paper's Givens generator, one dot per (θ, x) draw
({draws} per R), coloured by the angle scale R ∈ [{r_lo:g}, {r_hi:g}] ({n_r} values); squares with bars:
median and {band_lo}–{band_hi} % quantiles of (τ, r) per R. Line and band: the exact target-τ
generator (problems.tau.target_tau_block, median and {band_lo}–{band_hi} % of r over x draws at each
of {n_tau} τ). x ~ N(0, 1/√d) (r is scale-invariant); κ(D H) = ratio of extreme eigenvalues of
D^{{1/2}} H D^{{1/2}} [C] (the 2-norm condition number differs, THEORY §5b table). Plotted against τ,
not R: {monotone}. [M] averages many θ and x draws per point and plots means; r is heavy-tailed
(E r = ∞ at τ = 1), so we show medians and quantiles of independent (θ, x) draws instead [C].
The d list of [M] Fig. 5(a) is only in the image [C]. Measured: median r {r_diag} on the most
diagonal R and {r_dense} on the densest; Spearman(τ, r) = {spearman} (Givens draws). {verdict}
"""
SUMMARY = """
r = κ(D_Adam H)/κ(H) against τ: Spearman {spearman}
"""

FIDELITY = {
    "tiny": dict(dims=(10,), R=(0.0, 0.1, 0.3, 1.0), draws=8, taus=5),
    "default": dict(dims=(10, 50), R=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0), draws=40, taus=12),
    "full": dict(dims=(10, 50, 100), R=tuple(np.round(np.arange(0, 51) / 50, 2)), draws=200, taus=25),
}


def _x(d: int, rng) -> np.ndarray:
    return rng.normal(0.0, d ** -0.25, d)  # variance 1/√d as in [M]; immaterial for r


def givens_samples(d: int, R: float, draws: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(τ, r) for ``draws`` independent (θ, x) pairs of the Givens generator at angle scale R."""
    taus, rs = np.empty(draws), np.empty(draws)
    for k, ss in enumerate(np.random.SeedSequence([seed, d, int(round(R * 1000))]).spawn(draws)):
        s_theta, s_x = ss.spawn(2)
        h = givens_block(d, kappa=KAPPA, R=R, seed=np.random.default_rng(s_theta))
        taus[k] = tau(h)
        rs[k] = r_adam(h, _x(d, np.random.default_rng(s_x)))
    return taus, rs


def target_samples(d: int, tau_target: float, draws: int, *, seed: int) -> np.ndarray:
    """r for ``draws`` x draws on the exact target-τ block."""
    h = target_tau_block(d, kappa=KAPPA, tau=tau_target)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, d, 7]).spawn(draws)]
    return np.array([r_adam(h, _x(d, g)) for g in rngs])


def compute(fidelity: str, *, seed: int = 0) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    dims, Rs, n = cfg["dims"], np.asarray(cfg["R"], dtype=float), cfg["draws"]
    g_tau = np.empty((len(dims), Rs.size, n))
    g_r = np.empty_like(g_tau)
    t_grid = np.empty((len(dims), cfg["taus"]))
    t_r = np.empty((len(dims), cfg["taus"], n))
    spearman = np.empty(len(dims))
    for i, d in enumerate(dims):
        for j, R in enumerate(Rs):
            g_tau[i, j], g_r[i, j] = givens_samples(d, R, n, seed=seed)
        lo, hi = tau_range(d, kappa=KAPPA)
        # log grid from just above the reachable minimum to 1 (τ = 1 is the diagonal block)
        t_grid[i] = np.geomspace(lo * 1.02, 1.0, cfg["taus"])
        for k, t in enumerate(t_grid[i]):
            t_r[i, k] = target_samples(d, float(t), n, seed=seed)
        spearman[i] = scipy.stats.spearmanr(g_tau[i].ravel(), g_r[i].ravel()).statistic
    return xr.Dataset(
        {"givens_tau": (("d", "R", "draw"), g_tau), "givens_r": (("d", "R", "draw"), g_r),
         "target_tau": (("d", "tau_index"), t_grid), "target_r": (("d", "tau_index", "draw"), t_r),
         "spearman": ("d", spearman)},
        coords={"d": list(dims), "R": Rs, "draw": np.arange(n), "tau_index": np.arange(cfg["taus"])},
        attrs={"kappa": KAPPA, "seed": seed},
    )


def facts(data: xr.Dataset) -> dict:
    from . import style

    R = data.R.values
    med_tau = data.givens_tau.median("draw")  # (d, R)
    t0 = med_tau.isel(d=0).values
    up = np.flatnonzero(np.diff(t0) > 0)  # τ should fall as R grows; where it rises instead
    if up.size == 0:
        monotone = (f"at d = {int(data.d[0])} the median τ falls monotonically with R here, but each draw's τ is "
                    "random, so R does not fix τ")
    else:
        i = int(up[np.argmax(np.diff(t0)[up])])
        monotone = (f"τ is not monotone in R (at d = {int(data.d[0])}, median τ {t0[i]:.3g} at R = {R[i]:g} but "
                    f"{t0[i + 1]:.3g} at R = {R[i + 1]:g})")
    med_r = data.givens_r.median("draw")
    most = med_tau.argmax("R")
    least = med_tau.argmin("R")
    sp = data.spearman.values
    return {"kappa": data.attrs["kappa"], "dims": ", ".join(str(int(d)) for d in data.d.values),
            "draws": data.sizes["draw"], "r_lo": R.min(), "r_hi": R.max(), "n_r": R.size, **style.band_facts(),
            "n_tau": data.sizes["tau_index"], "monotone": monotone,
            "r_diag": ", ".join(f"{float(med_r.isel(d=k, R=int(most[k]))):.3g}" for k in range(data.sizes["d"])),
            "r_dense": ", ".join(f"{float(med_r.isel(d=k, R=int(least[k]))):.3g}" for k in range(data.sizes["d"])),
            "spearman": ", ".join(f"{v:.2f} (d = {int(d)})" for v, d in zip(sp, data.d.values)),
            "verdict": ("Reproduced: r is small (Adam's diagonal preconditioner helps) when τ ≈ 1 and grows as "
                        "off-diagonal mass grows." if np.all(sp < 0) else
                        "Not reproduced at every d: Spearman(τ, r) is not negative throughout.")}


def reference_rows(data: xr.Dataset) -> list[dict]:
    """Mean τ, mean r and median r per (d, R): the columns of the THEORY §5b table."""
    rows = []
    for d in data.d.values:
        for R in data.R.values:
            t = data.givens_tau.sel(d=d, R=R).values
            r = data.givens_r.sel(d=d, R=R).values
            rows.append({"d": int(d), "R": float(R), "mean_tau": float(t.mean()), "mean_r": float(r.mean()),
                         "median_r": float(np.median(r))})
    return rows


def plot(data: xr.Dataset):
    from . import style

    dims = data.d.values
    fig, axes = style.figure(len(dims), 1, width=4.4, height=3.4)
    cmap = style.plt.get_cmap("viridis")
    for ax, d in zip(axes[0], dims):
        sel = data.sel(d=d)
        for j, R in enumerate(data.R.values):
            c = cmap(float(R))
            t, r = sel.givens_tau.values[j], sel.givens_r.values[j]
            ax.scatter(t, r, s=4, color=c, alpha=0.35, linewidths=0)
            tq = np.quantile(t, [style.BAND[0], 0.5, style.BAND[1]])
            rq = np.quantile(r, [style.BAND[0], 0.5, style.BAND[1]])
            ax.errorbar(tq[1], rq[1], xerr=[[tq[1] - tq[0]], [tq[2] - tq[1]]],
                        yerr=[[rq[1] - rq[0]], [rq[2] - rq[1]]], fmt="s", ms=4, color=c,
                        mec="k", mew=0.5, elinewidth=0.8)
        style.band(ax, sel.target_tau.values, sel.target_r.values.T, name="theory",
                   label=f"target-τ generator (median, {style.band_facts()['band_lo']}–{style.band_facts()['band_hi']} %)")
        ax.scatter([], [], s=12, marker="s", color=cmap(0.5), label="Givens generator, per R")
        ax.axhline(1.0, color="k", linewidth=0.6, linestyle=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("τ = Σ|H_ii| / Σ|H_ij|")
        ax.set_ylabel("r = κ(D_Adam H) / κ(H)")
        ax.set_title(f"d = {int(d)}, κ = {data.attrs['kappa']:g}\n"
                     f"Spearman(τ, r) = {float(sel.spearman):.2f} (Givens draws)")
        ax.legend(loc="lower left", fontsize=7)
    sm = style.plt.cm.ScalarMappable(cmap=cmap, norm=style.plt.Normalize(0, 1))
    fig.colorbar(sm, ax=axes[0].tolist(), label="Givens angle scale R", shrink=0.9)
    return fig
