"""Per-block gradient share and gradient Gini of a small Transformer vs a small CNN at init (THEORY §8.1).

Everything comes from ``problems.networks.blockwise_gradients`` (one block per parameter tensor):
``share`` = ‖g_b‖²/‖g‖², ``gini`` = Gini of x_b = ‖g_b‖/√d_b (Tomihari's measure).
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
CAPTION = """
Per-block gradient share ‖g_b‖²/‖g‖² (a, b; median over seeds with 10–90 % bars, log scale) and the
gradient Gini of x_b = ‖g_b‖/√d_b (c; THEORY §8.1, one dot per seed, median as a bar) of the
library's reference Transformer (GPT-style, 1 layer, d_model 12, 2 388 parameters in 17 tensors)
and CNN (bias-free conv–BatchNorm–ReLU ×3, channels 4/8/8, 1 102 parameters in 11 tensors) at PyTorch's default initialization on
random data (random tokens / Gaussian images, uniform labels); one block per parameter tensor [C];
20 seeds (model and batch), 'default' fidelity. The seeds' claim — Transformers have a larger
gradient heterogeneity than CNNs — is tested here, not assumed: see the printed medians and the
ablation of the real-spectra figure (docs/findings/real-networks.md), where the partition
(fused vs per-head Q/K/V) and the norm-layer blocks change the answer.
"""


def compute(fidelity: str) -> xr.Dataset:
    S = FIDELITY[fidelity]["seeds"]
    records = {}
    with one_thread():
        for name in MODELS:
            records[name] = [bw.blockwise_gradients(r.model, r.loss_fn, r.batch)
                             for r in (models.reference_model(name, seed=s, **SIZES[fidelity][name]) for s in range(S))]
    B = max(len(records[n][0].names) for n in MODELS)
    share = np.full((len(MODELS), S, B), np.nan)
    x = np.full_like(share, np.nan)
    gini = np.empty((len(MODELS), S))
    names = np.full((len(MODELS), B), "", dtype=object)
    sizes = np.zeros((len(MODELS), B), dtype=int)
    for k, n in enumerate(MODELS):
        nb = len(records[n][0].names)
        names[k, :nb], sizes[k, :nb] = records[n][0].names, records[n][0].sizes
        for s, g in enumerate(records[n]):
            share[k, s, :nb], x[k, s, :nb], gini[k, s] = g.share, g.x, g.gini
    return xr.Dataset({"share": (("model", "seed", "block"), share), "x": (("model", "seed", "block"), x),
                       "gini": (("model", "seed"), gini), "block_name": (("model", "block"), names.astype(str)),
                       "block_size": (("model", "block"), sizes)},
                      coords={"model": list(MODELS), "seed": np.arange(S), "block": np.arange(B)})


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(3, 1, width=3.8, height=3.2)
    colors = {"transformer": "#d62728", "cnn": "#1f77b4"}
    for k, name in enumerate(data.model.values):
        ax = axes[0, k]
        names = [str(v) for v in data.block_name.sel(model=name).values if str(v)]
        v = data.share.sel(model=name).values[:, :len(names)]
        floor = 1e-12  # exact zeros (conv bias before BatchNorm) drawn at the floor of the log axis
        lo, med, hi = (np.maximum(q, floor) for q in np.nanquantile(v, [0.1, 0.5, 0.9], axis=0))
        y = np.arange(len(names))
        ax.barh(y, med, color=colors[name], alpha=0.7, left=floor)
        ax.errorbar(med, y, xerr=[med - lo, hi - med], fmt="none", ecolor="k", capsize=1.5, linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yticks(y, [_short(n) for n in names], fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("‖g_b‖² / ‖g‖²")
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
