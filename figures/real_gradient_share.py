"""Per-block gradient share and gradient Gini of a small Transformer vs a small CNN at init (THEORY §8.1).

Everything comes from ``problems.networks.blockwise_gradients`` (one block per parameter tensor):
``share`` = x_b/Σ_k x_k with x_b = ‖g_b‖/√d_b (Tomihari's share, [T] eq. 215, the one
``tomihari-gradient-share`` draws), ``sq_share`` = ‖g_b‖²/‖g‖² (kept for reference), ``gini`` =
Gini of x (Tomihari's measure, [T] eq. 217).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad.problems.networks import blockwise as bw
from hetquad.problems.networks import models

from .real_spectra import MODELS, _short, one_thread

NAME = "real-gradient-share"
SOURCE = ("Tomihari & Sato 2025 (seed 001) gradient-heterogeneity Gini and Zhang et al. 2024 (seed 000) "
          "Transformer-vs-CNN claim, on tiny networks at initialization")
SIZES = {"tiny": {"transformer": dict(vocab=8, d_model=4, n_heads=2, seq_len=4, mlp_ratio=2, batch_size=4),
                  "cnn": dict(channels=(2, 3, 3), image_size=4, batch_size=4)},
         "default": {"transformer": {}, "cnn": {}}}
SIZES["full"] = SIZES["default"]
FIDELITY = {"tiny": dict(seeds=5), "default": dict(seeds=20), "full": dict(seeds=100)}
REPRODUCES = "Tomihari & Sato Gini on real nets"
CAPTION = """
Per-block gradient share x_b/Σ_k x_k with x_b = ‖g_b‖/√d_b ([T] eq. 215, the share of
tomihari-gradient-share; a, b: median over seeds, whiskers {band_lo}–{band_hi} %, linear axis, blocks
with an exactly zero gradient sit at 0) and the gradient Gini of x ([T] eq. 217, THEORY §8.1;
c: one dot per seed, median as a bar) of the library's reference Transformer (GPT-style, {t_params}
parameters in {t_blocks} tensors) and CNN (bias-free conv–BatchNorm–ReLU, {c_params} parameters in
{c_blocks} tensors) at PyTorch's default initialization on random data (random tokens / Gaussian
images, uniform labels); one block per parameter tensor [C]; {seeds} seeds (model and batch).
Largest median share: {top_t} (Transformer), {top_c} (CNN). Median Gini {gini_t:.2f} (Transformer)
vs {gini_c:.2f} (CNN); the Transformer's is larger on {t_larger} seeds. The seeds' claim —
Transformers have a larger gradient heterogeneity than CNNs — is tested here, not assumed:
{verdict} See also the ablation of the real-spectra figure (docs/findings/real-networks.md), where
the partition (fused vs per-head Q/K/V) and the norm-layer blocks change the answer.
"""
SUMMARY = """
per-block gradient share x_b/Σx; median Gini {gini_t:.2f} (Transformer) vs {gini_c:.2f} (CNN) over
{seeds} seeds, Transformer larger on {t_larger}
"""


def compute(fidelity: str) -> xr.Dataset:
    S = FIDELITY[fidelity]["seeds"]
    records = {}
    with one_thread():
        for name in MODELS:
            records[name] = [bw.blockwise_gradients(r.model, r.loss_fn, r.batch)
                             for r in (models.reference_model(name, seed=s, **SIZES[fidelity][name]) for s in range(S))]
    B = max(len(records[n][0].names) for n in MODELS)
    sq_share = np.full((len(MODELS), S, B), np.nan)
    x = np.full_like(sq_share, np.nan)
    gini = np.empty((len(MODELS), S))
    names = np.full((len(MODELS), B), "", dtype=object)
    sizes = np.zeros((len(MODELS), B), dtype=int)
    for k, n in enumerate(MODELS):
        nb = len(records[n][0].names)
        names[k, :nb], sizes[k, :nb] = records[n][0].names, records[n][0].sizes
        for s, g in enumerate(records[n]):
            sq_share[k, s, :nb], x[k, s, :nb], gini[k, s] = g.share, g.x, g.gini
    share = x / np.nansum(x, axis=-1, keepdims=True)  # [T] eq. 215
    return xr.Dataset({"share": (("model", "seed", "block"), share),
                       "sq_share": (("model", "seed", "block"), sq_share), "x": (("model", "seed", "block"), x),
                       "gini": (("model", "seed"), gini), "block_name": (("model", "block"), names.astype(str)),
                       "block_size": (("model", "block"), sizes)},
                      coords={"model": list(MODELS), "seed": np.arange(S), "block": np.arange(B)})


def facts(data: xr.Dataset) -> dict:
    from . import style

    out = {"seeds": data.sizes["seed"], **style.band_facts()}
    for k, key in (("transformer", "t"), ("cnn", "c")):
        valid = data.block_name.sel(model=k).values != ""
        out[f"{key}_params"] = int(data.block_size.sel(model=k).values[valid].sum())
        out[f"{key}_blocks"] = int(valid.sum())
        med = data.share.sel(model=k).median("seed").values[valid]
        i = int(np.argmax(med))
        out[f"top_{key}"] = f"{_short(str(data.block_name.sel(model=k).values[i]))} {med[i]:.2f}"
        out[f"gini_{key}"] = float(data.gini.sel(model=k).median())
    diff = data.gini.sel(model="transformer") - data.gini.sel(model="cnn")
    n_larger = int((diff > 0).sum())
    out["t_larger"] = f"{n_larger}/{data.sizes['seed']}"
    out["verdict"] = ("at these sizes it holds in the median." if out["gini_t"] > out["gini_c"] else
                      "at these sizes it does not hold in the median.")
    return out


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(3, 1, width=3.8, height=3.2)
    colors = {"transformer": "#d62728", "cnn": "#1f77b4"}
    for k, name in enumerate(data.model.values):
        ax = axes[0, k]
        names = [str(v) for v in data.block_name.sel(model=name).values if str(v)]
        v = data.share.sel(model=name).values[:, :len(names)]
        lo, med, hi = np.nanquantile(v, [style.BAND[0], 0.5, style.BAND[1]], axis=0)
        y = np.arange(len(names))
        ax.barh(y, med, color=colors[name], alpha=0.7)
        ax.errorbar(med, y, xerr=[med - lo, hi - med], fmt="none", ecolor="k", capsize=1.5, linewidth=0.8)
        ax.axvline(1.0 / len(names), color="k", linestyle=":", linewidth=0.9)  # uniform share 1/B
        ax.set_yticks(y, [_short(n) for n in names], fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("share x_b / Σ x_k,  x_b = ‖g_b‖/√d_b  (dotted: 1/B)")
        ax.set_title(f"({'ab'[k]}) {name}: gradient share per block", fontsize=9)
    ax = axes[0, 2]
    for k, name in enumerate(data.model.values):
        g = data.gini.sel(model=name).values
        jitter = np.linspace(-0.15, 0.15, g.size)
        ax.plot(k + jitter, g, "o", color=colors[name], markersize=3, alpha=0.7)
        ax.hlines(np.median(g), k - 0.3, k + 0.3, color="k")
        ax.text(k, np.median(g), f" {np.median(g):.3f}", fontsize=7, va="bottom")
    ax.set_xticks(range(data.sizes["model"]), list(data.model.values))
    ax.set_xlim(-0.6, data.sizes["model"] - 0.4)
    ax.set_ylabel("Gini of ‖g_b‖/√d_b")
    ax.set_title(f"(c) gradient Gini, {data.sizes['seed']} seeds", fontsize=9)
    fig.tight_layout()
    return fig
