"""Momentum and lr schedules on a heterogeneous and a homogeneous quadratic (Tomihari & Sato Fig. 4's
comparisons, quadratic counterpart).

Tomihari & Sato (seed 001, §5, Fig. 4) compare SGD and sign methods with and without momentum,
RMSProp and Adam, under several lr schedules, on Transformer fine-tuning. Here: seven methods — GD,
heavy ball (SGD momentum 0.9), Nesterov, SignSGD, Signum (0.9), RMSProp, Adam — × four schedules —
constant, cosine to 0, linear decay to 0, warm-up (10 % of the budget) + cosine — on Zhang et al.'s
heterogeneous Case 1 and homogeneous Case 2. Every (method, schedule, problem) has its lr tuned by the
same protocol (``sims.tune_interior``: a log2 grid widened until the best lr is interior, minimising the
median final log10 ℓ_T/ℓ_0 over the inits), with the same step budget.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from hetquad import problems, sims

NAME = "momentum-schedules"
SOURCE = "Tomihari & Sato 2025 (seed 001) §5, Fig. 4: momentum on/off, RMSProp, lr schedules"
REPRODUCES = "Tomihari & Sato Fig. 4 (momentum, schedules)"
PROBLEMS = ("zhang2024-case1", "zhang2024-case2")
METHODS = ("gd", "heavy-ball", "nesterov", "signsgd", "signum", "rmsprop", "adam")
SCHEDULES = ("constant", "cosine", "linear", "warmup-cosine")
MOMENTUM = 0.9
ALPHA, BETAS, EPS = 0.99, (0.9, 0.999), 1e-8  # RMSProp's α, Adam's β (torch defaults); ε of both
WARMUP = 0.1  # fraction of the budget
LR_GRID = 2.0 ** np.arange(-14, 3, 2)
FIDELITY = {"tiny": dict(steps=60, inits=2), "default": dict(steps=1000, inits=8),
            "full": dict(steps=5000, inits=32)}
CAPTION = """
Quadratic counterpart of Tomihari & Sato's Fig. 4 comparisons: {methods} × {schedules} on Zhang et al.'s
Case 1 (heterogeneous blocks) and Case 2 (homogeneous), {steps} steps, {inits} inits w0 ~ w* + N(0, I)
per problem [C: the seed fine-tunes Transformers; problem, budget and grid are ours]. Momentum
{momentum} for heavy ball, Nesterov (torch.optim.SGD semantics) and Signum; RMSProp α = {alpha} and Adam
β = {betas}, both with ε = {eps:g}. Schedules: constant, cosine to 0, linear decay to 0, and a warm-up over
{warmup:.0%} of the budget followed by cosine. Every cell has its own lr tuned on a log2 grid widened
until interior, minimising the median final log10 ℓ_T/ℓ_0 (the same protocol everywhere). Shown: that
median at the tuned lr. Best cell: {best1} on Case 1 ({best1_v:.1f}), {best2} on Case 2
({best2_v:.1f}). Differences below are Δ median log10 ℓ_T/ℓ_0 (negative: the first is lower). Case 1,
constant lr: heavy ball − GD {hb_gain1:+.1f}, Signum − SignSGD {sm_gain1:+.1f}. Largest gain of a
decaying schedule over the constant lr on Case 1 (best decaying schedule − constant): {most1} ({most1_v:+.1f});
for SignSGD {sign_sched1:+.1f}, whose constant-lr plateau (THEORY §9.2) a decay removes. Adam − heavy ball
(best schedule each): {adam_vs_hb1:+.1f} on Case 1, {adam_vs_hb2:+.1f} on Case 2.
"""
SUMMARY = """
{n_methods} methods × {n_schedules} schedules, each tuned: best {best1} on the heterogeneous Case 1, {best2} on the
homogeneous Case 2; heavy ball − GD {hb_gain1:+.1f} decades on Case 1
"""


def schedule(name: str, steps: int):
    """The schedule spec of ``name`` for a budget of ``steps`` updates."""
    if name == "constant":
        return sims.Constant()
    if name == "cosine":
        return sims.schedules.Cosine(total=steps, final=0.0)
    if name == "linear":
        return sims.schedules.Linear(total=steps, final=0.0)
    warm = max(1, int(round(WARMUP * steps)))
    return sims.schedules.Warmup(steps=warm, then=sims.schedules.Cosine(total=steps - warm, final=0.0))


def maker(method: str, sched):
    """lr → the spec of ``method`` with schedule ``sched``."""
    specs = {"gd": lambda lr: sims.GD(lr=lr, schedule=sched),
             "heavy-ball": lambda lr: sims.SGD(lr=lr, momentum=MOMENTUM, schedule=sched),
             "nesterov": lambda lr: sims.SGD(lr=lr, momentum=MOMENTUM, nesterov=True, schedule=sched),
             "signsgd": lambda lr: sims.SignSGD(lr=lr, schedule=sched),
             "signum": lambda lr: sims.Signum(lr=lr, momentum=MOMENTUM, schedule=sched),
             "rmsprop": lambda lr: sims.RMSProp(lr=lr, beta2=ALPHA, eps=EPS, schedule=sched),
             "adam": lambda lr: sims.Adam(lr=lr, beta1=BETAS[0], beta2=BETAS[1], eps=EPS, schedule=sched)}
    return specs[method]


def compute(fidelity: str) -> xr.Dataset:
    cfg = FIDELITY[fidelity]
    T, n = cfg["steps"], cfg["inits"]
    score = np.empty((len(PROBLEMS), len(METHODS), len(SCHEDULES)))
    best_lr = np.empty_like(score)
    for i, name in enumerate(PROBLEMS):
        p = problems.get(name, seed=0)
        for j, m in enumerate(METHODS):
            for k, sname in enumerate(SCHEDULES):
                r = sims.tune_interior(p, maker(m, schedule(sname, T)), LR_GRID, T, metric="final_loss",
                                       batch=n, seed=0, widen=2, max_rounds=10)
                score[i, j, k], best_lr[i, j, k] = r.best_score, r.best_lr
    return xr.Dataset({"score": (("problem", "optimizer", "schedule"), score),
                       "lr": (("problem", "optimizer", "schedule"), best_lr)},
                      coords={"problem": list(PROBLEMS), "optimizer": list(METHODS), "schedule": list(SCHEDULES)},
                      attrs={"steps": T, "inits": n})


def _cell(data, problem, method, sched) -> float:
    return float(data.score.sel(problem=problem, optimizer=method, schedule=sched))


def facts(data: xr.Dataset) -> dict:
    out = {"methods": ", ".join(METHODS), "schedules": ", ".join(SCHEDULES), "steps": int(data.attrs["steps"]),
           "inits": int(data.attrs["inits"]), "momentum": MOMENTUM, "warmup": WARMUP, "alpha": ALPHA,
           "betas": BETAS, "eps": EPS}
    for key, prob in (("1", PROBLEMS[0]), ("2", PROBLEMS[1])):
        s = data.score.sel(problem=prob)
        j, k = np.unravel_index(int(np.argmin(s.values)), s.shape)
        out[f"best{key}"] = f"{METHODS[j]} + {SCHEDULES[k]}"
        out[f"best{key}_v"] = float(s.values[j, k])
        best_of = s.min("schedule")
        out[f"adam_vs_hb{key}"] = float(best_of.sel(optimizer="adam") - best_of.sel(optimizer="heavy-ball"))
    c1 = PROBLEMS[0]
    out["hb_gain1"] = _cell(data, c1, "heavy-ball", "constant") - _cell(data, c1, "gd", "constant")
    out["sm_gain1"] = _cell(data, c1, "signum", "constant") - _cell(data, c1, "signsgd", "constant")
    s1 = data.score.sel(problem=c1)
    gain = s1.sel(schedule=[x for x in SCHEDULES if x != "constant"]).min("schedule") - s1.sel(schedule="constant")
    j = int(np.argmin(gain.values))
    out["most1"], out["most1_v"] = METHODS[j], float(gain.values[j])
    out["sign_sched1"] = float(gain.sel(optimizer="signsgd"))
    out["n_methods"], out["n_schedules"] = len(METHODS), len(SCHEDULES)
    return out


def plot(data: xr.Dataset):
    from . import style

    fig, axes = style.figure(2, 1, width=4.6, height=3.6)
    vmin, vmax = float(data.score.min()), float(data.score.max())
    for a, prob in enumerate(PROBLEMS):
        ax = axes[0, a]
        s = data.score.sel(problem=prob).values
        im = ax.imshow(s, cmap="viridis_r", vmin=vmin, vmax=vmax, aspect="auto")
        for j in range(s.shape[0]):
            for k in range(s.shape[1]):
                ax.text(k, j, f"{s[j, k]:.1f}", ha="center", va="center", fontsize=7,
                        color="w" if s[j, k] > (vmin + vmax) / 2 else "k")
        ax.set_xticks(range(len(SCHEDULES)), SCHEDULES, rotation=20, fontsize=7)
        ax.set_yticks(range(len(METHODS)), METHODS, fontsize=7)
        ax.set_title(f"({'ab'[a]}) {prob}: median log10 ℓ_T/ℓ_0, tuned lr", fontsize=9)
        ax.grid(False)
    fig.colorbar(im, ax=axes[0, :].tolist(), label="median log10 ℓ_T/ℓ_0 (lower is better)")
    return fig
