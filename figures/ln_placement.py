"""Pre-LN vs Post-LN: gradient heterogeneity and block-spectrum heterogeneity of a tiny Transformer.

Tomihari & Sato (seed 001, §4.6 and Tables 7–8) argue that placing LayerNorm after the residual sum
(Post-LN, RoBERTa) makes gradients more heterogeneous across layers than placing it before (Pre-LN,
ViT/GPT-2): the LayerNorm Jacobian multiplies every backward pass through a Post-LN layer, so
gradient norms shrink towards the input. This figure measures, on the library's reference
Transformer with both placements (``models.transformer(ln=...)``), over seeds at initialization:

- the Gini of x_b = ‖g_b‖/√d_b over all parameter tensors ([T] eq. 217, their Table 7 measure);
- the layer-wise gradient ratio of [T] eq. 218 (Table 8): G_l/Σ_k G_k with G_l the sum of x_b over the
  tensors of layer l (every layer has the same tensors, so the comparison is like for like);
- JS⁰ of the block Hessian spectra (THEORY §7; Zhang et al.'s block heterogeneity), on fewer seeds
  (it needs the exact spectrum of every block).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad.problems.networks import blockwise as bw
from hetquad.problems.networks import models

from .real_spectra import one_thread

NAME = "ln-placement"
SOURCE = "Tomihari & Sato 2025 (seed 001) §4.6, Tables 7–8: Pre-LN vs Post-LN gradient heterogeneity"
REPRODUCES = "Tomihari & Sato §4.6 (LN placement)"
PLACEMENTS = ("pre", "post")
MODEL = {"tiny": dict(n_layers=2, d_model=4, n_heads=2, mlp_ratio=2, seq_len=4, vocab=8, batch_size=4),
         "default": dict(n_layers=3, d_model=8, n_heads=2, mlp_ratio=2)}
MODEL["full"] = dict(n_layers=6, d_model=12, n_heads=2, mlp_ratio=4)
FIDELITY = {"tiny": dict(seeds=3, spectra_seeds=1), "default": dict(seeds=20, spectra_seeds=2),
            "full": dict(seeds=100, spectra_seeds=10)}
CAPTION = """
Pre-LN vs Post-LN on the library's reference GPT-style Transformer ({layers} layers, d_model {d_model},
{params_pre} / {params_post} parameters; Post-LN has no final LayerNorm, as in the original
Transformer) at PyTorch's default initialization on random tokens [C: the seed measures RoBERTa /
ViT fine-tuned on real data; we measure tiny models at init], one block per parameter tensor.
(a) Gini of x_b = ‖g_b‖/√d_b over all tensors ([T] eq. 217), one dot per seed ({seeds} seeds): median
{gini_pre:.3f} (Pre-LN) vs {gini_post:.3f} (Post-LN); Post-LN is larger on {post_larger} seeds.
(b) Layer-wise gradient ratio G_l/Σ_k G_k ([T] eq. 218, Table 8), median and {band_lo}–{band_hi} % band
over seeds: last/first layer {ratio_pre:.2f} (Pre-LN) vs {ratio_post:.2f} (Post-LN).
(c) JS⁰ of the block Hessian spectra (THEORY §7), exact spectra, {spectra_seeds} seeds: median
{js_pre:.3f} (Pre-LN) vs {js_post:.3f} (Post-LN).
The seed's claim, that Post-LN gradients grow from the input to the output layers more than Pre-LN
ones, {layer_verdict}; on the all-tensor Gini, {gini_verdict}
"""
SUMMARY = """
gradient Gini {gini_pre:.3f} (Pre-LN) vs {gini_post:.3f} (Post-LN); last/first-layer gradient ratio
{ratio_pre:.2f} vs {ratio_post:.2f}; JS⁰ {js_pre:.3f} vs {js_post:.3f}
"""


def _layer_of(name: str) -> int | None:
    """The layer index of a tensor ``blocks.<l>.…``; None for embeddings, final LN and head."""
    parts = name.split(".")
    return int(parts[1]) if parts[0] == "blocks" else None


def compute(fidelity: str) -> xr.Dataset:
    S, S_spec = FIDELITY[fidelity]["seeds"], FIDELITY[fidelity]["spectra_seeds"]
    cfg = MODEL[fidelity]
    L = cfg["n_layers"]
    gini = np.empty((2, S))
    layer_ratio = np.empty((2, S, L))
    js0 = np.empty((2, S_spec))
    params = np.empty(2, dtype=int)
    with one_thread():
        for k, ln in enumerate(PLACEMENTS):
            for s in range(S):
                r = models.transformer(seed=s, ln=ln, **cfg)
                g = bw.blockwise_gradients(r.model, r.loss_fn, r.batch)
                gini[k, s] = g.gini
                layer = np.array([_layer_of(n) for n in g.names], dtype=object)
                G = np.array([g.x[layer == l].sum() for l in range(L)])
                layer_ratio[k, s] = G / G.sum()
                if s < S_spec:
                    js0[k, s] = bw.blockwise_spectra(r.model, r.loss_fn, r.batch, method="exact").js0()
                params[k] = r.n_params
    return xr.Dataset({"gini": (("ln", "seed"), gini), "layer_ratio": (("ln", "seed", "layer"), layer_ratio),
                       "js0": (("ln", "spectra_seed"), js0), "n_params": (("ln",), params)},
                      coords={"ln": list(PLACEMENTS), "seed": np.arange(S), "layer": np.arange(L),
                              "spectra_seed": np.arange(S_spec)},
                      attrs={"d_model": cfg["d_model"]})


def facts(data: xr.Dataset) -> dict:
    from . import style

    out = {"seeds": data.sizes["seed"], "spectra_seeds": data.sizes["spectra_seed"], "layers": data.sizes["layer"],
           "d_model": int(data.attrs["d_model"]), **style.band_facts()}
    for ln in PLACEMENTS:
        out[f"params_{ln}"] = int(data.n_params.sel(ln=ln))
        out[f"gini_{ln}"] = float(data.gini.sel(ln=ln).median())
        out[f"js_{ln}"] = float(data.js0.sel(ln=ln).median())
        med = data.layer_ratio.sel(ln=ln).median("seed").values
        out[f"ratio_{ln}"] = float(med[-1] / med[0])
    larger = int((data.gini.sel(ln="post") > data.gini.sel(ln="pre")).sum())
    out["post_larger"] = f"{larger}/{data.sizes['seed']}"
    out["layer_verdict"] = ("holds here (a larger last/first ratio for Post-LN)" if out["ratio_post"] > out["ratio_pre"]
                            else "does not hold here (Pre-LN's last/first ratio is as large or larger)")
    out["gini_verdict"] = ("Post-LN is the more heterogeneous, as the seed reports." if out["gini_post"] > out["gini_pre"]
                           else "Pre-LN is the more heterogeneous at these sizes, unlike the seed's fine-tuned models "
                                "(we did not isolate which tensors drive it).")
    return out


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(3, 1, width=3.4, height=3.0)
    colors = {"pre": "#1f77b4", "post": "#d62728"}
    labels = {"pre": "Pre-LN", "post": "Post-LN"}
    for panel, var, title in ((0, "gini", "(a) gradient Gini (all tensors)"), (2, "js0", "(c) JS⁰ of block spectra")):
        ax = axes[0, panel]
        for k, ln in enumerate(PLACEMENTS):
            v = data[var].sel(ln=ln).values
            jitter = np.linspace(-0.15, 0.15, v.size) if v.size > 1 else np.zeros(1)
            ax.plot(k + jitter, v, "o", color=colors[ln], markersize=3, alpha=0.7)
            ax.hlines(np.median(v), k - 0.3, k + 0.3, color="k")
            ax.text(k, np.median(v), f" {np.median(v):.3f}", fontsize=7, va="bottom")
        ax.set_xticks(range(2), [labels[ln] for ln in PLACEMENTS])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(title, fontsize=9)
    axes[0, 0].set_ylabel("Gini of ‖g_b‖/√d_b")
    axes[0, 2].set_ylabel("JS⁰")
    ax = axes[0, 1]
    x = data.layer.values + 1
    for ln in PLACEMENTS:
        r = data.layer_ratio.sel(ln=ln).values
        lo, med, hi = np.quantile(r, [style.BAND[0], 0.5, style.BAND[1]], axis=0)
        ax.plot(x, med, "o-", color=colors[ln], label=labels[ln])
        ax.fill_between(x, lo, hi, color=colors[ln], alpha=0.2)
    ax.axhline(1.0 / x.size, color="k", linestyle=":", linewidth=0.9)
    ax.set_xticks(x)
    ax.set_xlabel("layer (1 = next to the embedding)")
    ax.set_ylabel("G_l / Σ G_k  (dotted: uniform)")
    ax.set_title("(b) layer-wise gradient ratio", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
