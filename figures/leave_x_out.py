"""Quadratic analogue of Adam-mini Fig. 6: Adam (leave-x-out) vs Adam, x = 1, 2, 3, constant and cosine lr.

"Adam (leave-x-out)" = Adam on every block except a set S of x blocks, whose coordinate-wise lrs
are replaced by single learning rates ([M] §2.1 case study II). The left-out rule is
leave-one-out's 'constant' rule (``leave_one_out.single_lr_spec``: momentum GD with the second
moment frozen at mean(g0²) of the left-out coordinates), under the same lr schedule as Adam.
Two ways to give S its single lrs:

- 'own'    — one lr per left-out block, each grid-searched on its block alone [C];
- 'shared' — one lr for all of S, grid-searched on the whole problem (``leave_one_out.leave_out``);
  for x ≥ 2 it puts several Hessian blocks under one lr, what Principle 1 forbids.

Exactness and speed are leave-one-out's (its module docstring): on a block-diagonal H the blocks
evolve independently, so the 'own' run of S is Adam's per-block gradient norms off S combined with
each left-out block's own best single-lr run — one grid run per block, shared by every subset —
and every lr grid is one batched run (``leave_one_out.grid_run``). Every subset of x blocks is
scored (4, 6, 4 subsets of 4 blocks), not a random draw.
"""
from __future__ import annotations

import itertools

import numpy as np
import xarray as xr

from hetquad import problems, sims

from .leave_one_out import (LRS, STEPS, coordinates, grid_run, leave_out, single_lr_spec, sub_problem,
                            tail_scores, tuned_adam)

NAME = "leave-x-out"
SOURCE = "Zhang et al. 2024, Adam-mini (seed 002), Fig. 6 (§2.1 case study II): leave-x-out, constant and cosine lr"
PROBLEMS = ("zhang2024-case1", "tomihari-blocks")  # four dense blocks each: x = 1, 2, 3 all leave Adam on a block
XS = (1, 2, 3)
SCHEDULES = ("constant", "cosine")
RULES = ("own", "shared")
FIDELITY = {"tiny": dict(seeds=2, schedules=SCHEDULES), "default": dict(seeds=6, schedules=SCHEDULES),
            "full": dict(seeds=30, schedules=SCHEDULES)}
REPRODUCES = "Adam-mini Fig. 6 (leave-x-out, x = 1–3)"
CAPTION = """
Quadratic analogue of Adam-mini Fig. 6 with x = 1, 2, 3 blocks left out. Gap = score(Adam) −
score(Adam leave-x-out) in decades of gradient norm (> 0: the single lrs are better), score =
worst log10(‖g_t‖/‖g_0‖) over t ∈ [{tail:g}N, N], N = {N} (THEORY §6) [C]. Problems: {problems}
(four dense blocks each) [C: [M] uses a 4-layer Transformer]; one instance and init w0 = w* +
N(0, I) per seed, {seeds} seeds. Adam: torch semantics, lr tuned per seed and schedule on
10^{{{lr_lo:g}…{lr_hi:g}}} in quarter decades; schedules: constant, and cosine decay to zero over the N
steps (the other blocks' schedule applies to the left-out ones too, as in [M]). Left-out rule:
momentum GD with a frozen second moment (leave-one-out's 'constant' rule [C]). Every subset of x
blocks is scored ({subsets} subsets for x = {xs}) [C: [M] draws random blocks]. Coloured points
('own'): one lr per left-out block, searched on that block alone [C]; grey points ('shared'): one
lr for all x blocks, searched on the whole problem — for x ≥ 2 this shares an lr across Hessian
blocks. Filled: constant lr; open: cosine. Top row: the whole problem; bottom row: the left-out
blocks alone. Bars: medians. Symlog y axis, linear inside the shaded band |gap| < {linthresh:g}.
Measured, median gap (min) over seeds and subsets, whole problem: {whole}. Left-out blocks alone:
{alone}. [M] reports leave-x-out on par with or better than Adam for x up to {x_max} with per-block
single lrs; here per-block lrs stay within [{own_lo:+.2f}, {own_hi:+.2f}] decades of Adam on the
whole problem, while one shared lr loses up to {shared_worst:.1f} decades at x ≥ 2 (Principle 1).
"""
SUMMARY = """
x = {xs_range} blocks with one searched lr each: gaps to Adam in [{own_lo:+.2f}, {own_hi:+.2f}] decades
(constant and cosine lr); one lr shared by x ≥ 2 blocks loses up to {shared_worst:.1f}
"""
LINTHRESH = 0.3


def schedule(name: str, steps: int = STEPS):
    """'constant' → None (no schedule); 'cosine' → cosine decay to 0 over ``steps``."""
    return None if name == "constant" else sims.Cosine(total=steps, final=0.0)


def subsets(n_blocks: int, x: int) -> list:
    """Every set of ``x`` block indices, in lexicographic order."""
    return list(itertools.combinations(range(n_blocks), x))


def own_runs(p, w0: np.ndarray, sched) -> tuple[list, list, list]:
    """Per block: the block alone under its best single lr (block-alone score). Returns per block
    (‖g_b,t‖ of that run, (steps+1,)), the run's stop reason and its lr."""
    curves, reasons, lrs = [], [], []
    for b in range(len(p.sizes)):
        res, own = grid_run(sub_problem(p, (b,)), lambda lr: single_lr_spec("constant", lr, sched),
                            w0[coordinates(p, (b,))])
        j = int(np.argmin(tail_scores(res, own)))  # first (smallest lr) on ties
        curves.append(own[j])
        reasons.append(res.stop_reason[j])
        lrs.append(float(LRS[j]))
    return curves, reasons, lrs


def measure(p, w0: np.ndarray, sched) -> dict:
    """Whole and alone gaps of every subset (x = 1..3) and rule on one (instance, init, schedule)."""
    adam_lr, adam_score, ab, adam_alone = tuned_adam(p, w0, schedule=sched)
    own, own_reason, own_lr = own_runs(p, w0, sched)
    B = len(p.sizes)
    out = {"adam_lr": adam_lr, "own_lr": own_lr}
    for x in XS:
        for S in subsets(B, x):
            reason = ("diverged",) if any(own_reason[b] == "diverged" for b in S) else ("steps",)
            mine = np.sum([own[b] ** 2 for b in S], axis=0)
            whole = np.sqrt(np.sum(np.delete(ab, S, axis=1) ** 2, axis=1) + mine)
            alone_adam = adam_alone(np.sqrt(np.sum(ab[:, S] ** 2, axis=1)))
            out[("own", S)] = (adam_score - tail_score(whole, reason), alone_adam - tail_score(np.sqrt(mine), reason))
            if x == 1:  # one block: 'shared' is 'own' tuned on the whole problem — leave-one-out's figure
                out[("shared", S)] = (np.nan, np.nan)
                continue
            sh = leave_out(p, w0, ab, S, "constant", schedule=sched)
            out[("shared", S)] = (adam_score - sh["score"], alone_adam - sh["own_score"])
    return out


def tail_score(g: np.ndarray, reason=("steps",)) -> float:
    """THEORY §6 tail score of one gradient-norm curve on the 0..STEPS record grid."""
    res = sims.Result(loss=np.ones((1, g.size)), grad_norm=g[None, :], steps=np.arange(g.size), stop_reason=reason,
                      iterations=np.array([g.size - 1]), final_loss=np.ones(1), w_final=np.zeros((1, 1)),
                      engine="none", wall_time=0.0)
    return sims.score(res, "tail_grad")


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    S, scheds = cfg["seeds"], cfg["schedules"]
    B = 4
    n_sub = max(len(subsets(B, x)) for x in XS)
    shape = (len(PROBLEMS), S, len(scheds), len(XS), n_sub, len(RULES))
    whole, alone = np.full(shape, np.nan), np.full(shape, np.nan)
    labels = np.full((len(XS), n_sub), "", dtype=object)
    adam_lr = np.full((len(PROBLEMS), S, len(scheds)), np.nan)
    own_lr = np.full((len(PROBLEMS), S, len(scheds), B), np.nan)
    for ix, x in enumerate(XS):
        for j, sub in enumerate(subsets(B, x)):
            labels[ix, j] = "+".join(str(b + 1) for b in sub)
    for i, name in enumerate(PROBLEMS):
        for s in range(S):
            p = problems.get(name, seed=s)
            if len(p.sizes) != B:
                raise ValueError(f"problem {name!r} must have {B} blocks, got {len(p.sizes)}")
            w0 = sims.initial_points(p, 1, s)[0]
            for k, sc in enumerate(scheds):
                got = measure(p, w0, schedule(sc))
                adam_lr[i, s, k], own_lr[i, s, k] = got["adam_lr"], got["own_lr"]
                for ix, x in enumerate(XS):
                    for j, sub in enumerate(subsets(B, x)):
                        for r, rule in enumerate(RULES):
                            whole[i, s, k, ix, j, r], alone[i, s, k, ix, j, r] = got[(rule, sub)]
    dims = ("problem", "seed", "schedule", "x", "subset", "rule")
    return xr.Dataset(
        {"gap": (dims, whole), "alone_gap": (dims, alone), "subset_label": (("x", "subset"), labels.astype(str)),
         "adam_lr": (dims[:3], adam_lr), "own_lr": (dims[:3] + ("block",), own_lr)},
        coords={"problem": list(PROBLEMS), "seed": np.arange(S), "schedule": list(scheds), "x": list(XS),
                "subset": np.arange(n_sub), "rule": list(RULES), "block": np.arange(B)},
        attrs={"steps": STEPS, "tail": 0.9, "lrs": [LRS[0], LRS[-1]], "n_blocks": B},
    )


def _fmt(g: np.ndarray) -> str:
    g = g[np.isfinite(g)]
    return f"{np.median(g):+.2f} ({g.min():+.2f})" if g.size else "n/a"


def facts(data: xr.Dataset) -> dict:
    def pick(var, rule, x=None):
        d = data[var].sel(rule=rule)
        if x is not None:
            d = d.sel(x=x)
        v = d.values.ravel()
        return v[~np.isnan(v)]

    parts = {}
    for var in ("gap", "alone_gap"):
        cells = []
        for x in data.x.values:
            cells.append(f"x = {int(x)}: own {_fmt(pick(var, 'own', x))}"
                         + (f", shared {_fmt(pick(var, 'shared', x))}" if x > 1 else ""))
        parts[var] = "; ".join(cells)
    own = pick("gap", "own")
    shared = np.concatenate([pick("gap", "shared", x) for x in data.x.values if x > 1])
    B = int(data.attrs["n_blocks"])
    return {"tail": data.attrs["tail"], "N": int(data.attrs["steps"]), "seeds": data.sizes["seed"],
            "problems": " and ".join(str(n) for n in data.problem.values),
            "lr_lo": np.log10(data.attrs["lrs"][0]), "lr_hi": np.log10(data.attrs["lrs"][1]),
            "subsets": ", ".join(str(len(subsets(B, int(x)))) for x in data.x.values),
            "xs": ", ".join(str(int(x)) for x in data.x.values), "linthresh": LINTHRESH,
            "x_max": int(data.x.values.max()), "xs_range": f"{int(data.x.values.min())}–{int(data.x.values.max())}",
            "whole": parts["gap"], "alone": parts["alone_gap"],
            "own_lo": float(np.min(own[np.isfinite(own)])), "own_hi": float(np.max(own[np.isfinite(own)])),
            "shared_worst": float(-np.min(shared[np.isfinite(shared)]))}


SHADES = {1: "#1b9e77", 2: "#d95f02", 3: "#7570b3"}
GREY = "#555555"
TICKS = (-3, -1, -0.3, -0.1, 0, 0.1, 0.3)


def plot(data: xr.Dataset):
    from . import style

    P = data.sizes["problem"]
    fig, axes = style.figure(P, 2, width=4.2, height=3.2)
    for i, name in enumerate(data.problem.values):
        for row, (var, what) in enumerate((("gap", "whole problem"), ("alone_gap", "left-out blocks alone"))):
            ax = axes[row, i]
            for ix, x in enumerate(data.x.values):
                for r, rule in enumerate(data.rule.values):
                    if rule == "shared" and x == 1:
                        continue
                    for k, sc in enumerate(data.schedule.values):
                        g = data[var].sel(problem=name, x=x, rule=rule, schedule=sc).values.ravel()
                        g = g[~np.isnan(g)]
                        pos = ix + (r - 0.5) * 0.36 + (k - 0.5) * 0.16
                        c = SHADES[int(x)] if rule == "own" else GREY
                        xs = pos + np.linspace(-0.04, 0.04, g.size)
                        ax.scatter(xs, np.clip(g, -1e3, None), s=9, edgecolors=c,
                                   facecolors=c if sc == "constant" else "none", linewidths=0.7)
                        if g.size:
                            ax.hlines(np.median(g), pos - 0.07, pos + 0.07, color="k", linewidth=1.3)
            ax.axhline(0, color="k", linewidth=0.7, linestyle=":")
            ax.set_yscale("symlog", linthresh=LINTHRESH, linscale=1.0)
            ax.axhspan(-LINTHRESH, LINTHRESH, color="#7f7f7f", alpha=0.1, linewidth=0, zorder=0)
            ax.set_yticks(TICKS, [f"{t:g}" for t in TICKS])
            ax.minorticks_off()
            ax.set_xticks(range(data.sizes["x"]), [f"x = {int(x)}" for x in data.x.values])
            ax.set_title(f"({'ab'[i] if row == 0 else 'cd'[i]}) {name}: {what}", fontsize=8)
            ax.set_ylabel("score(Adam) − score(leave-x-out)\n[decades, symlog]")
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker="o", linestyle="", color=SHADES[1], label="own lr per block, constant"),
               Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color=SHADES[1],
                      label="own lr per block, cosine"),
               Line2D([], [], marker="o", linestyle="", color=GREY, label="one shared lr (x ≥ 2)")]
    axes[0, 0].legend(handles=handles, fontsize=6.5, loc="lower left")
    fig.tight_layout()
    return fig
