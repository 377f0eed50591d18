# %% [markdown]
# # 2 · τ and the Adam preconditioner: when does a diagonal help?
#
# Adam rescales every coordinate by its own gradient size: roughly, it runs GD on D⁻¹H with a
# diagonal D. A diagonal rescaling can only fix what is *aligned with the axes*. Adam-mini's
# authors measure alignment by the diagonal share
#
#   τ(H) = Σ_i |H_ii| / Σ_{i,j} |H_ij|   ∈ (0, 1],  τ = 1 ⇔ H diagonal   (THEORY §5b),
#
# and compare Adam's conditioning with GD's by r = κ(D_Adam H) / κ(H), D_Adam = diag(1/|Hx|).
# r < 1: the diagonal preconditioner helps. r > 1: it hurts.
#
# We rotate one block away from the axes with Givens rotations and watch τ and r, then see what
# this means for a problem with several dense blocks — Adam-mini's *Principle 1*.

# %%
import matplotlib.pyplot as plt
import numpy as np

from hetquad import problems, sims, theory

ENGINE = "numpy"  # the reference engine: fastest for problems this small, nothing to compile

# %% [markdown]
# ## Rotating a block
#
# `problems.givens_block(d, kappa=κ, R=R)` builds H = QΛQᵀ with Λ = diag(κ, 1, …, 1) and Q a
# product of Givens rotations with angles R·θ, θ ~ U[−π/2, π/2]. R = 0 leaves H diagonal; larger R
# spreads the mass off the diagonal. The spectrum never changes, so κ(H) = κ for every R.

# %%
D, KAPPA = 10, 500.0
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, R in zip(axes, (0.0, 0.1, 0.3, 1.0)):
    H = problems.givens_block(D, kappa=KAPPA, R=R, seed=0)
    ax.imshow(np.log10(np.abs(H) + 1e-3), vmin=-3, vmax=np.log10(KAPPA), cmap="viridis")
    ax.set_title(f"R = {R}: τ = {problems.tau(H):.2f}, κ = {np.linalg.cond(H):.0f}")
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("log10 |H_ij|")
fig.tight_layout()

# %% [markdown]
# ## τ versus r
#
# For each R we draw 20 blocks and 20 points x (r is invariant to the scale of x). r has a heavy
# tail (at R = 0, r = (max|x_i| / min|x_i|)/κ and 1/min|x_i| has infinite mean), so we report
# medians.

# %%
rng = np.random.default_rng(0)
R_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
taus, rs = {}, {}
for R in R_GRID:
    blocks = [problems.givens_block(D, kappa=KAPPA, R=R, seed=s) for s in range(20)]
    taus[R] = np.array([problems.tau(H) for H in blocks])
    rs[R] = np.array([problems.r_adam(H, rng.standard_normal(D)) for H in blocks])
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

# %% [markdown]
# Near τ = 1 (an almost diagonal block), r ≪ 1: dividing by |Hx| undoes most of the bad
# conditioning. Once the block is dense (τ ≲ 0.2), r > 1: the diagonal rescaling makes the
# conditioning *worse*. Note that τ is not monotone in R (R = 1 gives a larger τ than R = 0.3),
# so plot against τ, not R. `problems.target_tau_block` builds a block with an exact τ if you
# want to sweep τ directly (exercise 1).
#
# ## Helps or hurts: run it
#
# The Adam *theorem variant* (β1 = 0, β2 = 1, v0 = g0², ε = 0; THEORY §4) is exactly GD on
# P = D^{-1/2} H D^{-1/2} with D = diag(|g0|), so its rate is set by κ(P). We compare it with GD
# at η* on a nearly diagonal block and on a dense one with the same spectrum.

# %%
eigs = [KAPPA] + [1.0] * (D - 1)
w0 = np.random.default_rng(1).standard_normal(D)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, R in zip(axes, (0.05, 1.0)):
    p = problems.block_quadratic([eigs], rotation="givens", R=R, seed=3, name=f"R={R}")
    gd, variant = theory.gd_rate(p), theory.adam_variant_rate(p, w0)
    for label, opt in (("GD (η*)", sims.GD(lr=gd.lr)), ("Adam variant (η_P)", sims.Adam.theorem_variant(variant.lr))):
        res = sims.run(p, opt, 400, w0=w0, engine=ENGINE)
        ax.semilogy(res.steps, res.loss[0] / res.loss[0, 0], label=label)
    ax.set_title(f"τ = {problems.tau(p):.2f}: κ = {p.kappa:.0f}, κ(P) = {variant.kappa:.0f}")
    ax.set_xlabel("step")
    ax.legend()
axes[0].set_ylabel("loss / loss₀")
fig.tight_layout()

# %% [markdown]
# ## Principle 1: one lr per dense block — Adam-mini
#
# Real Hessians have *several* dense blocks of different scales (heterogeneous, notebook 1).
# Inside a dense block a per-coordinate lr does not help (r > 1); *between* blocks it does.
# Adam-mini's Principle 1: give each dense block **one** lr. Adam-mini keeps a single second-moment
# scalar per block, mean(g_l²), instead of one per coordinate.
#
# The catalog problem `adam-mini-fig4` has three dense 30×30 blocks with eigenvalues from
# {1,2,3}, {99,100,101}, {4998,4999,5000} (THEORY §5a). Compare the four rates of `hetquad.theory`.

# %%
p = problems.get("adam-mini-fig4", seed=0)
w0 = p.w_star + np.random.default_rng(0).standard_normal(p.d)
EPS = 1e-6
bounds = {
    "GD": theory.gd_rate(p),
    "blockwise GD": theory.blockwise_gd_rate(p),
    "Adam variant": theory.adam_variant_rate(p, w0),
    "Adam-mini variant": theory.adam_mini_variant_rate(p, w0),
}
print(f"κ = {p.kappa:.0f}, block κ_l = {np.round(p.block_kappas, 3)}, τ(H) = {problems.tau(p):.3f}")
for name, b in bounds.items():
    print(f"{name:>18}: κ of the iteration = {b.kappa:8.1f}, rate = {b.rate:.5f}, "
          f"T(1e-6) ≤ {b.iterations(EPS):6.0f}")

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
ax.set_xlabel("step")
ax.set_ylabel("loss / loss₀")
ax.set_ylim(1e-20, 2)
ax.legend()
fig.tight_layout()
for name in ("Adam variant", "Adam-mini variant"):
    record = theory.check(runs[name], bounds[name])
    print(f"theory.check({name}): holds = {record.all_hold}")

# %% [markdown]
# The Adam variant beats single-lr GD (κ(P) ≈ 570 vs κ = 5000), but it is far from blockwise GD.
# Note τ(H) ≈ 1 here: each block is nearly a multiple of the identity (κ_l ≤ 3), so rotating it
# changes little. Yet D = diag(|g0|) varies randomly from coordinate to coordinate inside a block,
# and that noise is what makes κ(P) large: per coordinate, the scaling hurts. The Adam-mini variant uses
# one scale per block and matches blockwise GD: κ(P_mini) = max_l κ_l = 3. Fewer second-moment
# entries (3 instead of 90) *and* faster — that is the argument of Adam-mini.
#
# ## Exercises
#
# 1. Use `problems.target_tau_block(D, kappa=KAPPA, tau=t)` to sweep τ ∈ (0.1, 1] exactly (see
#    `problems.tau_range`). At what τ does the median r cross 1?
# 2. In `adam-mini-fig4`, r depends on the initial point through g0. Draw 50 initial points and
#    report the median and max κ(P) of the Adam variant. Does Adam-mini's κ(P_mini) vary?
# 3. (Thought) Why can a *block-constant* scaling never do better than max_l κ_l on a
#    block-diagonal H? (Hint: THEORY §4, P_mini = blockdiag(H_l / D_l).)

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution 1: r is not monotone in R, but its median falls steadily with τ; it crosses 1 between
# τ ≈ 0.1 and τ ≈ 0.25 (compare the Givens scatter above).
lo, _ = problems.tau_range(D, kappa=KAPPA)
rng = np.random.default_rng(5)
for t in np.linspace(max(lo, 0.11), 1.0, 8):
    H = problems.target_tau_block(D, kappa=KAPPA, tau=t)
    r = np.median([problems.r_adam(H, rng.standard_normal(D)) for _ in range(40)])
    print(f"τ = {t:.2f}: median r = {r:.3f}")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution 2: the Adam variant's κ(P) varies a lot with w0 (heavy tail); Adam-mini's stays close to
# max κ_l = 3 because each block's spectrum is only rescaled as a whole (it exceeds 3 a little
# when the rescaled block spectra stop nesting).
kp = [theory.adam_variant_rate(p, p.w_star + np.random.default_rng(s).standard_normal(p.d)).kappa for s in range(50)]
km = [theory.adam_mini_variant_rate(p, p.w_star + np.random.default_rng(s).standard_normal(p.d)).kappa for s in range(50)]
print(f"Adam variant κ(P): median {np.median(kp):.0f}, max {np.max(kp):.0f};  Adam-mini: {min(km):.3f}–{max(km):.3f}")

# %% jupyter={"source_hidden": true} tags=["solution"]
# Solution 3: P_mini = blockdiag(H_l / D_l) has block l's eigenvalues divided by one number, so
# block l alone still has condition number κ_l; the union of blocks can only be worse:
# κ(P_mini) = max_l(L_l/D_l) / min_l(μ_l/D_l) ≥ max_l L_l/μ_l. Equality when the scaled spectra nest.
b = theory.adam_mini_variant_rate(p, w0)
print(f"κ(P_mini) = {b.kappa:.3f} ≥ max κ_l = {max(p.block_kappas):.3f}")
