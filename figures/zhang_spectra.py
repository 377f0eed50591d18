"""Zhang et al. 2024: full-Hessian spectra alike, blockwise spectra different; JS⁰ (THEORY §6, §7).

Densities, pairwise JS distances and JS⁰ come from ``problems.block_densities``,
``problems.pairwise_js`` and ``problems.js0`` (log mode by default, paper-lin reported beside it).
The full-spectrum panel treats each whole Hessian as one "block" of ``block_densities`` so both
problems of a pair share one grid, and their JS distance is ``pairwise_js`` of the two Hessians.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems

NAME = "zhang-spectra"
SOURCE = "Zhang et al. 2024 (seed 000), figures 7_1 / 21_1 and the JS⁰ table: spectra of Cases 1–4"

SHUFFLED = "zhang2024-case1-shuffled"  # [C] Case 1's eigenvalues dealt to blocks at random
PAIRS = (("zhang2024-case1", "zhang2024-case2"), ("zhang2024-case3", "zhang2024-case4"),
         ("zhang2024-case1", SHUFFLED))
ROLES = ("heterogeneous", "homogeneous")
MAX_BLOCKS = 4
FIDELITY = {"tiny": dict(seeds=3), "default": dict(seeds=5), "full": dict(seeds=20)}
REPRODUCES = "Zhang et al. spectra and JS⁰"
CAPTION = """
Spectra of the Zhang et al. cases (THEORY §6, §7; densities of seed 0 drawn, JS values are
medians over {seeds} seeds). Rows: Case 1 (heterogeneous) vs Case 2 (homogeneous); Case 3 vs
Case 4; Case 1 vs "Case 1 shuffled" [C] — Case 1's own eigenvalues dealt to its blocks uniformly
at random and Haar-rotated, so the two full spectra are identical and only the block structure
differs. Columns: (1) density of the full-Hessian spectrum of both problems, with their JS
distance; (2, 3) per-block densities; (4, 5) pairwise JS distances between the blocks (seed 0),
JS⁰ = their mean (median over seeds in the title, log mode; paper-lin in brackets). Densities
[C, THEORY §7]: exact eigenvalues normalised by λmax(H), Gaussian smoothing of σ = {sigma:g}
decade on t = log10(λ/λmax) (log mode); paper-lin mode: t = λ/λmax, σ² = {sigma_lin2}. Measured
JS⁰ (log / paper-lin): {js0}. The log mode {log_verdict}; paper-lin scores {lin_note}. Full-spectrum
JS: {full_js}. Where we differ from the paper: our JS⁰ values are not comparable to the paper's
table in scale (formula, base, σ and grid are not in seed 000), only in ordering; and
{alike} — the paper's "full spectra alike, blockwise spectra differ" holds exactly where the
full-spectrum JS is at round-off, which is why the shuffled row is shown.
"""
SUMMARY = """
JS⁰ (log / paper-lin): {js0_short}; full-spectrum JS {full_js} — alike full spectra only where it is at
round-off
"""


def shuffled_blocks(p, *, seed: int):
    """A homogeneous partner of ``p``: its eigenvalues dealt to blocks of the same sizes at random.

    The full spectrum equals p's exactly; each block is Haar-rotated (THEORY §1 generator).
    Proposed as a catalog entry (see the report); built here from public pieces meanwhile.
    """
    seed = problems.validation.integer("seed", seed, minimum=0)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    eigs = rng.permutation(np.concatenate(p.block_eigvals))
    parts = np.split(eigs, np.cumsum(p.sizes)[:-1])
    return problems.block_quadratic(parts, rotation="haar", seed=int(rng.integers(2**32)),
                                    name=f"{p.name}-shuffled")


def get(name: str, seed: int):
    """Catalog problem ``name`` or the shuffled Case 1 partner."""
    if name == SHUFFLED:
        return shuffled_blocks(problems.get("zhang2024-case1", seed=seed), seed=seed)
    return problems.get(name, seed=seed)


def _padded(x: np.ndarray, shape) -> np.ndarray:
    out = np.full(shape, np.nan)
    out[tuple(slice(0, k) for k in x.shape)] = x
    return out


def compute(fidelity: str) -> xr.Dataset:
    S = FIDELITY[fidelity]["seeds"]
    names = sorted({n for pair in PAIRS for n in pair})
    js0 = {n: np.array([[problems.js0(get(n, s), mode=m) for m in ("log", "paper-lin")] for s in range(S)])
           for n in names}
    G = problems.spectral_density.MODES["log"].n_grid
    P, R, B = len(PAIRS), len(ROLES), MAX_BLOCKS
    dens, grid, js = np.full((P, R, B, G), np.nan), np.empty((P, R, G)), np.full((P, R, B, B), np.nan)
    full, full_grid, full_js = np.empty((P, R, G)), np.empty((P, G)), np.empty((P, S))
    js0_arr, nblocks = np.empty((P, R, S, 2)), np.empty((P, R), dtype=int)
    for i, pair in enumerate(PAIRS):
        ps = [get(n, 0) for n in pair]
        both = problems.block_densities([p.hessian() for p in ps], mode="log")
        full[i], full_grid[i] = both.densities, both.grid
        full_js[i] = [problems.pairwise_js([get(n, s).hessian() for n in pair], mode="log")[0, 1]
                      for s in range(S)]
        for r, p in enumerate(ps):
            bd = problems.block_densities(p, mode="log")
            dens[i, r] = _padded(bd.densities, (B, G))
            grid[i, r] = bd.grid
            js[i, r] = _padded(problems.pairwise_js(p, mode="log"), (B, B))
            nblocks[i, r] = len(p.sizes)
            js0_arr[i, r] = js0[pair[r]]
    return xr.Dataset(
        {"density": (("pair", "role", "block", "t"), dens), "grid": (("pair", "role", "t"), grid),
         "full_density": (("pair", "role", "t"), full), "full_grid": (("pair", "t"), full_grid),
         "full_js": (("pair", "seed"), full_js), "js": (("pair", "role", "block", "block2"), js),
         "js0": (("pair", "role", "seed", "mode"), js0_arr), "n_blocks": (("pair", "role"), nblocks),
         "problem": (("pair", "role"), np.array(PAIRS))},
        coords={"pair": np.arange(P), "role": list(ROLES), "block": np.arange(B), "block2": np.arange(B),
                "seed": np.arange(S), "mode": ["log", "paper-lin"]},
        attrs={"sigma_decades": problems.spectral_density.MODES["log"].sigma,
               "sigma_lin": problems.spectral_density.MODES["paper-lin"].sigma},
    )


_CASE = {"zhang2024-case1": "Case 1", "zhang2024-case2": "Case 2", "zhang2024-case3": "Case 3",
         "zhang2024-case4": "Case 4", SHUFFLED: "Case 1 shuffled"}


def facts(data: xr.Dataset) -> dict:
    from . import style

    med = data.js0.median("seed")  # (pair, role, mode)
    seen, rows, het, hom = set(), [], [], []
    for i in data.pair.values:
        for r, role in enumerate(data.role.values):
            name = str(data.problem.values[i, r])
            if name in seen:
                continue
            seen.add(name)
            lg, ln = float(med.sel(pair=i, role=role, mode="log")), float(med.sel(pair=i, role=role, mode="paper-lin"))
            rows.append(f"{_CASE.get(name, name)} {lg:.3f} / {ln:.3f}")
            if name != SHUFFLED:
                (het if role == "heterogeneous" else hom).append(lg)
    sep = min(het) > max(hom)
    fj = data.full_js.median("seed").values
    alike = [f"{_CASE[str(data.problem.values[i, 0])]}/{_CASE[str(data.problem.values[i, 1])]} {style.num(fj[i], 2)}"
             for i in range(fj.size)]
    c2 = float(med.sel(pair=0, role="homogeneous", mode="paper-lin"))
    c4 = float(med.sel(pair=1, role="homogeneous", mode="paper-lin"))
    return {"seeds": data.sizes["seed"], "sigma": data.attrs["sigma_decades"],
            "sigma_lin2": style.num(data.attrs["sigma_lin"] ** 2, 2), "js0": ", ".join(rows),
            "log_verdict": (f"separates heterogeneous (≥ {min(het):.2f}) from homogeneous (≤ {max(hom):.2f}) block "
                            "structures" if sep else "does not separate heterogeneous from homogeneous cases here"),
            "lin_note": f"Case 2 {c2:.2f} and Case 4 {c4:.2f}", "full_js": ", ".join(alike),
            "alike": (f"our Case 1/Case 2 stand-ins have a full-spectrum JS of {style.num(fj[0], 2)}, not alike "
                      "spectra (after the common affine map to [1, κ] most of Case 2's single lognormal law sits "
                      "near λmax while Case 1's four laws spread over decades)" if fj[0] > 0.1 else
                      f"our Case 1/Case 2 stand-ins have alike full spectra (JS {style.num(fj[0], 2)})"),
            "js0_short": ", ".join(rows)}


def _short(name: str) -> str:
    return name.replace("zhang2024-", "").replace("case", "Case ")


def plot(data: xr.Dataset):
    from . import style

    P = data.sizes["pair"]
    fig, axes = style.figure(5, P, width=2.9, height=2.4)
    cmap = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")
    for i in range(P):
        row = data.isel(pair=i)
        names = [str(x) for x in row.problem.values]
        ax = axes[i, 0]
        for r, ls in zip(range(2), ("-", "--")):
            ax.plot(row.full_grid, row.full_density.isel(role=r), linestyle=ls, color="k" if r == 0 else "#888",
                    label=_short(names[r]))
        ax.set_title(f"({'abc'[i]}1) full H, JS = {float(row.full_js.median()):.2g}", fontsize=8.5)
        ax.legend(fontsize=6.5)
        ax.set_ylabel("density")
        for r in range(2):
            nb = int(row.n_blocks.isel(role=r))
            ax = axes[i, 1 + r]
            for b in range(nb):
                ax.plot(row.grid.isel(role=r), row.density.isel(role=r, block=b), color=cmap[b],
                        linewidth=1.1, label=f"block {b + 1}")
            ax.set_title(f"({'abc'[i]}{2 + r}) blocks of {_short(names[r])} ({ROLES[r][:3]}.)", fontsize=8.5)
            ax.legend(fontsize=6)
            ax = axes[i, 3 + r]
            m = row.js.isel(role=r).values[:nb, :nb]
            im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
            for (a, b), v in np.ndenumerate(m):
                ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                        color="w" if v < 0.6 else "k")
            j0 = row.js0.isel(role=r).median("seed")
            ax.set_title(f"({'abc'[i]}{4 + r}) {_short(names[r])}: JS⁰ = {float(j0.sel(mode='log')):.3f}\n"
                         f"[paper-lin {float(j0.sel(mode='paper-lin')):.3f}]", fontsize=8.5)
            ax.set_xticks(range(nb), [str(k + 1) for k in range(nb)])
            ax.set_yticks(range(nb), [str(k + 1) for k in range(nb)])
            ax.grid(False)
            if r == 1:
                fig.colorbar(im, ax=ax, shrink=0.8, label="JS distance")
        for c in range(3):
            axes[i, c].set_xlabel("log10(λ/λmax)")
    fig.tight_layout()
    return fig
