"""Quadratic analogue of Adam-mini Fig. 6: Adam (leave-one-out) vs Adam, for every block.

"Adam (leave-one-out), block b" = Adam on every block except b, whose coordinate-wise lrs are
replaced by a single-learning-rate counterpart with its own grid-searched lr ([M] §2.1 case
study II). Two renderings of the single lr, both library specs on the left-out coordinates with
``partition='single'`` (one second moment for all of them):

- 'constant' — ``AdamMini(lr_b, beta1=0.9, beta2=1, v0='g0sq', bias_correction=False)``: the
  second moment frozen at mean(g0_b²): a constant step lr_b/rms(g0_b) on Adam's momentum m
  (momentum GD with one lr — our reading of "single-learning-rate counterpart" [C]);
- 'adam-mini' — ``AdamMini(lr_b)`` with torch semantics: the mean second moment keeps adapting,
  only its lr is searched (Adam-mini on the left-out coordinates).

Principle 1 of [M] (§2.3) has two halves, and the figure shows both: one lr per *dense Hessian
block* loses nothing (leave-one-out at every block), but one lr shared by two *different* Hessian
blocks does (leave-two-out with the two blocks merged under one lr: the flattest and the sharpest
block — the control that must lose, THEORY §2: a single lr cannot serve heterogeneous blocks).

Exactness. On a block-diagonal H the blocks evolve independently under these coordinate- and
block-local updates (THEORY §1: g_l = H_l e_l; m, v and the bias corrections are per
coordinate/block with a shared t), so leave-one-out with lr_A on the other blocks and lr_b on
block b is Adam's per-block gradient norms for l ≠ b (``sims.run(..., per_block=True)``) combined
with a run of the block-b rule on H_b alone from the same w0_b (tested against one AdamMini run
with a custom partition on the whole problem).

Speed. Every lr of a grid runs in one batch: Adam's and Adam-mini's step lr·m̂/(√v̂+ε) is
invariant to scaling the error (up to ε = 1e-8 against √v̂), so row k starts at
w* + c_k·(w0 − w*), c_k = lr_max/lr_k, with lr lr_max, and its gradient norms divided by c_k are
the run at lr_k from w0 (``grid_run``; tested against separate runs).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from hetquad import problems, sims
from hetquad.problems.validation import one_of

NAME = "leave-one-out"
SOURCE = "Zhang et al. 2024, Adam-mini (seed 002), Fig. 6 (§2.1 case study II) and Principle 1 (§2.3)"

PROBLEMS = ("zhang2024-case1", "adam-mini-fig4")
VARIANTS = ("constant", "adam-mini")
STEPS = 300  # horizon N of the tail score; Adam is not yet at round-off here (THEORY §6 table)
LRS = 10.0 ** np.arange(-4.0, 0.0 + 1e-9, 0.25)  # the THEORY §6 grid, for Adam and for every lr_b
MAX_BLOCKS = 4
FIDELITY = {"tiny": dict(seeds=3, variants=("constant",)), "default": dict(seeds=10, variants=VARIANTS),
            "full": dict(seeds=100, variants=VARIANTS)}
REPRODUCES = "Adam-mini Fig. 6 / Principle 1"
CAPTION = """
Quadratic analogue of Adam-mini Fig. 6(d) and of Principle 1. For every block b: the gap
score(Adam) − score(Adam leave-one-out at b), in decades of gradient norm (> 0: the single lr is
better); score = worst log10(‖g_t‖/‖g_0‖) over t ∈ [{tail:g}N, N], N = {N} (the THEORY §6
protocol) [C]. Problems: {problems} [C: [M] uses a 4-layer Transformer]; one instance and one init
w0 = w* + N(0, I) per seed, {seeds} seeds. Adam: torch semantics (β = ({beta1:g}, {beta2:g}),
ε = {adam_eps}), lr tuned per seed on 10^{{{lr_lo:g}…{lr_hi:g}}} in quarter decades. Leave-one-out
at b: Adam at that lr on the other blocks; on block b one grid-searched lr_b (same grid) —
filled markers: second moment frozen at mean(g0_b²) (β2 = 1, i.e. momentum GD with one constant
lr: our reading of [M]'s "single-learning-rate counterpart" [C]){open_markers}. Grey "merged"
column: the flattest and the sharpest block left out *together* under one lr — a partition that
violates Principle 1. [M] applies the cosine schedule of the other blocks and leaves out several
random blocks; we use constant lrs and one block [C]. Top row: the whole problem; bottom row: the
left-out block(s) alone (the whole-problem ‖g‖ is dominated by the sharpest block, so there most
gaps are ≈ 0 — "on par"). Points: seeds; bars: medians. The y axis is symlog: linear inside the
shaded band |gap| < {linthresh:g} decade, logarithmic outside it (merged losses of decades). Right:
‖g_t‖/‖g_0‖ on the median seed of {first}. Measured: one tuned lr per dense block against Adam's
coordinate-wise lrs, single-block gaps in [{single_lo:+.2f}, {single_hi:+.2f}] decades over all
seeds, blocks and rules (Adam itself reaches {adam_score:.1f} decades at N = {N}, median). [M]
finds leave-one-out *better* for most blocks; here, share of (seed, block) pairs with a positive
gap on the block alone (median gap): {better}. One lr across two Hessian blocks loses
{merged_lo:.1f}–{merged_hi:.1f} decades ({merged_every}; Principle 1).
"""
SUMMARY = """
one grid-searched lr for a single dense block: gaps to Adam in [{single_lo:+.2f}, {single_hi:+.2f}]
decades; one lr shared by two blocks loses {merged_lo:.1f}–{merged_hi:.1f}. Block alone, positive
gap: {better}
"""


def sub_problem(p, blocks):
    """The blocks ``blocks`` of ``p`` as one problem (they evolve on their own, module docstring)."""
    return problems.BlockQuadratic(tuple(p.blocks[b] for b in blocks), name=f"{p.name}[blocks {list(blocks)}]")


def coordinates(p, blocks) -> np.ndarray:
    """Indices of the coordinates of ``blocks`` in ``p``, in block order."""
    return np.concatenate([np.arange(*p.offsets[b]) for b in blocks])


def single_lr_spec(variant: str, lr: float, schedule=None):
    """The left-out coordinates' update rule at lr ``lr``: one lr for all of them (module docstring).

    ``schedule`` (a ``sims`` schedule, default constant) multiplies the lr as for the other blocks.
    """
    one_of("variant", variant, VARIANTS)
    extra = {} if schedule is None else {"schedule": schedule}
    if variant == "constant":
        return sims.AdamMini(lr, beta1=0.9, beta2=1.0, eps=1e-8, bias_correction=False, v0="g0sq",
                             partition="single", **extra)
    return sims.AdamMini(lr, partition="single", **extra)


def tail_scores(res, grad_norm: np.ndarray, stop_reason=None) -> np.ndarray:
    """``sims.score(·, 'tail_grad')`` of each row of ``grad_norm`` (n, n_records) on ``res``'s record
    steps, with ``stop_reason`` per row (default ``res.stop_reason``; a diverged row scores +inf)."""
    reasons = res.stop_reason if stop_reason is None else stop_reason
    return np.array([sims.score(dataclasses.replace(res, grad_norm=g[None, :], stop_reason=(r,)), "tail_grad")
                     for g, r in zip(grad_norm, reasons)])


def grid_run(p, make, w0: np.ndarray, *, lrs=LRS, steps: int = STEPS, per_block: bool = False):
    """Every lr of ``lrs`` from ``w0`` in one batched run (module docstring: scale invariance).

    Returns (Result, norms): row k of the Result is the run at lr ``lrs[k]``, scaled by
    c_k = lrs[-1]/lrs[k]; ``norms`` are its gradient norms (n_lrs, steps+1) — per block
    (n_lrs, steps+1, B) with ``per_block`` — divided by c_k, i.e. those of the run from ``w0``.
    """
    c = lrs[-1] / np.asarray(lrs, dtype=float)
    starts = p.w_star + c[:, None] * (np.asarray(w0) - p.w_star)[None, :]
    res = sims.run(p, make(float(lrs[-1])), steps, w0=starts, per_block=per_block)
    norms = res.block_grad_norm / c[:, None, None] if per_block else res.grad_norm / c[:, None]
    return res, norms


def leave_out(p, w0: np.ndarray, adam_blocks: np.ndarray, blocks, variant: str, *, lrs=LRS,
              steps: int = STEPS, schedule=None) -> dict:
    """Adam with ``blocks`` left out under one grid-searched lr, scored on the whole problem and alone.

    ``adam_blocks`` are Adam's per-block gradient norms (steps+1, B) from ``w0``. Returns the best
    whole-problem score, its lr, its whole ‖g_t‖/‖g_0‖, and the best score of the left-out blocks
    alone with its ‖g_t‖/‖g_0‖ there. Ties go to the smaller lr (``np.argmin``), as in ``sims.tune``.
    """
    blocks = tuple(blocks)
    res, own = grid_run(sub_problem(p, blocks), lambda lr: single_lr_spec(variant, lr, schedule),
                        w0[coordinates(p, blocks)], lrs=lrs, steps=steps)
    rest = np.sum(np.delete(adam_blocks, blocks, axis=1) ** 2, axis=1)
    whole = np.sqrt(rest[None, :] + own ** 2)
    s_whole, s_own = tail_scores(res, whole), tail_scores(res, own)
    i, j = int(np.argmin(s_whole)), int(np.argmin(s_own))
    return {"score": s_whole[i], "lr": float(lrs[i]), "curve": whole[i] / whole[i, 0],
            "own_score": s_own[j], "own_curve": own[j] / own[j, 0]}


def tuned_adam(p, w0: np.ndarray, *, lrs=LRS, steps: int = STEPS, schedule=None):
    """Adam (torch semantics; lr times ``schedule``, default constant) tuned on the tail score.

    Returns (lr, score, per-block norms (steps+1, B), a scorer: norms (steps+1,) ↦ tail score of
    those norms as a run of Adam at that lr).
    """
    make = sims.Adam if schedule is None else (lambda lr: sims.Adam(lr, schedule=schedule))
    res, blocks = grid_run(p, make, w0, lrs=lrs, steps=steps, per_block=True)
    scores = tail_scores(res, np.sqrt(np.sum(blocks ** 2, axis=2)))
    k = int(np.argmin(scores))
    reason = (res.stop_reason[k],)
    return float(lrs[k]), float(scores[k]), blocks[k], lambda g: float(tail_scores(res, g[None, :], reason)[0])


def compute(fidelity: str) -> xr.Dataset:
    S, variants = FIDELITY[fidelity]["seeds"], FIDELITY[fidelity]["variants"]
    P, V, B = len(PROBLEMS), len(variants), MAX_BLOCKS
    gap, lr_b, block_gap = (np.full((P, S, V, B), np.nan) for _ in range(3))
    merged_gap, merged_block_gap = np.full((P, S, V), np.nan), np.full((P, S, V), np.nan)
    block_curves = np.full((P, S, 2, B, STEPS + 1), np.nan)  # block b alone: Adam, leave-one-out (constant)
    adam_lr, adam_score = np.empty((P, S)), np.empty((P, S))
    curves = np.full((P, S, 2 + B, STEPS + 1), np.nan)  # Adam, leave-one-out (constant) per block, merged
    n_blocks = np.empty(P, dtype=int)
    for i, name in enumerate(PROBLEMS):
        for s in range(S):
            p = problems.get(name, seed=s)
            nb = n_blocks[i] = len(p.sizes)
            w0 = sims.initial_points(p, 1, s)[0]
            adam_lr[i, s], adam_score[i, s], ab, adam_alone = tuned_adam(p, w0)
            curves[i, s, 0] = np.sqrt(np.sum(ab ** 2, axis=1)) / np.sqrt(np.sum(ab[0] ** 2))
            merged = (0, nb - 1)  # flattest and sharpest block (catalog order) under one lr
            for v, variant in enumerate(variants):
                for b in range(nb):
                    out = leave_out(p, w0, ab, (b,), variant)
                    gap[i, s, v, b], lr_b[i, s, v, b] = adam_score[i, s] - out["score"], out["lr"]
                    block_gap[i, s, v, b] = adam_alone(ab[:, b]) - out["own_score"]
                    if variant == "constant":
                        curves[i, s, 1 + b] = out["curve"]
                        block_curves[i, s, :, b] = ab[:, b] / ab[0, b], out["own_curve"]
                out = leave_out(p, w0, ab, merged, variant)
                merged_gap[i, s, v] = adam_score[i, s] - out["score"]
                merged_block_gap[i, s, v] = adam_alone(np.sqrt(np.sum(ab[:, merged] ** 2, axis=1))) - out["own_score"]
                if variant == "constant":
                    curves[i, s, 1 + B] = out["curve"]
    dims = ("problem", "seed", "variant", "block")
    return xr.Dataset(
        {"gap": (dims, gap), "lr_b": (dims, lr_b), "block_gap": (dims, block_gap),
         "merged_gap": (dims[:3], merged_gap), "merged_block_gap": (dims[:3], merged_block_gap),
         "adam_lr": (("problem", "seed"), adam_lr), "adam_score": (("problem", "seed"), adam_score),
         "grad_ratio": (("problem", "seed", "curve", "iteration"), curves),
         "block_grad_ratio": (("problem", "seed", "rule", "block", "iteration"), block_curves),
         "n_blocks": (("problem",), n_blocks)},
        coords={"problem": list(PROBLEMS), "seed": np.arange(S), "variant": list(variants),
                "block": np.arange(B), "rule": ["adam", "leave-one-out"],  # not "method": it clashes with .sel(method=)
                "curve": ["adam"] + [f"loo-{b}" for b in range(B)] + ["merged"],
                "iteration": np.arange(STEPS + 1)},
        attrs={"steps": STEPS, "tail": 0.9, "lrs": [LRS[0], LRS[-1]], "beta1": 0.9, "beta2": 0.999,
               "adam_eps": 1e-8},  # THEORY §6 tail; sims.Adam's defaults, used by grid_run
    )


LINTHRESH = 0.3  # symlog: linear within ±0.3 decades (on-par gaps), log beyond (merged losses)


def facts(data: xr.Dataset) -> dict:
    from . import style

    single = []
    for name in data.problem.values:
        nb = int(data.n_blocks.sel(problem=name))
        for var in ("gap", "block_gap"):
            single.append(data[var].sel(problem=name).isel(block=slice(0, nb)).values.ravel())
    single = np.concatenate(single)
    better = []
    for v in data.variant.values:
        for name in data.problem.values:
            nb = int(data.n_blocks.sel(problem=name))
            g = data.block_gap.sel(problem=name, variant=v).isel(block=slice(0, nb)).values
            better.append(f"{'frozen-step' if v == 'constant' else 'adaptive Adam-mini'} rule on {name} "
                          f"{100 * np.mean(g > 0):.0f} % ({np.median(g):+.2f})")
    merged = np.concatenate([data.merged_gap.values.ravel(), data.merged_block_gap.values.ravel()])
    every = "on every seed" if np.all(merged < 0) else f"negative on {np.mean(merged < 0):.0%} of seeds"
    S = data.sizes["seed"]
    return {"tail": data.attrs["tail"], "N": int(data.attrs["steps"]), "seeds": S,
            "problems": " and ".join(f"{n} ({int(data.n_blocks.sel(problem=n))} blocks)" for n in data.problem.values),
            "beta1": data.attrs["beta1"], "beta2": data.attrs["beta2"], "adam_eps": style.num(data.attrs["adam_eps"]),
            "lr_lo": np.log10(data.attrs["lrs"][0]), "lr_hi": np.log10(data.attrs["lrs"][1]),
            "open_markers": ("; open markers: Adam-mini's adaptive mean second moment"
                             if "adam-mini" in data.variant.values else ""),
            "linthresh": LINTHRESH, "first": str(data.problem.values[0]),
            "single_lo": float(single.min()), "single_hi": float(single.max()),
            "adam_score": float(data.adam_score.median()), "better": "; ".join(better),
            "merged_lo": float(-merged.max()), "merged_hi": float(-merged.min()), "merged_every": every}


SHADES = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")
MERGED = "#555555"
TICKS = (-3, -1, -0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3)


def _strip(ax, x0, g, v, color):
    x = x0 + (v - 0.5) * 0.3 + np.linspace(-0.05, 0.05, g.size)
    ax.scatter(x, g, s=14, edgecolors=color, facecolors=color if v == 0 else "none", linewidths=0.8)
    ax.hlines(np.median(g), x.min() - 0.06, x.max() + 0.06, color="k", linewidth=1.4)


def _gap_panel(ax, data, var: str, name: str, title: str):
    nb = int(data.n_blocks.sel(problem=name))
    for v, variant in enumerate(data.variant.values):
        for b in range(nb):
            _strip(ax, b, data[var].sel(problem=name, variant=variant, block=b).values, v, SHADES[b])
        _strip(ax, nb, data[f"merged_{var}"].sel(problem=name, variant=variant).values, v, MERGED)
    ax.axhline(0, color="k", linewidth=0.7, linestyle=":")
    ax.set_xticks(range(nb + 1), [f"block {b + 1}" for b in range(nb)] + [f"1+{nb}\nmerged"])
    worst = float(data[var].sel(problem=name).min())
    merged = float(data[f"merged_{var}"].sel(problem=name).median())
    ax.set_title(f"{title}\n{name}: min single {worst:+.2f}, merged median {merged:+.1f}", fontsize=8)


def plot(data: xr.Dataset):
    from . import style

    P = data.sizes["problem"]
    fig, axes = style.figure(P + 1, 2, width=3.6, height=3.1)
    for i, name in enumerate(data.problem.values):
        _gap_panel(axes[0, i], data, "gap", str(name), f"({'ab'[i]}) whole problem (Fig. 6(d) analogue)")
        _gap_panel(axes[1, i], data, "block_gap", str(name), f"({'de'[i]}) block(s) alone")
        axes[0, i].set_ylabel("score(Adam) − score(LOO) [decades]\nsymlog, linear in shaded band")
        axes[1, i].set_ylabel("same, on the left-out\nblock(s) alone [decades]")
        for ax in axes[:, i]:
            # linear within ±0.3 (on-par gaps), log beyond (merged losses of decades)
            ax.set_yscale("symlog", linthresh=LINTHRESH, linscale=1.0)
            ax.axhspan(-LINTHRESH, LINTHRESH, color="#7f7f7f", alpha=0.1, linewidth=0, zorder=0)
            ax.set_yticks(TICKS, [f"{t:g}" for t in TICKS])
            ax.minorticks_off()
            ax.set_ylim(bottom=-4.5)
    name = data.problem.values[0]
    sub = data.sel(problem=name)
    s = int(np.argsort(sub.gap.sel(variant="constant").mean("block").values)[sub.sizes["seed"] // 2])
    x = data.iteration.values
    nb = int(data.n_blocks.sel(problem=name))
    ax = axes[0, P]
    g = sub.grad_ratio.isel(seed=s)
    ax.plot(x, np.log10(g.sel(curve="adam")), color=style.color("adam"), label="Adam", linewidth=2.2)
    for b in range(nb):
        ax.plot(x, np.log10(g.sel(curve=f"loo-{b}")), color=SHADES[b], linewidth=1.0, linestyle="--",
                label=f"LOO block {b + 1}")
    ax.plot(x, np.log10(g.sel(curve="merged")), color=MERGED, linewidth=1.0, linestyle="-.",
            label=f"blocks 1+{nb} merged")
    ax.set_title(f"(c) {name}, seed {s}: whole ‖g_t‖/‖g_0‖", fontsize=8)
    ax.legend(fontsize=6.5)
    ax = axes[1, P]
    for b in range(nb):
        bg = sub.block_grad_ratio.isel(seed=s).sel(block=b)
        ax.plot(x, np.log10(bg.sel(rule="adam")), color=SHADES[b], linewidth=1.4, label=f"block {b + 1}: Adam")
        ax.plot(x, np.log10(bg.sel(rule="leave-one-out")), color=SHADES[b], linewidth=1.0, linestyle="--",
                label=f"block {b + 1}: single lr")
    ax.set_title(f"(f) {name}, seed {s}: ‖g_b,t‖/‖g_b,0‖ per block", fontsize=8)
    ax.legend(fontsize=5.5, ncol=2)
    for ax in axes[:, P]:
        ax.set_xlabel("iteration t")
        ax.set_ylabel("log10 ratio")
    fig.tight_layout()
    return fig
