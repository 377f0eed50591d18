"""Slack of every bound of ``hetquad.theory`` over random instances — the ``hetquad check`` table
drawn as distributions (THEORY §10).

Slack = bound/measured (iterations, per-step factors as bound/ratio, losses as bound/loss): ≥ 1
means the bound held on that run. The data come from ``hetquad.checks.run_checks`` — the same rows
``hetquad check`` prints — one strip per (bound, quantity) row with every run's min slack.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import checks

NAME = "bound-slack"
SOURCE = "hetquad check (THEORY §10 'What a test should assert'): the slack of every bound"
TOL = 1e-9  # THEORY §10's loosest relative tolerance: a slack ≥ 1 − TOL is a bound that held
TINY_BOUNDS = ("gd_rate", "blockwise_gd_rate", "adam_variant_rate", "sign_descent_plateau")
FIDELITY = {
    "tiny": dict(quick=True, only=TINY_BOUNDS, instances=2),
    "default": dict(quick=True, only=None, instances=None),   # `hetquad check --quick`
    "full": dict(quick=False, only=None, instances=None),     # `hetquad check`
}
SEED = 0
REPRODUCES = "THEORY §10 via `hetquad check`"
CAPTION = """
Slack of every bound of hetquad.theory on the random instances of theory.suite (`hetquad check`,
{mode} mode, master seed {seed}; {n_rows} rows from {n_bounds} bounds, {instances} instances per
row, {runs} runs compared in all). One row per (bound, checked quantity); one point per run: its
smallest slack over the run, slack = bound / measured (iterations: iters(ρ, ε)/T(ε); per-step
contraction: bound factor / measured ratio; losses: bound / ℓ_t), so slack ≥ 1 means the bound
held and the distance from the dashed line (slack = 1) is how loose it is. Log axis; black bar: median;
red points: slack < 1 − {tol} (a violation; the tolerance is THEORY §10's loosest); right of each
row: runs compared and violations counted by theory.check, and the slack THEORY §10 expects.
Measured: {violations} violations; median slack per row from {med_lo} to {med_hi}; the
loosest row is {loosest} (median {loosest_med}), the tightest {tightest} (median {tightest_med}).
"""
SUMMARY = """
slack of every bound over random instances ({mode} mode, {runs} runs): {violations} violations,
median slack {med_lo}–{med_hi}
"""


def to_dataset(rows: list[dict]) -> xr.Dataset:
    """The rows of ``checks.run_checks`` as a Dataset: per row its labels and counts, and the
    (row, run) slack array padded with NaN (None — nothing compared — is NaN too)."""
    if not rows:
        raise ValueError("rows must hold at least one row of checks.run_checks, got none")
    width = max(len(r["slacks"]) for r in rows)
    slack = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        slack[i, :len(r["slacks"])] = [np.nan if s is None else s for s in r["slacks"]]
    col = lambda key, dtype: np.array([r[key] for r in rows], dtype=dtype)  # noqa: E731
    return xr.Dataset(
        {"slack": (("row", "run"), slack),
         "bound": ("row", col("bound", str)), "quantity": ("row", col("quantity", str)),
         "expected": ("row", col("expected", str)), "instances": ("row", col("instances", int)),
         "runs": ("row", col("runs", int)), "violations": ("row", col("violations", int)),
         "min_slack": ("row", col("min_slack", float)), "median_slack": ("row", col("median_slack", float))},
        coords={"row": np.arange(len(rows)), "run": np.arange(width)},
        attrs={"tol": TOL},
    )


def collect(*, quick: bool, only=None, instances=None, seed: int = SEED) -> xr.Dataset:
    """Run ``hetquad check`` (``checks.run_checks``) and return its rows as a Dataset."""
    rows = checks.run_checks(quick=quick, seed=seed, only=list(only) if only else None, instances=instances)
    ds = to_dataset(rows)
    ds.attrs.update({"mode": "quick" if quick else "full", "seed": seed})
    return ds


def compute(fidelity: str) -> xr.Dataset:
    return collect(**FIDELITY[fidelity])


def facts(data: xr.Dataset) -> dict:
    from . import style

    med = np.array([np.nanmedian(r) if np.isfinite(r).any() else np.nan for r in data.slack.values])
    ok = np.isfinite(med)
    lo, hi = int(np.nanargmin(med)), int(np.nanargmax(med))
    name = lambda i: f"{data.bound.values[i]}: {data.quantity.values[i]}"  # noqa: E731
    inst = np.unique(data.instances.values)
    return {"mode": data.attrs.get("mode", ""), "seed": int(data.attrs.get("seed", 0)), "n_rows": data.sizes["row"],
            "n_bounds": len(np.unique(data.bound.values)),
            "instances": "–".join(str(int(x)) for x in (inst.min(), inst.max())) if inst.size > 1 else int(inst[0]),
            "runs": int(data.runs.sum()), "tol": style.num(data.attrs["tol"]),
            "violations": int(violated(data).sum()), "med_lo": style.num(med[ok].min()), "med_hi": style.num(med[ok].max()),
            "loosest": name(hi), "loosest_med": style.num(med[hi]), "tightest": name(lo), "tightest_med": style.num(med[lo])}


def violated(data: xr.Dataset) -> np.ndarray:
    """(row, run) mask of runs whose slack is below 1 − tol (NaN: not compared, never violated)."""
    with np.errstate(invalid="ignore"):
        return data.slack.values < 1.0 - data.attrs["tol"]


def plot(data: xr.Dataset):
    from . import style

    n = data.sizes["row"]
    fig, axes = style.figure(1, 1, width=7.5, height=0.32 * n + 1.2)
    ax = axes[0, 0]
    bad = violated(data)
    rng = np.random.default_rng(0)  # jitter only
    for i in range(n):
        s = data.slack.values[i]
        ok = np.isfinite(s)
        y = i + rng.uniform(-0.18, 0.18, s.size)
        ax.scatter(s[ok & ~bad[i]], y[ok & ~bad[i]], s=7, color=style.color("gd"), alpha=0.55, linewidths=0)
        ax.scatter(s[bad[i]], y[bad[i]], s=14, color="red", zorder=3, linewidths=0)
        if ok.any():
            ax.vlines(np.median(s[ok]), i - 0.3, i + 0.3, color="k", linewidth=1.6)
        v = int(data.violations.values[i])
        ax.annotate(f"{int(data.runs.values[i])} runs, {v} viol.  exp. {data.expected.values[i]}",
                    (1.01, i), xycoords=("axes fraction", "data"), va="center", fontsize=6.5,
                    color="red" if v else "0.3")
    ax.axvline(1.0, color="k", linestyle="--", linewidth=0.9)
    ax.set_xscale("log")
    ax.set_yticks(range(n), [f"{b}: {q}" for b, q in zip(data.bound.values, data.quantity.values)], fontsize=6.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlabel("slack = bound / measured  (≥ 1: the bound holds)")
    mode = data.attrs.get("mode", "")
    ax.set_title(f"hetquad check ({mode} mode, seed {data.attrs.get('seed', '')}): "
                 f"{int(bad.sum())} runs below slack 1 − {data.attrs['tol']:g}")
    fig.tight_layout()
    return fig
