# %% [markdown]
# # 2 · τ and the Adam preconditioner: when does a diagonal help?
#
# Notebook 1 ended with Adam's theorem variant: GD preconditioned by a fixed diagonal matrix. A
# diagonal rescaling can only fix what is *aligned with the coordinate axes*. Adam-mini's authors
# (Zhang et al. 2024, *Adam-mini: Use Fewer Learning Rates To Gain More*, §2.1 and App. E.2) make
# this precise on one dense block and draw a design rule from it. This notebook follows their
# argument step by step.
#
# **Symbols** (one notation for the project, table in [`docs/theory.md`](../docs/theory.md)). As in
# notebook 1: ℓ(w) = ½ (w − w\*)ᵀ H (w − w\*), gradient g = H(w − w\*), g_0 the gradient at the
# starting point w_0, κ(·) a condition number, κ_l that of block H_l, d the dimension of a block
# or problem, and diag(v) the diagonal matrix with the entries of v.
#
# * **τ(H)**, the diagonal share ([M] Eq. (3), THEORY §5b): τ = Σ_i |H_ii| / Σ_{i,j} |H_ij|, the
#   denominator summing all entries. τ ∈ (0, 1], and τ = 1 exactly when H is diagonal.
# * **D_Adam** = diag(1/|g|) for the gradient g = H x at a random point x with x_i ~ N(0, 1/√d)
#   ([M] Eq. (3)): the scaling Adam applies when β1 = 0 and its second moment is g ⊙ g.
# * **r** = κ(D_Adam H) / κ(H), Adam-mini's ratio ([M] Eq. (3)): r < 1 means the diagonal scaling
#   *improves* the conditioning, r > 1 that it makes it worse. D_Adam H is not symmetric; its κ here
#   is the ratio of its extreme eigenvalues, which are real and positive because D_Adam H has the
#   eigenvalues of the symmetric D_Adam^{1/2} H D_Adam^{1/2} (our choice, THEORY §5b: the paper
#   does not say which κ it means).
# * **D** = diag(|g_0|), **P** = D^{−1/2} H D^{−1/2}, and the **block excess ψ** = κ(P)/max_l κ_l
#   of the Adam theorem variant (notebook 1, THEORY §4). ψ is the project's own quantity; r is the
#   paper's. Both appear below, side by side, because they answer different questions.

# %%
import matplotlib.pyplot as plt
import numpy as np

from hetquad import problems, sims, theory

ENGINE = "numpy"  # the reference engine: fastest for problems this small, nothing to compile

# %% [markdown]
# ## Rotating a block
#
# `problems.givens_block(d, kappa=κ, R=R)` builds H = QΛQᵀ with Λ = diag(κ, 1, …, 1) and Q a
# product of plane (Givens) rotations with angles R·θ, θ ~ U[−π/2, π/2] ([M] App. E.2). R = 0
# leaves H diagonal; larger R spreads the mass off the diagonal. The eigenvalues never change, so
# κ(H) = κ for every R: only τ moves.

# %%
DIM, KAPPA = 10, 500.0
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, R in zip(axes, (0.0, 0.1, 0.3, 1.0)):
    H = problems.givens_block(DIM, kappa=KAPPA, R=R, seed=0)
    ax.imshow(np.log10(np.abs(H) + 1e-3), vmin=-3, vmax=np.log10(KAPPA), cmap="viridis")
    ax.set_title(f"R = {R}: τ = {problems.tau(H):.2f}, κ = {np.linalg.cond(H):.0f}")
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("log10 |H_ij|")
fig.tight_layout()

# %% [markdown]
# ## τ versus r ([M] Fig. 5)
#
# For each R we draw 20 blocks and one point x per block. The scale of x does not matter (scaling
# x scales D_Adam, and κ ignores a common factor), so we draw x ~ N(0, I). r has a heavy tail: for a
# diagonal H, r = (max_i |x_i| / min_i |x_i|)/κ, and 1/min_i |x_i| has an infinite mean. So we
# report medians.

# %%
rng = np.random.default_rng(0)
R_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
taus, rs = {}, {}
for R in R_GRID:
    blocks = [problems.givens_block(DIM, kappa=KAPPA, R=R, seed=s) for s in range(20)]
    taus[R] = np.array([problems.tau(H) for H in blocks])
    rs[R] = np.array([problems.r_adam(H, rng.standard_normal(DIM)) for H in blocks])
    print(f"R = {R:4}: mean τ = {taus[R].mean():.3f}, median r = {np.median(rs[R]):.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for R in R_GRID:
    ax.scatter(taus[R], rs[R], s=14, label=f"R = {R}")
ax.axhline(1.0, color="k", ls="--", lw=1)
ax.set_yscale("log")
ax.set_xlabel("τ (diagonal share)")
ax.set_ylabel("r = κ(D_Adam H) / κ(H)")
ax.legend(fontsize=7, ncol=2)
fig.tight_layout()
assert np.median(rs[0.0]) < 0.1 < 1 < np.median(rs[1.0])  # the claim of the next cell, checked

# %% [markdown]
# Near τ = 1 (an almost diagonal block), r ≪ 1: dividing by |Hx| undoes most of the bad
# conditioning. Once the block is dense, r > 1: the diagonal rescaling makes the conditioning
# *worse* — [M]'s finding (§2.1, Fig. 5). τ is not monotone in R (compare the mean τ printed for
# R = 0.3 and R = 1), so plot against τ, not R; `problems.target_tau_block` builds a block with an
# exact τ (exercise 1).
#
# ## Helps or hurts: run it
#
# The Adam *theorem variant* (β1 = 0, β2 = 1, v_0 = g_0 ⊙ g_0, ε_Adam = 0, no bias correction;
# THEORY §4) is exactly GD on P = D^{−1/2} H D^{−1/2}. We compare it with GD on a nearly diagonal
# block and on a dense one with the same spectrum. Both run at the step that is optimal for their
# own iteration, 2/(λmax + λmin) of H for GD and of P for the variant: the same protocol for both,
# computed in closed form instead of tuned.

# %%
eigs = [KAPPA] + [1.0] * (DIM - 1)
w0 = np.random.default_rng(1).standard_normal(DIM)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, R in zip(axes, (0.05, 1.0)):
    p = problems.block_quadratic([eigs], rotation="givens", R=R, seed=3, name=f"R={R}")
    gd, variant = theory.gd_rate(p), theory.adam_variant_rate(p, w0)
    for label, opt in (("GD (η*)", sims.GD(lr=gd.lr)), ("Adam variant (η_P)", sims.Adam.theorem_variant(variant.lr))):
        res = sims.run(p, opt, 400, w0=w0, engine=ENGINE)
        ax.semilogy(res.steps, res.loss[0] / res.loss[0, 0], label=label)
    ax.set_title(f"τ = {problems.tau(p):.2f}: κ = {p.kappa:.0f}, κ(P) = {variant.kappa:.0f}")
    ax.set_xlabel("step t")
    ax.legend()
axes[0].set_ylabel("ℓ_t / ℓ_0")
fig.tight_layout()

# %% [markdown]
# ## Several dense blocks: Adam-mini's Fig. 4
#
# Real Hessians have *several* dense blocks at different scales (notebook 1). The catalog problem
# `adam-mini-fig4` is [M]'s case study I (§2.1, Fig. 4; THEORY §5a): three dense 30×30 blocks with
# eigenvalues drawn from {1, 2, 3}, {99, 100, 101} and {4998, 4999, 5000}. First, τ block by block:
# the τ of the whole matrix is dominated by the block with the largest entries, so it says little
# about the others.

# %%
p = problems.get("adam-mini-fig4", seed=0)
w0 = p.w_star + np.random.default_rng(0).standard_normal(p.d)
g0 = p.grad(w0)
edges = np.cumsum((0,) + tuple(p.sizes))
block_tau = [problems.tau(h) for h in p.blocks]
# κ of the Adam variant restricted to block l: P_l = D_l^{-1/2} H_l D_l^{-1/2} with D_l = diag(|g0_l|).
block_kappa_p = [problems.kappa_preconditioned(h, 1 / np.abs(g0[a:b])) for h, a, b in zip(p.blocks, edges[:-1], edges[1:])]
print(f"whole matrix: d = {p.d}, κ = {p.kappa:.0f}, τ(H) = {problems.tau(p):.3f}")
print("eigenvalues drawn per block:", [np.unique(e.round()).astype(int).tolist() for e in p.block_eigvals])
for l in range(len(p.sizes)):
    print(f"block {l}: τ(H_l) = {block_tau[l]:.3f}, κ_l = {p.block_kappas[l]:.3f}, "
          f"κ(P_l) of the Adam variant on this block alone = {block_kappa_p[l]:.1f}")
assert all(kp_l > k_l for kp_l, k_l in zip(block_kappa_p, p.block_kappas))  # worse on every block

# %% [markdown]
# Block 0 is dense (small τ); blocks 1 and 2 are nearly diagonal — but they are also nearly
# multiples of the identity (κ_l ≈ 1), so there is nothing for a diagonal scaling to fix, and the
# scaling D = diag(|g_0|), which varies randomly from coordinate to coordinate, can only make them
# worse. On *every* block, Adam's preconditioner makes κ worse than the block's own κ_l: single-lr
# GD on one dense block beats Adam — [M]'s observation (2) of case study I (Fig. 4(c, d)), the step
# that motivates their **Principle 1**: partition the parameters into the smallest dense blocks of
# the Hessian and give each block **one** lr. Adam-mini does this by keeping one second-moment
# scalar per block, the mean of g_l ⊙ g_l, instead of one per coordinate ([M] Alg. 1).
#
# ## Adam-mini, written out
#
# With B blocks, block l holding coordinates i ∈ l (d_l of them), and the usual
# m_{t+1} = β1 m_t + (1 − β1) g_t:
#
#   v_{t+1,l} = β2 v_{t,l} + (1 − β2) · (1/d_l) Σ_{i∈l} g_{t,i}²   (one number per block),
#   w_{t+1,i} = w_{t,i} − η/(1 − β1^{t+1}) · m_{t+1,i} / (√v_{t+1,l} / √(1 − β2^{t+1}) + ε_Adam)  for i ∈ l.
#
# The only change from Adam is the mean over the block in v. Checked against `sims.AdamMini`:

# %%
def adam_mini_loop(p, w0, lr, steps, beta1=0.9, beta2=0.999, eps=1e-8):
    block_of = np.repeat(np.arange(len(p.sizes)), p.sizes)  # block id of each coordinate
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros(len(p.sizes))
    for t in range(1, steps + 1):
        g = p.grad(w)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * np.bincount(block_of, weights=g * g) / np.asarray(p.sizes)
        w = w - lr / (1 - beta1 ** t) * m / (np.sqrt(v[block_of]) / np.sqrt(1 - beta2 ** t) + eps)
    return w


ours = adam_mini_loop(p, w0, 0.05, 50)
lib = sims.run(p, sims.AdamMini(lr=0.05), 50, w0=w0, engine=ENGINE).w_final[0]
err = np.max(np.abs(ours - lib)) / np.max(np.abs(lib))
assert err <= 1e-12, err
print(f"Adam-mini: numpy loop = sims.run after 50 steps, max relative difference {err:.1e}")

# %% [markdown]
# ## The four rates, and the two ratios
#
# The theorem variant of Adam-mini (β1 = 0, β2 = 1, v_0 from g_0, THEORY §4) is GD on
# P_mini = blockdiag(H_l / D_l) with one number D_l per block, so κ(P_mini) ≥ max_l κ_l: at best it
# equals blockwise GD. Below, the condition number each iteration sees, its rate and its iteration
# bound; then ψ and r computed on the same problem and the same starting point.

# %%
EPS = 1e-6
bounds = {
    "GD": theory.gd_rate(p),
    "blockwise GD": theory.blockwise_gd_rate(p),
    "Adam variant": theory.adam_variant_rate(p, w0),
    "Adam-mini variant": theory.adam_mini_variant_rate(p, w0),
}
for name, b in bounds.items():
    print(f"{name:>18}: κ of the iteration = {b.kappa:8.1f}, rate = {b.rate:.5f}, T(1e-6) ≤ {b.iterations(EPS):6.0f}")
psi = bounds["Adam variant"].r  # the record's attribute `r` holds the block excess ψ
r_whole = problems.r_adam(p.hessian(), w0 - p.w_star)  # Adam-mini's r with x = w0 − w*, so g = g0
print(f"\nblock excess ψ = κ(P)/max_l κ_l = {psi:.1f};  Adam-mini's r = κ(D_Adam H)/κ(H) = {r_whole:.3f}")

# %% [markdown]
# Same D, same H, two different questions. r = κ(P)/κ ≪ 1 says the scaling helps *relative to the
# whole matrix*: the variant beats single-lr GD. ψ = κ(P)/max_l κ_l ≫ 1 says it is far worse than
# the worst block: blockwise GD, and Adam-mini, are far better. Both are true; giving them one name
# would hide one of them. The runs below, each at its closed-form optimal step, show the ordering.

# %%
STEPS = 300
runs = {
    "GD (η*)": sims.run(p, sims.GD(lr=bounds["GD"].lr), STEPS, w0=w0, engine=ENGINE),
    "blockwise GD": sims.run(p, sims.BlockwiseGD.optimal(p), STEPS, w0=w0, engine=ENGINE),
    "Adam variant": sims.run(p, sims.Adam.theorem_variant(bounds["Adam variant"].lr), STEPS, w0=w0, engine=ENGINE),
    "Adam-mini variant": sims.run(p, sims.AdamMini.theorem_variant(bounds["Adam-mini variant"].lr), STEPS,
                                  w0=w0, engine=ENGINE),
}
fig, ax = plt.subplots(figsize=(6, 3.5))
for label, res in runs.items():
    ax.semilogy(res.steps, res.loss[0] / res.loss[0, 0], label=label)
ax.set_xlabel("step t")
ax.set_ylabel("ℓ_t / ℓ_0")
ax.set_ylim(1e-20, 2)
ax.legend()
fig.tight_layout()
for name in ("Adam variant", "Adam-mini variant"):
    record = theory.check(runs[name], bounds[name])
    print(f"theory.check({name}): holds = {record.all_hold}")
kp = {k: b.kappa for k, b in bounds.items()}
assert kp["blockwise GD"] <= kp["Adam-mini variant"] < kp["Adam variant"] < kp["GD"]
print("ordering of κ: blockwise GD ≤ Adam-mini variant < Adam variant < GD")

# %% [markdown]
# The Adam variant beats single-lr GD, but it is far from blockwise GD: the coordinate-to-coordinate
# noise of D inside each block is what makes κ(P) large. The Adam-mini variant uses one scale per
# block and matches blockwise GD (κ(P_mini) = max_l κ_l here, because the rescaled block spectra
# nest). Fewer second-moment entries (one per block instead of one per coordinate, d of them) *and*
# faster: that is the argument of Adam-mini.
#
# ## Exercises
#
# 1. Use `problems.target_tau_block(DIM, kappa=KAPPA, tau=t)` to sweep τ exactly from the lowest
#    reachable value (`problems.tau_range`) to 1. At what τ does the median r cross 1? Is the median
#    monotone in τ?
# 2. In `adam-mini-fig4`, κ(P) depends on the starting point through g_0. Draw 50 starting points
#    and report the median and the largest κ(P) of the Adam variant. Does Adam-mini's κ(P_mini)
#    vary?
# 3. (Thought) Why can a *block-constant* scaling never do better than max_l κ_l on a
#    block-diagonal H? (Hint: THEORY §4, P_mini = blockdiag(H_l / D_l).)

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: the printout gives the median r at each τ, where it first drops below 1, and whether
# it is monotone. Read them rather than trust a sentence: near τ = 1 the median is dominated by
# the heavy tail of 1/min|x_i| and need not keep falling.
lo, _ = problems.tau_range(DIM, kappa=KAPPA)
rng = np.random.default_rng(5)
tau_grid = np.linspace(max(lo, 0.11), 1.0, 8)
med = []
for t in tau_grid:
    H = problems.target_tau_block(DIM, kappa=KAPPA, tau=t)
    med.append(np.median([problems.r_adam(H, rng.standard_normal(DIM)) for _ in range(40)]))
    print(f"τ = {t:.2f}: median r = {med[-1]:.3f}")
below = tau_grid[np.array(med) < 1]
print(f"median r < 1 from τ = {below.min():.2f} on" if below.size else "median r never below 1")
print("monotone in τ:", bool(np.all(np.diff(med) <= 0)))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: the Adam variant's κ(P) varies a lot with w0 (heavy tail); Adam-mini's stays close to
# max κ_l = 3 because each block's spectrum is only rescaled as a whole (it exceeds 3 a little
# when the rescaled block spectra stop nesting).
starts = [p.w_star + np.random.default_rng(s).standard_normal(p.d) for s in range(50)]
kp50 = [theory.adam_variant_rate(p, w).kappa for w in starts]
km50 = [theory.adam_mini_variant_rate(p, w).kappa for w in starts]
print(f"Adam variant κ(P): median {np.median(kp50):.0f}, max {np.max(kp50):.0f};  Adam-mini: {min(km50):.3f}–{max(km50):.3f}")

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: P_mini = blockdiag(H_l / D_l) has block l's eigenvalues divided by one number, so
# block l alone still has condition number κ_l; the union of blocks can only be worse:
# κ(P_mini) = max_l(L_l/D_l) / min_l(μ_l/D_l) ≥ max_l L_l/μ_l. Equality when the scaled spectra nest.
b = theory.adam_mini_variant_rate(p, w0)
print(f"κ(P_mini) = {b.kappa:.3f} ≥ max κ_l = {max(p.block_kappas):.3f}")

# %% [markdown]
# ## Summary
#
# * τ measures how diagonal a block is; on a block with a large axis-aligned κ, Adam's diagonal
#   scaling helps when τ is near 1 (r < 1) and hurts when the block is dense (r > 1).
# * On a block with κ_l ≈ 1 it can only hurt: the noise of diag(|g_0|) inside a block is what makes
#   κ(P) large. τ must be read block by block; the whole matrix's τ is the largest block's.
# * On every dense block of [M]'s Fig. 4 problem, single-lr GD beats Adam: hence Principle 1, one lr
#   per dense block, and Adam-mini, which matches blockwise GD with one second moment per block.
# * r (the paper's, relative to κ(H)) and ψ (ours, relative to max_l κ_l) are different numbers on
#   the same run; both are needed to tell "better than GD" from "as good as blockwise GD".

# %% [markdown]
# ## Play with it
#
# The same story as a live app (`hetquad.playground`; in a terminal, `hetquad playground --preset
# 02`): move the rotation R and watch the |H| heatmap, τ, κ(P) and the GD / Adam runs answer. The cell below needs a running kernel, because the sliders re-run the optimizers
# in it; it is tagged `skip-execution`, so it is not run when the notebook is tested or rendered,
# and it shows nothing on GitHub. Run it yourself.

# %% tags=["skip-execution"]
from hetquad.playground import embed

embed("02")
