"""|H| of a tiny MLP and a tiny Transformer with their parameter blocks outlined (Zhang Fig. 3, Adam-mini Figs. 3/7).

The full dense Hessian is ``problems.networks.block_hessian`` with one block holding every
parameter tensor (in ``named_parameters`` order, so tensor t occupies a contiguous range); the
parameter blocks are the tensors. Off-block mass = Σ_{i,j in different tensors}|H_ij| / Σ|H_ij|
(the complement of Adam-mini's diagonal-block share, THEORY §5b's τ taken over blocks) and the
Frobenius share ‖H − H_bd‖_F²/‖H‖_F².
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad.problems.networks import blockwise as bw
from hetquad.problems.networks import models

NAME = "real-hessian-blocks"
SOURCE = ("Zhang et al. 2024 (seed 000) Fig. 3 and Adam-mini (seed 002) Figs. 3/7: the near-block-diagonal "
          "Hessian of small networks")
REPRODUCES = "Zhang Fig. 3 / Adam-mini Figs. 3, 7 (tiny nets)"
MODELS = ("mlp", "transformer")
SIZES = {  # [C] small enough for the full dense Hessian (a few hundred parameters)
    "tiny": {"mlp": dict(sizes=(4, 6, 3), batch_size=16),
             "transformer": dict(vocab=6, d_model=4, n_heads=2, seq_len=3, mlp_ratio=2, batch_size=4)},
    "default": {"mlp": dict(sizes=(8, 12, 12, 4), batch_size=32),
                "transformer": dict(vocab=8, d_model=8, n_heads=2, seq_len=4, mlp_ratio=2, batch_size=4)},
}
SIZES["full"] = SIZES["default"]
FIDELITY = {"tiny": dict(seeds=2), "default": dict(seeds=4), "full": dict(seeds=20)}
CAPTION = """
|H_ij| (log colour) of the full Hessian of a tiny tanh MLP ({mlp_desc}; {mlp_d} parameters in
{mlp_b} tensors) and a tiny GPT-style Transformer ({t_desc}; {t_d} parameters in {t_b} tensors)
at PyTorch's default initialization on random data (problems.networks reference models, sizes
[C]), seed 0; white lines outline the parameter blocks (one per tensor, named_parameters order).
Off-block mass = Σ|H_ij| over pairs in different tensors / Σ|H_ij| (Frobenius share in
brackets): median over {seeds} seeds, MLP {mlp_off:.2f} ({mlp_fro:.2f}), Transformer {t_off:.2f}
({t_fro:.2f}); a block-diagonal H would give 0, and a dense H with equal entries
1 − Σ_b d_b²/d² = {mlp_dense:.2f} (MLP) and {t_dense:.2f} (Transformer). Zhang et al. and Adam-mini
show a near-block-diagonal Hessian on small networks (their plots are of a 1-hidden-layer MLP
and of a Transformer after some training, with blocks per neuron / head); ours are at
initialization with one block per tensor [C]. {reading}
"""
SUMMARY = """
absolute Hessian of a tiny MLP and Transformer with tensor blocks outlined: off-block mass {mlp_off:.2f} (MLP) and
{t_off:.2f} (Transformer) vs {mlp_dense:.2f} / {t_dense:.2f} for a dense H
"""


def full_hessian(ref) -> tuple[np.ndarray, list, list]:
    """(H, tensor names, tensor sizes) of ``ref``: one block with every trainable tensor, in order."""
    names = [n for n, p in ref.model.named_parameters() if p.requires_grad]
    sizes = [int(p.numel()) for n, p in ref.model.named_parameters() if p.requires_grad]
    H = bw.block_hessian(ref.model, ref.loss_fn, ref.batch, block="all", partition={"all": names}, num_threads=1)
    return H, names, sizes


def off_block(H: np.ndarray, sizes) -> tuple[float, float]:
    """(Σ off-block |H_ij| / Σ |H_ij|, ‖H − H_bd‖_F² / ‖H‖_F²) for blocks of ``sizes`` in order."""
    ids = np.repeat(np.arange(len(sizes)), sizes)
    same = ids[:, None] == ids[None, :]
    a = np.abs(H)
    return float(a[~same].sum() / a.sum()), float((H[~same] ** 2).sum() / (H ** 2).sum())


def compute(fidelity: str) -> xr.Dataset:
    S = FIDELITY[fidelity]["seeds"]
    off, fro = np.empty((len(MODELS), S)), np.empty((len(MODELS), S))
    heat, block_sizes, dims = {}, {}, {}
    for k, name in enumerate(MODELS):
        for s in range(S):
            ref = models.reference_model(name, seed=s, **SIZES[fidelity][name])
            H, names, sizes = full_hessian(ref)
            off[k, s], fro[k, s] = off_block(H, sizes)
            if s == 0:
                heat[name], block_sizes[name], dims[name] = H, sizes, H.shape[0]
    D, B = max(dims.values()), max(len(v) for v in block_sizes.values())
    H_all = np.full((len(MODELS), D, D), np.nan)
    sz = np.zeros((len(MODELS), B), dtype=int)
    for k, name in enumerate(MODELS):
        n = dims[name]
        H_all[k, :n, :n] = heat[name]
        sz[k, :len(block_sizes[name])] = block_sizes[name]
    return xr.Dataset(
        {"hessian": (("model", "row", "col"), H_all), "block_size": (("model", "block"), sz),
         "off_block": (("model", "seed"), off), "off_block_fro": (("model", "seed"), fro)},
        coords={"model": list(MODELS), "seed": np.arange(S)},
        attrs={"sizes": str(SIZES[fidelity])},
    )


def _dense_share(sizes) -> float:
    sizes = np.asarray([s for s in sizes if s > 0], dtype=float)
    return float(1 - np.sum(sizes ** 2) / sizes.sum() ** 2)


def facts(data: xr.Dataset) -> dict:
    import ast

    sizes = ast.literal_eval(data.attrs["sizes"])
    off = data.off_block.median("seed")
    fro = data.off_block_fro.median("seed")
    out = {"seeds": data.sizes["seed"]}
    for key, name in (("mlp", "mlp"), ("t", "transformer")):
        bs = data.block_size.sel(model=name).values
        opts = sizes[name]
        out[f"{key}_desc"] = ", ".join(f"{k} {v}" for k, v in opts.items())
        out[f"{key}_d"] = int(bs.sum())
        out[f"{key}_b"] = int(np.sum(bs > 0))
        out[f"{key}_off"] = float(off.sel(model=name))
        out[f"{key}_fro"] = float(fro.sel(model=name))
        out[f"{key}_dense"] = _dense_share(bs)
    ratio = [out[f"{k}_off"] / out[f"{k}_dense"] for k in ("mlp", "t")]
    out["reading"] = ("Measured: the off-block mass is " + " and ".join(
        f"{r:.2f}× that of a uniformly dense H ({m})" for r, m in zip(ratio, ("MLP", "Transformer")))
        + (": most of |H| sits in the diagonal blocks, as the seeds show." if max(ratio) < 0.5 else
           ": at this size and at initialization the blocks are not clearly dominant, unlike the seeds' pictures."))
    return out


def plot(data: xr.Dataset):
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    from . import style

    fig, axes = style.figure(len(MODELS), 1, width=4.2, height=3.9)
    for k, name in enumerate(data.model.values):
        ax = axes[0, k]
        bs = data.block_size.sel(model=name).values
        bs = bs[bs > 0]
        n = int(bs.sum())
        a = np.abs(data.hessian.sel(model=name).values[:n, :n])
        pos = a[a > 0]
        im = ax.imshow(np.where(a > 0, a, np.nan), cmap="magma", interpolation="nearest",
                       norm=LogNorm(vmin=max(pos.min(), pos.max() * 1e-8), vmax=pos.max()))
        start = 0
        for b in bs:
            ax.add_patch(Rectangle((start - 0.5, start - 0.5), b, b, fill=False, edgecolor="w", linewidth=0.8))
            start += b
        ax.grid(False)
        off = float(data.off_block.sel(model=name).median("seed"))
        ax.set_title(f"({'ab'[k]}) {name}: |H|, {n} params, {bs.size} tensors\noff-block mass {off:.2f} "
                     f"(dense: {_dense_share(bs):.2f})", fontsize=8)
        fig.colorbar(im, ax=ax, shrink=0.8, label="|H_ij|")
    fig.tight_layout()
    return fig
