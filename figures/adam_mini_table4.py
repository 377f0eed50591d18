"""Adam-mini Table 4 analogue: κ(H_b) vs κ(D_Adam H_b) on dense blocks of a 1-layer Transformer (THEORY §5b).

H_b is the dense block Hessian (``problems.networks.block_hessian``) at PyTorch's default
initialization; D_Adam = diag(1/|g_b|) with g the model's own gradient at that point
(``problems.networks.block_gradient``; Adam's first step, v = g², ε = 0);
κ(D H) = ``problems.kappa_preconditioned`` (the symmetric D^{1/2} H D^{1/2} form, THEORY §5b).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems
from hetquad.problems.networks import blockwise as bw
from hetquad.problems.networks import models

from .real_spectra import one_thread

NAME = "adam-mini-table4"
SOURCE = "Zhang et al. 2024b, Adam-mini (seed 002), Table 4: κ(H) vs κ(D_Adam H) on a 1-layer Transformer"
# (label, parameter, rows): the seed's blocks — 1st head of Q/K/V, 1st neuron (output row) of
# attn.proj, MLP fc and MLP c_proj [C: a "neuron" = one row of the nn.Linear weight]
BLOCKS = (("1st head in Query", "q", 0), ("1st head in Key", "k", 1), ("1st head in Value", "v", 2),
          ("1st neuron in attn.proj", "blocks.0.attn.proj.weight", None),
          ("1st neuron in MLP fc1", "blocks.0.fc.weight", None),
          ("1st neuron in MLP c_proj", "blocks.0.fc_proj.weight", None))
SEED_TABLE = {"1st head in Query": (103.80, 176.88), "1st head in Key": (103.46, 213.82),
              "1st head in Value": (165.66, 332.76), "1st neuron in attn.proj": (39.92, 94.56),
              "1st neuron in MLP fc1": (22.04, 70.92), "1st neuron in MLP c_proj": (63.85, 236.71)}
SIZES = {"tiny": dict(vocab=8, d_model=8, n_heads=2, seq_len=4, mlp_ratio=2, batch_size=4),
         "default": {}, "full": {}}
FIDELITY = {"tiny": dict(seeds=5), "default": dict(seeds=20), "full": dict(seeds=100)}
REPRODUCES = "Adam-mini Table 4"
CAPTION = """
Per dense block of a 1-layer Transformer (the library's reference model: GPT-style, d_model
{d_model}, {n_heads} heads, vocab {vocab}, random tokens), κ(H_b) against κ(D_Adam H_b),
D_Adam = diag(1/|g_b|) with g the model's own gradient at PyTorch's default initialization
(Adam's first step: v = g², ε = 0). Blocks as in the seed's Table 4: the first head of Q, K, V
(rows of the fused qkv weight) and the first neuron (one output row of the weight [C]) of
attn.proj, MLP fc and MLP c_proj. At initialization these block Hessians are indefinite
({neg_lo:.0f}–{neg_hi:.0f} % negative eigenvalues, medians per block) and the blocks fed by a
LayerNorm ({singular}) are singular: LayerNorm outputs have zero mean, so adding a constant to
a weight row changes nothing (one exact null direction per row). κ is taken of the magnitude
|H_b| = V|Λ|Vᵀ on the range of H_b (eigenvalues with |λ| > {null_rtol}·max) [C], the same fold as
the log-mode spectra (THEORY §7); the seed does not say how it handled either. (a) median over
{seeds} seeds (bars: {band_lo}–{band_hi} %) per block, filled markers; the seed's Table 4 values are
the open diamonds in the same colour as their block. (b) log10 of the ratio
r_b = κ(D_Adam H_b)/κ(H_b), one dot per seed, black bar = median; grey open diamonds: the seed's
Table 4 ratio. The seed finds D_Adam always *worsens* κ (r = {seed_r_lo:.1f}–{seed_r_hi:.1f}); here
D_Adam worsens κ on {worse} seeds per block, median r {r_meds}. Where ours differs: {verdict}
"""
SUMMARY = """
per Transformer block, κ(H_b) vs κ(D_Adam H_b) with the model's own gradient: D_Adam worsens κ on
{worse} seeds (seed's Table 4: always, r = {seed_r_lo:.1f}–{seed_r_hi:.1f})
"""


def table4_partition(model) -> dict:
    """``qkv_partition(heads=True)`` with the first output row of proj/fc/fc_proj split off."""
    part = models.qkv_partition(model, heads=True)
    for _, pname, _ in BLOCKS[3:]:
        del part[pname]
        part[pname + "[0]"] = (pname, slice(0, 1))
        part[pname + "[1:]"] = (pname, slice(1, None))
    return part


def _block_names(part: dict) -> list:
    """Partition keys of the six Table 4 blocks."""
    heads = [k for k in part if ".attn.qkv." in k and k.endswith(".weight")]
    return [next(k for k in heads if f".{which}.head0." in k) for _, which, _ in BLOCKS[:3]] + \
           [pname + "[0]" for _, pname, _ in BLOCKS[3:]]


NULL_RTOL = 1e-9  # |λ| ≤ this × max|λ|: an exact null direction (a LayerNorm symmetry), not curvature


def range_kappas(h: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """κ(|H|) and κ(D |H|), D = diag(1/|g|), on the range of H [C].

    |H| = U Λ Uᵀ on its range U (d×r). The non-zero eigenvalues of D|H| are those of
    Λ^{1/2} UᵀDU Λ^{1/2}, i.e. of D_λ^{1/2} (UᵀDU) D_λ^{1/2} with D_λ = Λ, which
    ``problems.kappa_preconditioned(UᵀDU, λ)`` computes. Without a null space this is κ(D|H|).
    """
    lam, vec = np.linalg.eigh(h)
    keep = np.abs(lam) > NULL_RTOL * np.max(np.abs(lam))
    lam_r, u = np.abs(lam[keep]), vec[:, keep]
    inner = (u.T * (1.0 / np.abs(g))) @ u
    return float(lam_r.max() / lam_r.min()), problems.kappa_preconditioned(0.5 * (inner + inner.T), lam_r)


def kappa_nonsymmetric(h: np.ndarray, g: np.ndarray) -> float:
    """κ(D |H|) from the eigenvalues of the non-symmetric D|H| itself (an independent route).

    |H| is rebuilt from H's eigen-decomposition; the null eigenvalues (≤ NULL_RTOL × max) are dropped.
    """
    lam, vec = np.linalg.eigh(h)
    mu = np.linalg.eigvals((1.0 / np.abs(g))[:, None] * ((vec * np.abs(lam)) @ vec.T)).real
    mu = np.abs(mu[np.abs(mu) > NULL_RTOL * np.max(np.abs(mu))])
    return float(mu.max() / mu.min())


def measure_block(ref, part: dict, block: str) -> dict:
    """κ(|H_b|), κ(D_Adam |H_b|) (two routes), size, negative and null fractions of one block."""
    h = bw.block_hessian(ref.model, ref.loss_fn, ref.batch, block=block, partition=part)
    g = bw.block_gradient(ref.model, ref.loss_fn, ref.batch, block=block, partition=part)
    lam = np.linalg.eigvalsh(h)
    nan = float("nan")
    kh, kdh = range_kappas(h, g) if np.all(g != 0) else (nan, nan)
    return {"kappa_h": kh, "kappa_dh": kdh, "kappa_dh_eigvals": kappa_nonsymmetric(h, g) if np.all(g != 0) else nan,
            "negative": float(np.mean(lam < 0)),
            "null": float(np.mean(np.abs(lam) <= NULL_RTOL * np.max(np.abs(lam)))), "size": h.shape[0]}


def compute(fidelity: str) -> xr.Dataset:
    S = FIDELITY[fidelity]["seeds"]
    keys = ("kappa_h", "kappa_dh", "kappa_dh_eigvals", "negative", "null")
    out = {k: np.full((len(BLOCKS), S), np.nan) for k in keys}
    sizes = np.zeros(len(BLOCKS), dtype=int)
    with one_thread():
        for s in range(S):
            ref = models.reference_model("transformer", seed=s, n_layers=1, **SIZES[fidelity])
            model_sizes = {k: ref.info[k] for k in ("d_model", "n_heads", "vocab")}
            part = table4_partition(ref.model)
            for i, block in enumerate(_block_names(part)):
                m = measure_block(ref, part, block)
                for k in keys:
                    out[k][i, s] = m[k]
                sizes[i] = m["size"]
    labels = [b[0] for b in BLOCKS]
    seed_table = np.array([SEED_TABLE[lab] for lab in labels])
    return xr.Dataset({**{k: (("block", "seed"), v) for k, v in out.items()},
                       "size": (("block",), sizes),
                       "seed_kappa_h": (("block",), seed_table[:, 0]), "seed_kappa_dh": (("block",), seed_table[:, 1])},
                      coords={"block": labels, "seed": np.arange(S)},
                      attrs={**model_sizes, "null_rtol": NULL_RTOL})


def _short(label: str) -> str:
    return label.replace("1st head in ", "").replace("1st neuron in ", "")


def facts(data: xr.Dataset) -> dict:
    from . import style

    r = data.kappa_dh / data.kappa_h
    worse = (r > 1).sum("seed")
    neg = 100 * data.negative.median("seed")
    seed_r = data.seed_kappa_dh / data.seed_kappa_h
    S = data.sizes["seed"]
    all_worse = bool((worse == S).all())
    always = ", ".join(_short(b) for b in data.block.values[worse.values == S]) or "no block"
    verdict = ("none on this point: D_Adam worsens κ on every seed and block, as in the seed." if all_worse else
               f"the seed's 'always worsens' holds here only for {always} (every seed); the other blocks go "
               "both ways on our tiny, untrained model.")
    return {"d_model": int(data.attrs["d_model"]), "n_heads": int(data.attrs["n_heads"]),
            "vocab": int(data.attrs["vocab"]), "neg_lo": float(neg.min()), "neg_hi": float(neg.max()),
            "singular": ", ".join(_short(b) for b in data.block.values[data.null.median("seed").values > 0]),
            "null_rtol": style.num(data.attrs["null_rtol"]), "seeds": S, **style.band_facts(),
            "seed_r_lo": float(seed_r.min()), "seed_r_hi": float(seed_r.max()),
            "worse": ", ".join(f"{_short(b)} {int(worse.sel(block=b))}/{S}" for b in data.block.values),
            "r_meds": ", ".join(f"{_short(b)} {float(r.sel(block=b).median()):.2g}" for b in data.block.values),
            "verdict": verdict}


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(2, 1, width=4.2, height=3.4)
    ax = axes[0, 0]
    markers = "os^vD<"
    for i, lab in enumerate(data.block.values):
        kh, kd = data.kappa_h.sel(block=lab).values, data.kappa_dh.sel(block=lab).values
        qh, qd = (np.nanquantile(kh, [style.BAND[0], 0.5, style.BAND[1]]),
                  np.nanquantile(kd, [style.BAND[0], 0.5, style.BAND[1]]))
        c = style.plt.get_cmap("tab10")(i)
        ax.errorbar(qh[1], qd[1], xerr=[[qh[1] - qh[0]], [qh[2] - qh[1]]], yerr=[[qd[1] - qd[0]], [qd[2] - qd[1]]],
                    fmt=markers[i], color=c, capsize=2, markersize=5,
                    label=f"{lab} (d={int(data['size'].sel(block=lab))})")
        ax.plot(float(data.seed_kappa_h.sel(block=lab)), float(data.seed_kappa_dh.sel(block=lab)), "D",
                color=c, markerfacecolor="none", alpha=0.6, markersize=5)
    lims = np.array(ax.get_xlim() + ax.get_ylim())
    lo, hi = lims.min(), lims.max()
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=0.8, label="κ(DH) = κ(H)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("κ(|H_b|)")
    ax.set_ylabel("κ(D_Adam |H_b|)")
    ax.set_title("(a) per block, median over seeds (open ◇, same colour: seed's Table 4)", fontsize=9)
    ax.legend(fontsize=5.5, loc="upper left")
    ax = axes[0, 1]
    r = np.log10(data.kappa_dh / data.kappa_h)
    for i, lab in enumerate(data.block.values):
        v = r.sel(block=lab).values
        ax.plot(np.full(v.size, i) + np.linspace(-0.2, 0.2, v.size), v, "o", markersize=2.5,
                color=style.plt.get_cmap("tab10")(i), alpha=0.7)
        ax.hlines(np.nanmedian(v), i - 0.3, i + 0.3, color="k")
        ax.plot(i, np.log10(float(data.seed_kappa_dh.sel(block=lab) / data.seed_kappa_h.sel(block=lab))), "D",
                color="#888", markerfacecolor="none")
    ax.axhline(0, color="k", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(data.sizes["block"]), [b.replace("1st ", "").replace(" in ", "\n") for b in data.block.values],
                  fontsize=6)
    ax.set_ylabel("log10 κ(D_Adam H_b)/κ(H_b)")
    ax.set_title(f"(b) r_b per seed ({data.sizes['seed']} seeds; grey ◇: seed's Table 4)", fontsize=9)
    fig.tight_layout()
    return fig
