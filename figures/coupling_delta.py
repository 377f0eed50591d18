"""Near-block-diagonal coupling δ (Tomihari Assm. 4.3; ``problems.coupled``): which bounds survive it.

H_δ = H_bd + s·C with C a fixed symmetric matrix with zero diagonal blocks, ‖C‖₂ = μ(H_bd), so the
coupling norm is δ = ‖H_δ − H_bd‖₂ = s·μ (``problems.coupled``; s ≥ 1 only while H_δ stays SPD).
On one instance and a batch of inits, every method runs at its theory lr (no tuning):

- GD at 2/(L+μ) of H_δ — bound ρ* of H_δ (``theory.gd_rate``), valid for any SPD H;
- blockwise GD at 2/(L_l+μ_l) of the *uncoupled* blocks — what a user who believes H is block
  diagonal runs; its bound max_l ρ_l (``theory.blockwise_gd_rate`` of H_bd) assumes block-diagonality;
- the Adam and Adam-mini theorem variants (β1 = 0, β2 = 1, v0 = g0², ε = 0) at η_P of H_δ — bounds
  ρ_P of P = D^{-1/2}H_δD^{-1/2} (``theory.adam_variant_rate``, ``adam_mini_variant_rate``), valid for any
  SPD H; for Adam-mini also the block-diagonal reading κ(P_mini) = max_l κ(P_l) (THEORY §4), i.e.
  its bound computed on H_bd at the lr the run uses.

Runs per (δ, method) are one batched ``sims.run`` (per-run lr where η_P depends on the init).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems, sims, theory

NAME = "coupling-delta"
SOURCE = "Tomihari & Sato 2025 (seed 001), Assumption 4.3 (near block-diagonal H, δ); bounds of THEORY §2–§4"
REPRODUCES = "Tomihari Assumption 4.3 (coupling δ)"
BASE = "adam-mini-fig4"  # three dense heterogeneous blocks [C]
TOL = 1e-6
METHODS = ("gd", "blockwise-gd", "adam-variant", "adam-mini")
FIDELITY = {
    "tiny": dict(strengths=(0.0, 3.0, 10.0, 40.0), inits=3, steps=20000, block_size=10),
    "default": dict(strengths=(0.0, 0.1, 0.3, 1.0, 3.0, 6.0, 10.0, 15.0, 20.0, 30.0), inits=6, steps=30000,
                    block_size=10),
    "full": dict(strengths=(0.0, 0.03, 0.1, 0.3, 0.6, 0.9, 2.0, 3.0, 6.0, 10.0, 20.0, 30.0, 60.0), inits=30,
                 steps=100000, block_size=30),
}
CAPTION = """
Coupling δ between the blocks of {base} (three dense {bs}×{bs} blocks, κ(H_bd) = {kappa:.0f}; one
instance, seed 0, and {inits} inits w0 = w* + N(0, I)) [C]. H_δ = H_bd + s·C, C a fixed random
symmetric coupling with zero diagonal blocks and ‖C‖₂ = μ, so δ = ‖H_δ − H_bd‖₂ = s·μ
(problems.coupled; Tomihari Assumption 4.3) [C]; s ∈ {{{strengths}}}{not_spd}. (a) iterations to
ℓ ≤ {tol}·ℓ_0 (at most {steps}; median over inits, band min–max) of GD at 2/(L+μ) of H_δ,
blockwise GD at the optimal steps 2/(L_l+μ_l) of the uncoupled blocks, and the Adam / Adam-mini
theorem variants (β1 = 0, β2 = 1, v0 = g0², ε = 0) at η_P of H_δ; no tuning. Dashed: bounds valid
for any SPD H, computed on H_δ (ρ* for GD, ρ_P for the variants). Dotted: bounds that assume a
block-diagonal H, computed on H_bd — blockwise GD's max_l ρ_l and Adam-mini's blockwise P_mini at the lr it runs
— drawn up to the largest δ where they still hold on every init; × marks each δ where a
measured T exceeds one. (b) the same T relative to blockwise GD. Measured, general bounds:
{general}; blockwise GD's block-diagonal bound holds up to δ/μ = {bw_ok} and
fails from {bw_fail}{bw_div}; Adam-mini's block-diagonal bound holds up to δ/μ = {mini_ok}. Median
T at δ = 0 → largest SPD δ: {ends}. Tomihari's bounds add δ to L_G and L_P (THEORY §8.2); the
block-diagonal rates of Zhang / Adam-mini have no δ term.
"""
SUMMARY = """
coupling δ = s·μ: blockwise GD's block-diagonal bound holds up to δ/μ = {bw_ok} and fails from
{bw_fail}; general bounds: {general}
"""


def base_problem(block_size: int):
    return problems.get(BASE, seed=0, block_size=block_size)


def measure(p0, p, w0, *, steps: int) -> dict:
    """Iterations to TOL per method and init on ``p`` (coupled), bounds' iteration counts."""
    n = w0.shape[0]
    bw0 = theory.blockwise_gd_rate(p0)
    gd = theory.gd_rate(p)
    adam = [theory.adam_variant_rate(p, w) for w in w0]
    mini = [theory.adam_mini_variant_rate(p, w) for w in w0]
    # the block-diagonal reading at the lr the run uses: P_mini of H_bd (its D from H_bd's g0)
    mini_bd = [theory.adam_mini_variant_rate(p0, w, lr=m.lr) for w, m in zip(w0, mini)]
    specs = {"gd": sims.GD(gd.lr), "blockwise-gd": sims.BlockwiseGD(lrs=bw0.block_lrs),
             "adam-variant": sims.Adam.theorem_variant(np.array([a.lr for a in adam])),
             "adam-mini": sims.AdamMini.theorem_variant(np.array([m.lr for m in mini]))}
    T = np.empty((len(METHODS), n))
    for k, m in enumerate(METHODS):
        res = sims.run(p, specs[m], steps, w0=w0, tol=TOL, record_every=steps)
        reason = np.asarray(res.stop_reason)
        T[k] = np.where(reason == "tol", res.iterations, np.where(reason == "diverged", -1.0, np.inf))
    general = np.stack([np.full(n, gd.iterations(TOL)), np.full(n, np.nan),
                        [a.iterations(TOL) for a in adam], [m.iterations(TOL) for m in mini]])
    blockdiag = np.stack([np.full(n, np.nan), np.full(n, bw0.iterations(TOL)), np.full(n, np.nan),
                          [b.iterations(TOL) for b in mini_bd]])
    return {"T": T, "general": general, "blockdiag": blockdiag}


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    s_grid, n, steps = np.asarray(cfg["strengths"], dtype=float), cfg["inits"], cfg["steps"]
    p0 = base_problem(cfg["block_size"])
    w0 = sims.initial_points(p0, n, 0)
    T = np.full((s_grid.size, len(METHODS), n), np.nan)
    general, blockdiag = np.full_like(T, np.nan), np.full_like(T, np.nan)
    delta, spd = np.full(s_grid.size, np.nan), np.zeros(s_grid.size, dtype=bool)
    for i, s in enumerate(s_grid):
        try:
            p = p0 if s == 0 else problems.coupled(p0, strength=float(s), seed=0)
        except ValueError:  # H_δ not SPD at this strength: no quadratic to run
            continue
        spd[i], delta[i] = True, 0.0 if s == 0 else p.delta
        got = measure(p0, p, w0, steps=steps)
        T[i], general[i], blockdiag[i] = got["T"], got["general"], got["blockdiag"]
    dims = ("strength", "optimizer", "init")
    return xr.Dataset(
        {"iterations": (dims, T), "general_bound": (dims, general), "blockdiag_bound": (dims, blockdiag),
         "delta": (("strength",), delta), "spd": (("strength",), spd)},
        coords={"strength": s_grid, "optimizer": list(METHODS), "init": np.arange(n)},
        attrs={"tol": TOL, "steps": steps, "base": BASE, "block_size": cfg["block_size"], "mu": p0.mu,
               "kappa": p0.kappa},
    )


def holds(data: xr.Dataset, bound: str, method: str) -> np.ndarray:
    """Per strength: the bound holds on every init (measured T ≤ bound; a diverged run violates)."""
    T = data.iterations.sel(optimizer=method).values
    B = data[bound].sel(optimizer=method).values
    # not finished within the cap violates only a bound that promised to finish within it
    ok = (T >= 0) & ((T <= B) | (np.isinf(T) & (B >= data.attrs["steps"])))
    return np.all(ok, axis=1) & data.spd.values


def _largest_ok(data, ok) -> str:
    s = data.strength.values[data.spd.values]
    ok = ok[data.spd.values]
    bad = np.flatnonzero(~ok)
    upto = s[: bad[0]] if bad.size else s
    return f"{upto[-1]:g}" if upto.size else "none"


def facts(data: xr.Dataset) -> dict:
    from . import style

    s = data.strength.values
    spd = data.spd.values
    gen_ok = [bool(np.all(holds(data, "general_bound", m)[spd])) for m in ("gd", "adam-variant", "adam-mini")]
    general = ("they hold at every δ and init" if all(gen_ok) else
               "violated for " + ", ".join(m for m, ok in zip(("GD", "Adam", "Adam-mini"), gen_ok) if not ok))
    bw = holds(data, "blockdiag_bound", "blockwise-gd")
    fail = s[spd & ~bw]
    T_bw = data.iterations.sel(optimizer="blockwise-gd").values
    div = s[spd & np.any(T_bw < 0, axis=1)]
    med = data.iterations.where(data.iterations >= 0).median("init")
    last = int(np.flatnonzero(spd)[-1])
    label = {"gd": "GD", "blockwise-gd": "blockwise GD", "adam-variant": "Adam variant", "adam-mini": "Adam-mini variant"}
    ends = "; ".join(f"{label[m]} {style.num(float(med.sel(optimizer=m).isel(strength=0)), 4)} → "
                     f"{style.num(float(med.sel(optimizer=m).isel(strength=last)), 4)}" for m in data.optimizer.values)
    bad_s = s[~spd]
    return {"base": data.attrs["base"], "bs": int(data.attrs["block_size"]), "kappa": float(data.attrs["kappa"]),
            "inits": data.sizes["init"], "strengths": ", ".join(f"{x:g}" for x in s),
            "not_spd": (f" (not SPD, not run: s = {', '.join(f'{x:g}' for x in bad_s)})" if bad_s.size else ""),
            "tol": style.num(data.attrs["tol"]), "steps": int(data.attrs["steps"]), "general": general,
            "bw_ok": _largest_ok(data, bw), "bw_fail": f"{fail[0]:g}" if fail.size else "nowhere (never fails)",
            "bw_div": f" (diverges from δ/μ = {div[0]:g})" if div.size else "",
            "mini_ok": _largest_ok(data, holds(data, "blockdiag_bound", "adam-mini")), "ends": ends}


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(2, 1, width=4.3, height=3.4)
    ax, axr = axes[0]
    s = data.strength.values
    x = np.where(s > 0, s, s[s > 0].min() / 3 if (s > 0).any() else 1e-2)  # δ = 0 drawn at the left edge
    spd = data.spd.values
    T = data.iterations.where(data.iterations >= 0)
    for m in data.optimizer.values:
        t = T.sel(optimizer=m)
        c = style.color(str(m) if m != "adam-variant" else "adam-variant")
        med = t.median("init").values
        ax.plot(x[spd], med[spd], "o-", color=c, label=style.label(str(m)) if m != "adam-mini" else "Adam-mini variant")
        ax.fill_between(x[spd], t.min("init").values[spd], t.max("init").values[spd], color=c, alpha=0.15, lw=0)
        g = data.general_bound.sel(optimizer=m).median("init").values
        if np.isfinite(g).any():
            ax.plot(x[spd], g[spd], "--", color=c, linewidth=0.9)
        b = data.blockdiag_bound.sel(optimizer=m).median("init").values
        if np.isfinite(b).any():
            ok = holds(data, "blockdiag_bound", str(m))
            upto = spd.copy()
            bad = np.flatnonzero(spd & ~ok)
            if bad.size:
                upto[bad[0]:] = False
            ax.plot(x[upto], b[upto], ":", color=c, linewidth=1.4)
            ax.plot(x[spd & ~ok], b[spd & ~ok], "x", color=c, markersize=7, mew=1.6)
        div = spd & np.any(data.iterations.sel(optimizer=m).values < 0, axis=1)
        if div.any():
            ax.plot(x[div], np.full(div.sum(), float(data.attrs["steps"])), "v", color=c, markersize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("coupling δ/μ (δ = 0 at the left edge)")
    ax.set_ylabel(f"iterations to ℓ ≤ {style.num(data.attrs['tol'])}·ℓ_0")
    ax.set_title("(a) T vs δ; dashed: general bounds, dotted: block-diagonal\nbounds while they hold, ×: violated, ▼: diverged", fontsize=8)
    ax.legend(fontsize=6.5)
    ref = T.sel(optimizer="blockwise-gd").median("init")
    for m in data.optimizer.values:
        r = (T.sel(optimizer=m).median("init") / ref).values
        axr.plot(x[spd], r[spd], "o-", color=style.color(str(m)), label=str(m))
    axr.axhline(1, color="k", linewidth=0.7, linestyle=":")
    axr.set_xscale("log")
    axr.set_yscale("log")
    axr.set_xlabel("coupling δ/μ")
    axr.set_ylabel("median T / median T(blockwise GD)")
    axr.set_title("(b) relative to blockwise GD (uncoupled steps)", fontsize=8)
    fig.tight_layout()
    return fig
