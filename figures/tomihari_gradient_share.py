"""Per-block share of the gradient norm and its Gini coefficient over the catalog (THEORY §8.1).

Analogue of Tomihari & Sato Fig. 3 / Table 7: for every multi-block catalog problem the
normalised block gradient norms x_l = ‖g_l‖/√d_l at the initial point, their shares
x_l / Σ_k x_k ([T] eq. 215) and the Gini coefficient of x ([T] eq. 217), over seeds.
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from hetquad import problems, sims

NAME = "tomihari-gradient-share"
SOURCE = "Tomihari & Sato 2025 (seed 001), Fig. 3 and Table 7 (gradient share per parameter, Gini)"
REPRODUCES = "Tomihari & Sato Fig. 3 / Table 7 (measure only)"
CAPTION = """
Gradient heterogeneity of the catalog problems at initialisation (THEORY §8.1). (a) Share of
block l in the normalised gradient norms, x_l/Σ_k x_k with x_l = ‖g_l‖/√d_l ([T] eq. 215);
bars are right-aligned by sharpness ‖H_l‖₂: the rightmost bar of each problem is its sharpest
block, the one left of it the second sharpest, and so on, so problems with {b_min} and {b_max} blocks
share the labels (for linear-head, which has no Hessian blocks: weights W, then bias b);
bar = median over {seeds} seeds, whiskers = {band_lo}–{band_hi} % quantiles; dotted: the uniform
share 1/B. (b) Gini coefficient of x per problem and seed ([T] eq. 217); dots = seeds, bar =
median, dashed: the largest possible Gini (B−1)/B. Initial points: 'default init' is
w0 = w* + N(0, I) (sims.initial_points, the library default); 'tomihari-blocks (profile)' uses
the catalog's own w0 (problems.initial_point with Gini {profile_gini:.2f}, largest gradients on the
sharpest blocks, [T] §4.3). [C]: the choice of problems and of the default init; [T] measures
real networks (RoBERTa, ViT, ResNet) at the start of fine-tuning, which we do not have — only
the measure is reproduced, not the paper's values. Reading: with w0 ~ N(0, I) the gradient
share follows block sharpness (g_l = H_l e_l), so problems whose blocks differ in scale are
strongly heterogeneous (median Gini {het_ginis}) and the homogeneous ones are not
({hom_ginis}).
"""
SUMMARY = """
per-block gradient share and Gini of the catalog problems at w0: median Gini {het_ginis} where block
scales differ, {hom_ginis} where they do not ({seeds} seeds)
"""
HETEROGENEOUS = ("zhang2024-case1", "zhang2024-case3", "adam-mini-fig4", "tomihari-blocks")
HOMOGENEOUS = ("zhang2024-case2", "zhang2024-case4")

FIDELITY = {"tiny": 2, "default": 20, "full": 100}  # seeds per problem

# (label, catalog name, use the catalog's info['w0'] instead of the default init)
ENTRIES = (
    ("zhang2024-case1", "zhang2024-case1", False),
    ("zhang2024-case2", "zhang2024-case2", False),
    ("zhang2024-case3", "zhang2024-case3", False),
    ("zhang2024-case4", "zhang2024-case4", False),
    ("adam-mini-fig4", "adam-mini-fig4", False),
    ("tau-kappa", "tau-kappa", False),
    ("tomihari-blocks", "tomihari-blocks", False),
    ("tomihari-blocks (profile)", "tomihari-blocks", True),
    ("linear-head", "linear-head", False),
)


def _block_order(p) -> np.ndarray:
    """Blocks from flattest to sharpest (‖H_l‖₂); a problem without Hessian blocks keeps its order."""
    eig = getattr(p, "block_eigvals", None)
    if eig is None:
        return np.arange(len(p.sizes))
    return np.argsort([e[-1] for e in eig], kind="stable")


def _measure(name: str, seed: int, profile: bool) -> tuple[np.ndarray, float]:
    p = problems.get(name, seed=seed)
    w0 = np.asarray(p.info["w0"]) if profile else sims.initial_points(p, 1, seed)[0]
    het = problems.gradient_heterogeneity(p, w0)
    x = np.asarray(het.x)[_block_order(p)]
    return x / x.sum(), float(het.gini)


def compute(fidelity: str) -> xr.Dataset:
    n_seeds = FIDELITY[fidelity]
    labels = [e[0] for e in ENTRIES]
    n_blocks = max(len(problems.get(name, seed=0).sizes) for _, name, _ in ENTRIES)
    share = np.full((len(ENTRIES), n_seeds, n_blocks), np.nan)
    gini = np.full((len(ENTRIES), n_seeds), np.nan)
    B = np.zeros(len(ENTRIES), dtype=np.int64)
    for i, (_, name, profile) in enumerate(ENTRIES):
        for s in range(n_seeds):
            sh, g = _measure(name, s, profile)
            share[i, s, :sh.size] = sh
            gini[i, s] = g
            B[i] = sh.size
    return xr.Dataset(
        {"share": (("problem", "seed", "block"), share), "gini": (("problem", "seed"), gini),
         "n_blocks": ("problem", B)},
        coords={"problem": labels, "seed": np.arange(n_seeds), "block": np.arange(n_blocks)},
    )


def facts(data: xr.Dataset) -> dict:
    from . import style

    med = data.gini.median("seed")

    def listing(names):
        return ", ".join(f"{n} {float(med.sel(problem=n)):.2f}" for n in names)
    return {"seeds": data.sizes["seed"], **style.band_facts(), "b_min": int(data.n_blocks.min()),
            "b_max": int(data.n_blocks.max()),
            "profile_gini": float(med.sel(problem="tomihari-blocks (profile)")),
            "het_ginis": listing(HETEROGENEOUS), "hom_ginis": listing(HOMOGENEOUS)}


_ORDINAL = {1: "", 2: "2nd ", 3: "3rd "}


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(2, 1, width=4.6, height=3.3)
    ax_s, ax_g = axes[0]
    labels = [str(v) for v in data.problem.values]
    pos = np.arange(len(labels))
    n_blocks = data.sizes["block"]
    width = 0.8 / n_blocks
    cmap = style.plt.get_cmap("viridis")
    # right-align: slot n_blocks−1 is every problem's sharpest block, whatever its block count
    B = data.n_blocks.values
    aligned = np.full(data.share.shape, np.nan)
    for i, b in enumerate(B):
        aligned[i, :, n_blocks - b:] = data.share.values[i, :, :b]
    for l in range(n_blocks):
        sh = aligned[:, :, l]  # (problem, seed)
        with warnings.catch_warnings():  # problems with fewer blocks are all-NaN here
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, med, hi = np.nanquantile(sh, [style.BAND[0], 0.5, style.BAND[1]], axis=1)
        x = pos - 0.4 + width * (l + 0.5)
        rank = n_blocks - l
        ax_s.bar(x, med, width=width, color=cmap(l / max(n_blocks - 1, 1)),
                 label=f"{_ORDINAL.get(rank, f'{rank}th ')}sharpest")
        ax_s.errorbar(x, med, yerr=[med - lo, hi - med], fmt="none", ecolor="k", elinewidth=0.7, capsize=1.5)
    for i, B in enumerate(data.n_blocks.values):  # the uniform share 1/B: no heterogeneity
        ax_s.hlines(1.0 / B, i - 0.42, i + 0.42, colors="k", linestyles=":", linewidth=0.9)
    ax_s.set_ylabel("share x_l / Σ x_k")
    ax_s.set_title("(a) block share of ‖g_l‖/√d_l at w0 (dotted: 1/B)")
    ax_s.set_xticks(pos, labels, rotation=30, ha="right")
    ax_s.set_ylim(0, 1.3)
    ax_s.set_yticks(np.arange(0, 1.01, 0.2))
    ax_s.legend(ncols=4, loc="upper center", fontsize=7)

    g = data.gini.values
    rng = np.random.default_rng(0)  # jitter only, for legibility
    for i in range(len(labels)):
        ax_g.plot(i + 0.15 * rng.uniform(-1, 1, g.shape[1]), g[i], ".", color="#7f7f7f", ms=3)
        ax_g.hlines(np.median(g[i]), i - 0.3, i + 0.3, colors="k", linewidth=2)
        B = int(data.n_blocks.values[i])
        ax_g.hlines((B - 1) / B, i - 0.4, i + 0.4, colors="#d62728", linestyles="--", linewidth=0.9)
    ax_g.plot([], [], "--", color="#d62728", label="max Gini (B−1)/B")
    ax_g.plot([], [], "-", color="k", lw=2, label="median over seeds")
    ax_g.set_ylabel("Gini of x_l")
    ax_g.set_title("(b) gradient heterogeneity (Gini)")
    ax_g.set_xticks(pos, labels, rotation=30, ha="right")
    ax_g.set_ylim(0, 1)
    ax_g.legend(loc="upper left")
    fig.tight_layout()
    return fig
