"""Adam-mini Fig. 15 (App. C.2): which block statistic of Adam's v should set a block's lr.

Adam-mini keeps one second moment per block, the mean of Adam's v over the block. [M] App. C.2
compares it with max(v), min(v) and the 2-norm of v on a Transformer and finds mean(v) best. Here
the same four reducers (``AdamMini(reducer=...)``: the statistic of the block's v, broadcast to its
coordinates) and Adam itself run on the three-dense-block quadratic of Adam-mini Fig. 4
(``problems.get('adam-mini-fig4')``), each with its lr tuned by the same protocol
(``sims.tune_interior``: a log2 grid widened until the best lr is interior, minimising the iterations
to ℓ ≤ TOL·ℓ_0; the final loss is no measure here: every method reaches the float64 floor).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems, sims

NAME = "adam-mini-v-ablation"
SOURCE = "Zhang et al. 2024, Adam-mini (seed 002), App. C.2 Fig. 15: mean(v) vs max / min / 2-norm of v"
REPRODUCES = "Adam-mini Fig. 15 (v ablation)"
REDUCERS = ("mean", "max", "min", "norm")
METHODS = REDUCERS + ("adam",)
BETAS, EPS = (0.9, 0.999), 1e-8  # the practical optimizers, torch defaults
TOL = 1e-6  # loss reduced by 1e-6, as in adam-mini-fig4 (THEORY §5a)
LR_GRID = 2.0 ** np.arange(-12, 1)
FIDELITY = {"tiny": dict(seeds=2, block_size=8, steps=3000),
            "default": dict(seeds=8, block_size=30, steps=20000),
            "full": dict(seeds=32, block_size=30, steps=50000)}
CAPTION = """
Adam-mini's v ablation ([M] App. C.2, Fig. 15) on the quadratic of Adam-mini Fig. 4 (three dense
{bs}×{bs} Haar-rotated blocks, κ = {kappa:.0f} at seed 0; one problem and one w0 ~ N(0, I) per seed,
{seeds} seeds) [C: the seed ablates on a Transformer; we use its own quadratic case study]. Adam-mini
with the block's second moment set to mean(v) (Adam-mini), max(v), min(v) or the 2-norm of v over the
block, and Adam, all with β = {betas}, ε = {eps:g} and bias correction, each with its lr tuned per seed
on a log2 grid widened until the best lr is interior, minimising the iterations to ℓ ≤ {tol:g}·ℓ_0 (at
most {steps}; the same protocol for all). (a) ℓ_t/ℓ_0 at the tuned lr, median over seeds with a
{band_lo}–{band_hi} % band (a run is stopped at the target and held there). (b) iterations to the target
per seed (dots) and median (bar). Median iterations: {finals}. Best reducer by median: {best}; the
four reducers' medians lie within {spread:.0f} % of the best. {verdict} Tuned lrs (median): {lrs}.
"""
SUMMARY = """
Adam-mini's block statistic of v, each tuned: median iterations to {tol:g}·ℓ_0 {finals}; best {best}
"""


def _make(method: str):
    if method == "adam":
        return lambda lr: sims.Adam(lr=lr, beta1=BETAS[0], beta2=BETAS[1], eps=EPS)
    return lambda lr: sims.AdamMini(lr=lr, beta1=BETAS[0], beta2=BETAS[1], eps=EPS, reducer=method)


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    S, T = cfg["seeds"], cfg["steps"]
    curves = None
    final = np.empty((S, len(METHODS)))
    best_lr = np.empty((S, len(METHODS)))
    for s in range(S):
        p = problems.get("adam-mini-fig4", seed=s, block_size=cfg["block_size"])
        w0 = sims.initial_points(p, 1, s)
        if s == 0:
            kappa = p.kappa
        for k, m in enumerate(METHODS):
            tuned = sims.tune_interior(p, _make(m), LR_GRID, T, metric="iterations", tol=TOL, w0=w0, max_rounds=8)
            res = sims.run(p, _make(m)(tuned.best_lr), T, w0=w0, tol=TOL)
            ratio = res.loss[0] / res.loss[0, 0]
            stopped = np.isnan(ratio)
            ratio[stopped] = res.final_loss[0] / res.loss[0, 0]  # held at the stop
            if curves is None:
                curves = np.full((S, len(METHODS), ratio.size), np.nan)
            curves[s, k] = ratio
            final[s, k] = res.iterations[0] if res.stop_reason[0] == "tol" else np.inf
            best_lr[s, k] = tuned.best_lr
    keep = int(np.max(final[np.isfinite(final)], initial=0)) + 2  # the curves end at the last stop
    return xr.Dataset({"curve": (("seed", "optimizer", "step"), curves[:, :, :keep]),
                       "final": (("seed", "optimizer"), final), "lr": (("seed", "optimizer"), best_lr)},
                      coords={"seed": np.arange(S), "optimizer": list(METHODS), "step": res.steps[:keep]},
                      attrs={"block_size": cfg["block_size"], "kappa": float(kappa), "steps": T})


def _label(m: str) -> str:
    return "Adam" if m == "adam" else f"{m}(v)"


def facts(data: xr.Dataset) -> dict:
    from . import style

    med = data.final.median("seed")
    finals = ", ".join(f"{_label(m)} {float(med.sel(optimizer=m)):.0f}" for m in METHODS)
    red = med.sel(optimizer=list(REDUCERS))
    best = str(red.optimizer.values[int(np.argmin(red.values))])
    mean_wins = int((data.final.sel(optimizer="mean") <= data.final.sel(optimizer=[r for r in REDUCERS if r != "mean"])
                     .min("optimizer")).sum())
    verdict = (f"As in the seed, mean(v) is the best of the four here (it is best or tied on {mean_wins} of "
               f"{data.sizes['seed']} seeds)." if best == "mean" else
               f"Unlike the seed, {best}(v) beats mean(v) in the median here (mean(v) is best or tied on "
               f"{mean_wins} of {data.sizes['seed']} seeds).")
    lrs = ", ".join(f"{_label(m)} {style.num(float(data.lr.sel(optimizer=m).median()), 2)}" for m in METHODS)
    spread = 100.0 * (float(red.max()) / float(red.min()) - 1.0)
    return {"spread": spread, "bs": int(data.attrs["block_size"]), "kappa": float(data.attrs["kappa"]), "seeds": data.sizes["seed"],
            "betas": BETAS, "eps": EPS, "tol": TOL, "steps": int(data.attrs["steps"]), "finals": finals, "best": f"{best}(v)",
            "verdict": verdict, "lrs": lrs, **style.band_facts()}


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(2, 1, width=3.8, height=3.0)
    colors = dict(zip(METHODS, ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#7f7f7f")))
    ax = axes[0, 0]
    for m in METHODS:
        style.band(ax, data.step.values, data.curve.sel(optimizer=m).values, name=m, log=True,
                   color=colors[m], label=_label(m))
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("ℓ_t / ℓ_0 (tuned lr)")
    ax.set_title("(a) loss at each method's tuned lr", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for k, m in enumerate(METHODS):
        v = data.final.sel(optimizer=m).values
        jitter = np.linspace(-0.15, 0.15, v.size)
        ax.plot(k + jitter, v, "o", color=colors[m], markersize=3, alpha=0.7)
        ax.hlines(np.median(v), k - 0.3, k + 0.3, color="k")
    ax.set_yscale("log")
    ax.set_xticks(range(len(METHODS)), [_label(m) for m in METHODS])
    ax.set_ylabel(f"iterations to ℓ ≤ {TOL:g}·ℓ_0")
    ax.set_title("(b) per seed (dots), median (bar)", fontsize=9)
    fig.tight_layout()
    return fig
