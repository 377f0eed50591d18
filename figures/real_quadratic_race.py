"""GD vs the Adam and Adam-mini theorem variants on quadratics built from real networks' block spectra (THEORY §2, §4, §6).

Spectra: ``real_spectra.measure`` (exact, one block per parameter tensor, PyTorch default init);
quadratic: ``problems.from_spectra(record, kappa=KAPPA)`` (signed eigenvalues, one common affine map
to κ(H) = KAPPA — Zhang et al.'s "common shift and scaling", THEORY §6 — Haar rotations);
runs: ``sims.run``; bounds: ``theory.gd_rate``, ``theory.adam_variant_rate``,
``theory.adam_mini_variant_rate``, each run at the bound's own optimal lr.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import sims, theory
from hetquad.problems.from_spectra import from_spectra
from hetquad.problems.networks import models

from .real_spectra import MODELS, SIZES, measure, one_thread

NAME = "real-quadratic-race"
SOURCE = ("Zhang et al. 2024 (seed 000) Case-1 construction and Adam-mini (seed 002) variants, "
          "on quadratics whose blocks carry a tiny Transformer's / CNN's Hessian block spectra")
KAPPA = 1e3  # [C] common affine map of the signed spectra to κ(H) = 1e3
METHODS = ("gd", "adam-variant", "adam-mini")
FIDELITY = {"tiny": dict(seeds=3, steps=100), "default": dict(seeds=5, steps=400),
            "full": dict(seeds=20, steps=2000)}
REPRODUCES = "Zhang et al. Case 1 from real spectra"
CAPTION = """
Quadratics built from the blockwise Hessian spectra of the tiny Transformer and CNN of the
real-spectra figure (seed-0 network at PyTorch's default initialization, one block per parameter
tensor; problems.from_spectra with the signed eigenvalues mapped by one common affine map to
κ(H) = {kappa} [C], as Zhang et al. build Case 1; Haar rotations; {blocks}). Median loss ratio
ℓ_t/ℓ_0 over {seeds} initial points w0 = w* + N(0, I) (band {band_lo}–{band_hi} %), {steps} steps. GD
at 2/(L+μ); the Adam variant (β1 = 0, β2 = 1, v0 = g0², ε = 0: w ← w − η g/|g0|) and the Adam-mini
variant (block RMS of g0) each at the optimal η_P of its own bound (no tuning). Dashed: the
bounds ℓ_t/ℓ_0 ≤ ρ^{{2t}} (THEORY §2, §4: theory.gd_rate, adam_variant_rate,
adam_mini_variant_rate; median ρ over w0) — each method is preconditioned GD with a fixed D
commuting with its own iteration, so this holds run by run (tested). Titles: κ(H), and κ(P) of
each variant ({kps}). Final median ℓ/ℓ_0: {finals}. The shift that makes the negative curvature
positive squeezes most eigenvalues towards λmin, so these quadratics are far more homogeneous
than the network's |λ| spectra; the comparison says which optimizer the *spectra* favour, not
how the networks train: {winner}.
"""
SUMMARY = """
GD vs Adam and Adam-mini variants on quadratics built from each net's block spectra, bounds drawn:
{winner}
"""


def quadratic(name: str, fidelity: str, *, seed: int = 0):
    """The BlockQuadratic built from the seed-``seed`` network's block spectra."""
    with one_thread():
        spec, _ = measure(models.reference_model(name, seed=seed, **SIZES[fidelity][name]))
    return from_spectra(spec, kappa=KAPPA, seed=seed, name=f"{name}-spectra")


def bounds(p, w0) -> dict:
    """method → the RateBound whose lr the run uses."""
    return {"gd": theory.gd_rate(p), "adam-variant": theory.adam_variant_rate(p, w0),
            "adam-mini": theory.adam_mini_variant_rate(p, w0)}


def _spec(method: str, lr):
    if method == "gd":
        return sims.GD(lr)
    return (sims.Adam if method == "adam-variant" else sims.AdamMini).theorem_variant(lr)


def compute(fidelity: str) -> xr.Dataset:
    F = FIDELITY[fidelity]
    S, T = F["seeds"], F["steps"]
    loss = np.full((len(MODELS), len(METHODS), S, T + 1), np.nan)
    rate, kappa_p = np.full((len(MODELS), len(METHODS), S), np.nan), np.full((len(MODELS), len(METHODS), S), np.nan)
    kappa, n_blocks = np.empty(len(MODELS)), np.empty(len(MODELS), dtype=int)
    for k, name in enumerate(MODELS):
        p = quadratic(name, fidelity)
        kappa[k], n_blocks[k] = p.kappa, len(p.sizes)
        w0s = sims.initial_points(p, S, 0)
        recs = [bounds(p, w) for w in w0s]
        for j, method in enumerate(METHODS):  # every seed in one call: a per-run lr (its own η_P)
            res = sims.run(p, _spec(method, np.array([r[method].lr for r in recs])), T, w0=w0s)
            loss[k, j] = res.loss / res.loss[:, :1]
            rate[k, j] = [r[method].rate for r in recs]
            kappa_p[k, j] = [r[method].kappa for r in recs]
    return xr.Dataset({"loss_ratio": (("model", "method", "seed", "step"), loss),
                       "rate": (("model", "method", "seed"), rate), "kappa_p": (("model", "method", "seed"), kappa_p),
                       "kappa": (("model",), kappa), "n_blocks": (("model",), n_blocks)},
                      coords={"model": list(MODELS), "method": list(METHODS), "seed": np.arange(S),
                              "step": np.arange(T + 1)}, attrs={"kappa_target": KAPPA})


LABEL = {"gd": "GD", "adam-variant": "Adam variant", "adam-mini": "Adam-mini variant"}


def facts(data: xr.Dataset) -> dict:
    from . import style

    final = data.loss_ratio.isel(step=-1).median("seed")
    kp = data.kappa_p.median("seed")
    wins = {str(m): str(final.sel(model=m).idxmin("method").values) for m in data.model.values}
    winner = "; ".join(f"on the {m} spectra {LABEL[w]} ends lowest" for m, w in wins.items())
    return {"kappa": style.num(data.attrs["kappa_target"]), "seeds": data.sizes["seed"], **style.band_facts(),
            "steps": int(data.step[-1]),
            "blocks": ", ".join(f"{m}: {int(data.n_blocks.sel(model=m))} blocks" for m in data.model.values),
            "kps": "; ".join(f"{m}: " + ", ".join(f"{LABEL[str(x)]} {style.num(float(kp.sel({'model': m, 'method': x})))}"
                                                   for x in data.method.values) for m in data.model.values),
            "finals": "; ".join(f"{m}: " + ", ".join(f"{LABEL[str(x)]} {style.num(float(final.sel({'model': m, 'method': x})), 2)}"
                                                      for x in data.method.values) for m in data.model.values),
            "winner": winner}


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(2, 1, width=4.0, height=3.2)
    t = data.step.values
    for k, name in enumerate(data.model.values):
        ax = axes[0, k]
        kp = []
        for method in data.method.values:
            m = str(method)
            style.band(ax, t, data.loss_ratio.sel({"model": name, "method": m}).values, name=m, log=True)
            rho = float(data.rate.sel({"model": name, "method": m}).median())
            ax.plot(t, rho ** (2 * t), linestyle="--", color=style.color(m), linewidth=0.9)
            k_p = float(data.kappa_p.sel({"model": name, "method": m}).median())
            kp.append(f"{style.label(m).split(' ')[0]} {k_p:.3g}")
        ax.set_ylim(max(1e-16, float(np.nanmin(data.loss_ratio.values)) / 10), 10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("ℓ_t / ℓ_0")
        ax.set_title(f"({'ab'[k]}) {name}: {int(data.n_blocks.sel(model=name))} blocks, κ(H) = "
                     f"{float(data.kappa.sel(model=name)):.3g}\nκ(P): " + ", ".join(kp), fontsize=8.5)
        ax.legend(fontsize=6.5)
    fig.tight_layout()
    return fig
