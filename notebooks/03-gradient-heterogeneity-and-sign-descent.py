# %% [markdown]
# # 3 · Gradient heterogeneity and sign descent
#
# Notebooks 1–2 looked at the *Hessian*. Tomihari & Sato (2025) look at the *gradient*: when a
# Transformer is fine-tuned, a few blocks carry most of the gradient norm. They call this
# **gradient heterogeneity**, measure it with a Gini coefficient, and show that it enters GD's
# complexity bound through a gradient-weighted smoothness L_G, while sign-based methods (SignSGD,
# and Adam, which behaves like a smoothed sign method) only see the size-weighted L_P.
#
# Here: block gradient norms and their Gini, L_G versus L_P, the two iteration bounds, a
# GD/SignSGD/Adam race as heterogeneity grows, and a side effect of *sample-wise* sign descent on
# a linear classification head (THEORY §8).

# %%
import matplotlib.pyplot as plt
import numpy as np

from hetquad import problems, sims, theory
from hetquad.theory import suite

ENGINE = "numpy"  # the reference engine: fastest for problems this small, nothing to compile

# %% [markdown]
# ## A problem with blocks of different scales
#
# The catalog entry `tomihari-blocks` has 4 blocks of 10 coordinates; block l has eigenvalues in
# [s_l, 10 s_l] with s_l = 1, 10, 100, 1000.

# %%
p = problems.get("tomihari-blocks", seed=0)
block_L = [float(np.linalg.eigvalsh(h)[-1]) for h in p.blocks]
print("sizes:", p.sizes, " ‖H_l‖:", np.round(block_L, 1), " κ:", round(p.kappa))

# %% [markdown]
# ## Gradient heterogeneity and its Gini
#
# `problems.initial_point(p, gini=G, placement=...)` returns a w0 whose per-coordinate block
# gradient norms x_l = ‖g_l‖/√d_l follow a geometric profile with Gini exactly G (0 = all equal,
# (B−1)/B = 0.75 = all in one block). `placement="sharpest"` puts the largest gradients on the
# sharpest blocks — the correlation Tomihari & Sato observe in practice.

# %%
GINIS = (0.0, 0.25, 0.5, 0.7)
w0s = {G: problems.initial_point(p, gini=G, placement="sharpest", seed=0) for G in GINIS}
fig, axes = plt.subplots(1, len(GINIS), figsize=(12, 2.8), sharey=True)
for ax, (G, w0) in zip(axes, w0s.items()):
    gh = problems.gradient_heterogeneity(p, w0)
    ax.bar(range(len(p.sizes)), gh.x / gh.x.sum())
    ax.set_title(f"Gini = {gh.gini:.2f}")
    ax.set_xlabel("block (flat → sharp)")
axes[0].set_ylabel("share of x_l = ‖g_l‖/√d_l")
fig.tight_layout()

# %% [markdown]
# ## L_G versus L_P
#
# L_G(w) = Σ_l (‖g_l‖²/‖g‖²)·‖H_l‖ weighs each block's curvature by its share of the squared
# gradient; L_P = Σ_l (d_l/d)·‖H_l‖ weighs it by its share of the parameters (THEORY §8.2).
# L_P never changes; L_G moves with the gradient.

# %%
grid = np.linspace(0.0, 0.74, 30)
fig, ax = plt.subplots(figsize=(6, 3.5))
for placement in ("sharpest", "random"):
    lg = [problems.l_g(p, problems.initial_point(p, gini=G, placement=placement, seed=0)) for G in grid]
    ax.plot(grid, lg, label=f"L_G(w0), placement={placement!r}")
ax.axhline(problems.l_p(p), color="k", ls="--", label="L_P")
ax.axhline(max(block_L), color="gray", ls=":", label="max ‖H_l‖")
ax.set_yscale("log")
ax.set_xlabel("Gini of the block gradient norms at w0")
ax.set_ylabel("smoothness constant")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# When large gradients sit on sharp blocks, L_G climbs toward max ‖H_l‖, far above L_P. Both
# bounds of THEORY §8.3 have the shape 2ΔL/ε², with L = L_G for GD (ℓ2 stationarity,
# η_t = α/L_G(w_t)) and L = L_P for sign descent (ℓ1/√d stationarity, η = αε/(√d L_P)).
# `theory.tomihari_bounds` computes both; `theory.check` compares them with runs.
#
# Checking a sign-descent bound needs ‖g‖₁ at every step, so we run on
# `theory.suite.coordinate_view(p)` — the same Hessian seen as d one-coordinate blocks — with
# `per_block=True`. GD with the adaptive step is `sims.run_adaptive_gd`.

# %%
G = 0.5
w0 = w0s[G]
g0 = p.grad(w0)
eps_gd = 0.05 * np.linalg.norm(g0)                        # target ‖g‖₂ ≤ 5 % of the start
eps_sign = 0.05 * np.abs(g0).sum() / np.sqrt(p.d)         # target ‖g‖₁/√d ≤ 5 % of the start
b_gd = theory.tomihari_bounds(p, w0, eps_gd).gd
b_sign = theory.tomihari_bounds(p, w0, eps_sign).sign

run_gd = sims.run_adaptive_gd(p, w0, alpha=1.0, delta=p.delta, eps=eps_gd, steps=2000)
run_sign = sims.run(suite.coordinate_view(p), sims.SignSGD(lr=b_sign.lr), 800, w0=w0, per_block=True, engine=ENGINE)
for label, res, b in (("GD, η_t = 1/L_G", run_gd, b_gd), ("SignSGD", run_sign, b_sign)):
    part = theory.check(res, b).parts[0]
    measured = np.nanmax(part.measured)
    print(f"{label:>16}: measured T_ε = {measured:5.0f}, bound = {np.nanmax(part.bounded):8.0f}, "
          f"holds = {bool(np.all(part.holds))}, slack = {np.nanmin(part.run_slack):.1f}")

# %% [markdown]
# Both bounds hold, with a lot of room: they are worst-case statements for non-convex losses,
# while GD on a strongly convex quadratic converges linearly (THEORY §8.3 reports slacks of
# ~70 for GD and ~10 for sign descent). Read them for their *dependence* on L_G and L_P, not
# their size.
#
# ## GD vs SignSGD vs Adam as heterogeneity grows
#
# A fair race: for each optimizer and each Gini we take the best lr from a grid (the four initial
# points run as one batch per lr), and score the worst log10 ‖g_t‖/‖g_0‖ over the last 10 % of a
# 300-step run.

# %%
STEPS = 300
W0 = np.stack([w0s[G] for G in GINIS])
candidates = {
    "GD": (sims.GD, np.logspace(-4.5, -3.6, 6)),     # GD diverges above 2/L = 2e-4
    "SignSGD": (sims.SignSGD, np.logspace(-6.5, -2.5, 9)),
    "Adam": (sims.Adam, np.logspace(-3.5, 0, 8)),
}


def tail_score(res):
    """Worst log10 ‖g_t‖/‖g_0‖ over the last 10 % of the records, per run (lower is better)."""
    rel = np.log10(res.grad_norm / res.grad_norm[:, :1])
    tail = rel[:, int(0.9 * rel.shape[1]):]
    return np.where(np.isfinite(tail).all(axis=1), tail.max(axis=1), np.inf)


best = {}
for name, (make, lrs) in candidates.items():
    scores = np.array([tail_score(sims.run(p, make(lr=lr), STEPS, w0=W0, engine=ENGINE)) for lr in lrs])
    best[name] = scores.min(axis=0)
    print(f"{name:>8}: best lr per Gini = {np.round(lrs[scores.argmin(axis=0)], 6)}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, score in best.items():
    ax.plot(GINIS, score, "o-", label=name)
ax.set_xlabel("Gini of the block gradient norms at w0 (placement='sharpest')")
ax.set_ylabel("tail log10 ‖g‖/‖g0‖ (lower = better)")
ax.legend()
fig.tight_layout()
for name, score in best.items():
    print(f"{name:>8}:", "  ".join(f"G={G}: {s:6.2f}" for G, s in zip(GINIS, score)))

# %% [markdown]
# Read the plot with the bounds in mind — and honestly. Adam wins by several decades at every Gini:
# its per-coordinate scaling removes the scale differences between the blocks (notebook 1).
# Plain SignSGD with a constant lr does *not* beat GD here: it stalls at a plateau of size ~lr
# (THEORY §9.1), so it needs a small lr and then moves slowly. And GD's progress *improves* with
# the Gini: with `placement="sharpest"` a larger Gini puts more of the error on the sharp blocks,
# which GD at η ≈ 1/L clears fastest. The bound's L_G grows with the Gini, but the loss gap Δ in
# the same bound shrinks faster. An upper bound orders worst cases, not every run: on a strongly
# convex quadratic the L_G-vs-L_P argument shows up in the bounds, not in this race.
#
# ## The linear-head bias of sample-wise SignSGD
#
# Tomihari & Sato's Prop. 4.10: train only a softmax linear head (features frozen) with SignSGD,
# batch size 1. For a sample of class y the error p − y is negative on class y and positive on all
# others, *whatever the weights*, so every step moves the biases by ±η in a direction fixed by the
# label alone. Over one epoch Δb_c = η(2N_c − N): with C balanced classes every bias drifts by
# ηN(1 − 2/C) per epoch, forever. `theory.linear_head_sign_update` predicts the whole update.

# %%
head = problems.linear_head(n_samples=100, n_classes=20, n_features=10, seed=0)
C, LR, EPOCHS = 20, 0.01, 5
w0 = np.zeros(head.d)
pred = theory.linear_head_sign_update(head, LR, w0, epochs=EPOCHS)
sample_wise = sims.MiniBatch(size=1, order="cyclic")


def bias_norm(w):
    """‖b‖/√C: the biases are the last C entries of w."""
    return float(np.linalg.norm(w[-C:]) / np.sqrt(C))


res_sign = sims.run(head, sims.SignSGD(lr=LR), pred.steps, w0=w0, noise=sample_wise, engine=ENGINE)
res_signum = sims.run(head, sims.Signum(lr=LR, momentum=0.9), pred.steps, w0=w0, noise=sample_wise, engine=ENGINE)
res_full = sims.run(head, sims.SignSGD(lr=LR), EPOCHS, w0=w0, engine=ENGINE)  # one full-batch step per epoch
print("prediction matches the run:", theory.check(res_sign, pred).all_hold)

results = {"SignSGD, batch 1": bias_norm(res_sign.w_final[0]),
           "Signum μ=0.9, batch 1": bias_norm(res_signum.w_final[0]),
           "SignSGD, full batch": bias_norm(res_full.w_final[0])}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
epochs = np.arange(1, EPOCHS + 1)
axes[0].plot(epochs, [theory.linear_head_sign_update(head, LR, w0, epochs=int(k)).bias_norm for k in epochs], "o-")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("‖b‖/√C (predicted)")
axes[0].set_title("sample-wise SignSGD: linear drift")
axes[1].bar(range(3), list(results.values()))
axes[1].set_xticks(range(3), list(results.keys()), fontsize=8)
axes[1].set_yscale("log")
axes[1].set_title(f"‖b‖/√C after {EPOCHS} epochs")
fig.tight_layout()
for k, v in results.items():
    print(f"{k:>22}: ‖b‖/√C = {v:.3f}")

# %% [markdown]
# The bias grows linearly with the epochs under sample-wise SignSGD, exactly as predicted; full
# batch steps follow the predictions' signs and stay small. Momentum helps only partly: its
# horizon 1/(1 − μ) = 10 steps is shorter than the number of classes (THEORY §8.5).
#
# ## Exercises
#
# 1. Repeat the L_G plot with `placement="random"` only and several seeds. Can L_G fall *below*
#    L_P? When?
# 2. Vary the momentum of Signum on the linear head (0.9, 0.99). How does ‖b‖/√C change? Relate it
#    to 1/(1 − μ) and C.
# 3. For balanced *binary* classification (C = 2), what does Prop. 4.10 predict for the bias
#    drift? Check with `theory.linear_head_sign_update`.

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution 1: yes — if the large gradients land on flat blocks, L_G weighs the small ‖H_l‖ most.
for seed in range(4):
    lg = [problems.l_g(p, problems.initial_point(p, gini=G, placement="random", seed=seed)) for G in (0.3, 0.7)]
    print(f"seed {seed}: L_G at Gini 0.3 / 0.7 = {lg[0]:7.1f} / {lg[1]:7.1f}   (L_P = {problems.l_p(p):.1f})")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution 2: momentum averages several samples' (label-fixed) signs before the sign is taken.
# Over only 5 epochs μ = 0.99 drifts *more* than μ = 0.9 here: its 100-step buffer is still warming
# up and carries the first samples' signs a long way. Over 20 epochs (2000 steps) the order turns:
# we measured ‖b‖/√C = 18.0 (SignSGD), 5.2 (μ = 0.9), 4.2 (μ = 0.99); THEORY §8.5 reports the same
# trend for C = 50. Set EPOCHS = 20 and re-run to see it (slower).
for mom in (0.9, 0.99):
    r = sims.run(head, sims.Signum(lr=LR, momentum=mom), pred.steps, w0=w0, noise=sample_wise, engine=ENGINE)
    print(f"μ = {mom}: 1/(1−μ) = {1 / (1 - mom):5.0f}, C = {C}, ‖b‖/√C = {bias_norm(r.w_final[0]):.3f}")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution 3: Δb_c = η(2N_c − N) = 0 when N_c = N/2: no drift for balanced binary problems.
binary = problems.linear_head(n_samples=100, n_classes=2, n_features=10, seed=0)
print("Δb per epoch:", theory.linear_head_sign_update(binary, LR, np.zeros(binary.d)).delta_b)
