"""Adam's β2 on the Zhang et al. cases: from torch-Adam (β2 < 1) to the theorem's β2 = 1 variant.

The theory (THEORY §4, Adam-mini appendix) analyses β2 = 1 with v frozen at g0²; torch-Adam uses
β2 < 1, whose v tracks the shrinking gradient, so its effective step grows as the run converges.
Top row: ‖g_t‖/‖g_0‖ for β2 ∈ BETA2 at β1 = 0.9, each at its THEORY §6-tuned lr, and the theorem
variant (β1 = 0, β2 = 1) at the optimal lr η_P of its bound with that bound ρ_P^t
(``theory.adam_variant_rate``). Bottom row: a β1 × β2 phase diagram of the iterations to
ℓ ≤ TOL·ℓ_0, each cell at its best lr of the grid. Per case, every (β2, lr, init) of the top row,
every (β1, β2, lr, init) of the phase diagram and every init of the variant is one run of a
batched ``sims.run`` (per-run hyper-parameter arrays): one call per v convention (β2 < 1, β2 = 1:
they differ in ``bias_correction`` and ``v0``, which cannot vary within a call) for the curves and
for the phase diagram, one for the variant. The cases are different problems, one loop.

β2 = 1 cannot use torch's bias correction (it divides by 1 − β2^t = 0) nor v0 = 0 (the step would
be g/ε forever), so the β2 = 1 runs use v0 = g0² and no bias correction — the theorem's choice [C].
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems, sims, theory

NAME = "adam-beta2"
SOURCE = ("Zhang et al. 2024b, Adam-mini (seed 002) appendix: why the theory uses β2 = 1; "
          "Zhang et al. 2024 (seed 000) Cases 1/3/4")
REPRODUCES = "Adam-mini appendix: β2 < 1 vs the β2 = 1 theory"
CASES = ("zhang2024-case1", "zhang2024-case3", "zhang2024-case4")
BETA2 = (0.9, 0.99, 0.999, 0.9999, 1.0)
BETA1 = 0.9
TORCH = (0.9, 0.999)  # torch.optim.Adam's default (β1, β2)
TOL = 1e-6
LRS = 10.0 ** np.arange(-3.0, 0.0 + 1e-9, 0.25)  # THEORY §6 quarter decades, cut to 10^{-3…0} [C]
FIDELITY = {
    "tiny": dict(inits=2, horizon=300, beta1s=(0.0, 0.9), beta2s=(0.9, 0.999, 1.0), lr_step=2, cap=600),
    "default": dict(inits=3, horizon=1000, beta1s=(0.0, 0.5, 0.9, 0.99), beta2s=(0.9, 0.99, 0.999, 0.9999, 1.0),
                    lr_step=2, cap=1500),
    "full": dict(inits=10, horizon=2000, beta1s=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99),
                 beta2s=(0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0), lr_step=1, cap=5000),
}
CAPTION = """
Adam's β2 on Zhang et al. Cases {cases} (catalog, κ = {kappa:.0f}; problem seed 0, {inits} inits
w0 = w* + N(0, I)). Top row: log10 ‖g_t‖/‖g_0‖ (median over inits) for torch-Adam with β1 = {beta1:g},
ε = {adam_eps} and β2 ∈ {{{beta2s}}}, each at its lr tuned by the THEORY §6 tail score at N = {horizon}
on 10^{{{lr_lo:g}…{lr_hi:g}}} ({n_lr} lrs) [C]; β2 = 1 runs with v frozen at g0² and no bias correction
(torch's correction divides by zero there) [C]. Black: the theorem variant (β1 = 0, β2 = 1, v = g0²,
ε = 0) at the optimal lr η_P of its bound, dashed: that bound ρ_P^t (theory.adam_variant_rate,
THEORY §4). Tail scores (decades at N = {horizon}, per case): {scores}. {reading} Bottom row: median
iterations to ℓ ≤ {tol} ℓ_0 (capped at {cap} steps; white: not reached) on a β1 × β2 grid, each cell
at its best lr; {runs} runs per panel. Fastest cell per case: {best_cells}; torch's default (β1, β2) =
({d_b1:g}, {d_b2:g}): {default_cells}. Where we differ: the seeds do not run β2 < 1 on these quadratics;
the grid, horizon, lr range and the β2 = 1 convention are ours.
"""
SUMMARY = """
torch-Adam from β2 = {b2_lo:g} to the theorem's β2 = 1 on Cases {cases}, and a β1 × β2 phase diagram
({runs} runs per case): {reading}
"""


def _adam(lr, beta1, beta2):
    """torch-Adam for β2 < 1; v frozen at g0² without bias correction for β2 = 1 [C]."""
    b2 = np.asarray(beta2, dtype=float)
    if np.all(b2 == 1.0):
        return sims.Adam(lr, beta1=beta1, beta2=1.0, bias_correction=False, v0="g0sq")
    return sims.Adam(lr, beta1=beta1, beta2=beta2)


def tail_scores(res, n: int) -> np.ndarray:
    """Per run: worst log10(‖g_t‖/‖g_0‖) over t ∈ [0.9n, n] (THEORY §6); +inf if it diverged."""
    g = res.grad_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log10(g / g[:, :1])
    tail = ratio[:, int(np.ceil(0.9 * n)):n + 1]
    out = np.max(tail, axis=1)
    bad = ~np.isfinite(out) | np.array([s == "diverged" for s in res.stop_reason])
    return np.where(bad, np.inf, out)


def curves(p, w0, lrs, beta2s, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per β2 of ``beta2s``: the tuned curve (median over inits), its lr and its tail score, of
    Adam(β1 = BETA1, β2) on one problem; one run per (β2, lr, init), one call per v convention.

    Returns (len(beta2s), horizon + 1), (len(beta2s),), (len(beta2s),); the lr minimises the
    median tail score (first on ties).
    """
    n_i, L = w0.shape[0], len(lrs)
    curve = np.full((len(beta2s), horizon + 1), np.nan)
    lr_t, score = np.empty(len(beta2s)), np.empty(len(beta2s))
    for frozen in (False, True):  # β2 < 1 in one batch, β2 = 1 in another (different v convention)
        cols = [j for j, b in enumerate(beta2s) if (b == 1.0) == frozen]
        if not cols:
            continue
        grid = np.array([(beta2s[j], lr) for j in cols for lr in lrs])
        rows = np.repeat(grid, n_i, axis=0)
        res = sims.run(p, _adam(rows[:, 1], BETA1, rows[:, 0]), horizon, w0=np.tile(w0, (len(grid), 1)))
        sc = np.median(tail_scores(res, horizon).reshape(len(cols), L, n_i), axis=2)
        k = np.argmin(sc, axis=1)
        g = res.grad_norm.reshape(len(cols), L, n_i, -1)[np.arange(len(cols)), k]  # (β2, init, step)
        with np.errstate(divide="ignore", invalid="ignore"):
            curve[cols] = np.median(np.log10(g / g[..., :1]), axis=1)
        lr_t[cols], score[cols] = lrs[k], sc[np.arange(len(cols)), k]
    return curve, lr_t, score


def phase(p, w0, lrs, beta1s, beta2s, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """(β1, β2) → median iterations to TOL at the best lr, and that lr; one run per (β1, β2, lr, init)."""
    n_i = w0.shape[0]
    T = np.full((len(beta1s), len(beta2s)), np.inf)
    best = np.full_like(T, np.nan)
    for frozen in (False, True):  # β2 < 1 in one batch, β2 = 1 in another (different v convention)
        cols = [j for j, b in enumerate(beta2s) if (b == 1.0) == frozen]
        if not cols:
            continue
        grid = np.array([(b1, beta2s[j], lr) for b1 in beta1s for j in cols for lr in lrs])
        rows = np.repeat(grid, n_i, axis=0)
        res = sims.run(p, _adam(rows[:, 2], rows[:, 0], rows[:, 1]), cap, w0=np.tile(w0, (len(grid), 1)),
                       tol=TOL, record_every=cap)
        its = np.where([s == "tol" for s in res.stop_reason], res.iterations, np.inf)
        med = np.median(its.reshape(len(beta1s), len(cols), len(lrs), n_i), axis=3)
        k = np.argmin(med, axis=2)
        T[:, cols] = np.take_along_axis(med, k[..., None], axis=2)[..., 0]
        best[:, cols] = np.where(np.isfinite(T[:, cols]), lrs[k], np.nan)
    return T, best


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    H, lrs = cfg["horizon"], LRS[::cfg["lr_step"]]
    b1s, b2s = tuple(cfg["beta1s"]), tuple(cfg["beta2s"])
    C = len(CASES)
    curve = np.full((C, len(b2s), H + 1), np.nan)
    lr_t, score = np.empty((C, len(b2s))), np.empty((C, len(b2s)))
    variant = np.full((C, H + 1), np.nan)
    rho_p, kappa = np.empty(C), np.empty(C)
    T, T_lr = np.empty((C, len(b1s), len(b2s))), np.empty((C, len(b1s), len(b2s)))
    for c, case in enumerate(CASES):
        p = problems.get(case, seed=0)
        w0 = sims.initial_points(p, cfg["inits"], 0)
        kappa[c] = p.kappa
        curve[c], lr_t[c], score[c] = curves(p, w0, lrs, b2s, H)
        bound = [theory.adam_variant_rate(p, w) for w in w0]
        rho_p[c] = np.median([b.rate for b in bound])
        # every init at its own η_P: one call with a per-run lr
        g = sims.run(p, sims.Adam.theorem_variant(np.array([b.lr for b in bound])), H, w0=w0).grad_norm
        with np.errstate(divide="ignore"):
            variant[c] = np.median(np.log10(g / g[:, :1]), axis=0)
        T[c], T_lr[c] = phase(p, w0, lrs, b1s, b2s, cfg["cap"])
    return xr.Dataset(
        {"log_grad_ratio": (("case", "beta2", "iteration"), curve), "lr": (("case", "beta2"), lr_t),
         "tail_score": (("case", "beta2"), score), "variant": (("case", "iteration"), variant),
         "rho_p": (("case",), rho_p), "kappa": (("case",), kappa),
         "iterations": (("case", "beta1", "beta2"), T), "best_lr": (("case", "beta1", "beta2"), T_lr)},
        coords={"case": list(CASES), "beta2": list(b2s), "beta1": list(b1s), "iteration": np.arange(H + 1)},
        attrs={"beta1_curves": BETA1, "tol": TOL, "cap": cfg["cap"], "inits": cfg["inits"], "horizon": H,
               "lrs": [lrs[0], lrs[-1]], "n_lr": len(lrs), "adam_eps": 1e-8},
    )


def _case(c) -> str:
    return str(c).replace("zhang2024-case", "")


def facts(data: xr.Dataset) -> dict:
    from . import style

    scores, reading = [], []
    for c in data.case.values:
        sc = data.tail_score.sel(case=c)
        scores.append(f"Case {_case(c)}: " + ", ".join(f"β2 = {b:g} {float(v):.1f}"
                                                        for b, v in zip(data.beta2.values, sc.values)))
        best = float(sc.beta2[int(np.argmin(sc.values))])
        reading.append(f"Case {_case(c)}: β2 = {best:g}")
    T = data.iterations
    cells, dflt = [], []
    for c in data.case.values:
        t = T.sel(case=c)
        i, j = np.unravel_index(int(np.argmin(t.values)), t.shape)
        cells.append(f"Case {_case(c)} (β1, β2) = ({float(t.beta1[i]):g}, {float(t.beta2[j]):g}), "
                     f"{style.num(float(t.values[i, j]))}")
        if TORCH[0] in t.beta1.values and TORCH[1] in t.beta2.values:
            dflt.append(f"Case {_case(c)} {style.num(float(t.sel(beta1=TORCH[0], beta2=TORCH[1])))}")
    n_runs = data.sizes["beta1"] * data.sizes["beta2"] * int(data.attrs["n_lr"]) * int(data.attrs["inits"])
    return {"cases": ", ".join(_case(c) for c in data.case.values), "kappa": float(data.kappa.median()),
            "inits": int(data.attrs["inits"]), "beta1": data.attrs["beta1_curves"],
            "adam_eps": style.num(data.attrs["adam_eps"]),
            "beta2s": ", ".join(f"{b:g}" for b in data.beta2.values), "horizon": int(data.attrs["horizon"]),
            "lr_lo": np.log10(data.attrs["lrs"][0]), "lr_hi": np.log10(data.attrs["lrs"][1]),
            "n_lr": int(data.attrs["n_lr"]), "scores": "; ".join(scores),
            "reading": "Best β2 by tail score: " + ", ".join(reading) + ".",
            "tol": style.num(data.attrs["tol"]), "cap": int(data.attrs["cap"]), "runs": n_runs,
            "best_cells": "; ".join(cells), "d_b1": TORCH[0], "d_b2": TORCH[1],
            "b2_lo": float(data.beta2.min()), "default_cells": ", ".join(dflt) if dflt else "not on this grid"}


def plot(data: xr.Dataset):
    from matplotlib.colors import LogNorm

    from . import style

    C = data.sizes["case"]
    fig, axes = style.figure(C, 2, width=3.5, height=3.0)
    cmap = style.plt.get_cmap("viridis")
    x = data.iteration.values
    b2 = data.beta2.values
    for c, case in enumerate(data.case.values):
        ax = axes[0, c]
        for j, b in enumerate(b2):
            ax.plot(x, data.log_grad_ratio.sel(case=case).values[j], color=cmap(j / max(len(b2) - 1, 1)),
                    linewidth=1.1, label=f"β2 = {b:g}" + (" (v = g0²)" if b == 1 else ""))
        ax.plot(x, data.variant.sel(case=case).values, color="k", linewidth=1.0, label="variant β1=0, β2=1 at η_P")
        ax.plot(x, x * np.log10(float(data.rho_p.sel(case=case))), color="k", linestyle="--", linewidth=0.8,
                label="bound ρ_P^t")
        ax.set_ylim(max(-16.0, float(np.nanmin(data.log_grad_ratio.values)) - 0.5), 1)
        ax.set_xlabel("iteration t")
        ax.set_ylabel("log10 ‖g_t‖/‖g_0‖")
        ax.set_title(f"Case {_case(case)}: Adam β1 = {data.attrs['beta1_curves']:g}, tuned lr", fontsize=9)
        ax = axes[1, c]
        T = data.iterations.sel(case=case).values
        finite = T[np.isfinite(T)]
        im = ax.imshow(np.where(np.isfinite(T), T, np.nan), origin="lower", aspect="auto", cmap="magma_r",
                       norm=LogNorm(vmin=max(finite.min(), 1) if finite.size else 1,
                                    vmax=finite.max() if finite.size else 10))
        for i in range(T.shape[0]):
            for j in range(T.shape[1]):
                ax.text(j, i, style.num(T[i, j], 2) if np.isfinite(T[i, j]) else "–", ha="center", va="center",
                        fontsize=6, color="w" if np.isfinite(T[i, j]) and T[i, j] > np.sqrt(finite.min() * finite.max()) else "k")
        ax.set_xticks(range(T.shape[1]), [f"{b:g}" for b in data.beta2.values], fontsize=7)
        ax.set_yticks(range(T.shape[0]), [f"{b:g}" for b in data.beta1.values], fontsize=7)
        ax.set_xlabel("β2")
        ax.set_ylabel("β1")
        ax.grid(False)
        ax.set_title(f"iterations to ℓ ≤ {style.num(data.attrs['tol'])}·ℓ0, best lr per cell", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.85, format="%.0f")
    axes[0, 0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig
