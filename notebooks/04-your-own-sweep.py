# %% [markdown]
# # 4 · Your own sweep: TOML → CLI → table and trajectories → plots and bounds
#
# Notebooks 1–3 ran one problem at a time. To study a *trend* (how does GD's iteration count grow
# with κ? does Adam care?) you want a grid: several problem parameters × optimizers × seeds, each
# with a fairly tuned learning rate. `hetquad sweep` does that from a small TOML file: it runs the
# grid in parallel, can be killed and resumed, and writes one table row per run (Parquet) plus the
# trajectories (xarray/netCDF).
#
# In this notebook: write a sweep config, run it with the CLI, load the results, plot medians with
# bands over seeds, and check GD's iteration counts against `hetquad.theory`.
#
# **Symbols** (table in [`docs/theory.md`](../docs/theory.md)): κ = L/μ is the condition number of
# the whole Hessian, κ_l that of block l (`block_kappa` in the config), τ the diagonal share of a
# block (notebook 2), ℓ_0 the loss at the starting point, and T(ε) the first step with
# ℓ_t ≤ ε ℓ_0; `tol` in the config is ε.

# %%
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import hetquad
from hetquad import problems, theory

# %% [markdown]
# ## 1. The config
#
# The `tau-kappa` catalog family (see `hetquad problems`) has `n_blocks` blocks whose block
# condition numbers are all `block_kappa` while the whole matrix has condition number `kappa`:
# heterogeneous block scales. We sweep κ, keep the blocks diagonal (τ = 1), and compare GD with Adam
# and Adam-mini. `lr = "tune"` picks each optimizer's lr per grid point on a held-out seed, with
# the same metric and the same grid for all three, so the comparison is fair as long as no tuned lr
# sits on the edge of the grid (checked in section 3). `examples/sweeps/tau_kappa.toml` is a larger
# version; every key is explained in the docstring of `hetquad.config`.

# %%
CONFIG = """
[sweep]
steps = 8000            # at most this many updates per run
tol = 1e-6              # a run stops once loss <= tol * loss0; iterations_to_tol records when
seeds = 3               # initial points w* + N(0, I), seeds 0, 1, 2
engine = "auto"
record_every = 10

[problem]
name = "tau-kappa"
seed = 0
tau = 1.0
n_blocks = 4
block_size = 5
block_kappa = 10.0

[axes]
kappa = [10.0, 100.0, 1000.0]

[optimizers.gd]
lr = "tune"
[optimizers.adam]
lr = "tune"
[optimizers.adam-mini]
lr = "tune"

[tune]
lrs = {low = 3e-4, high = 3.0, num = 9}   # a log grid (2 points per decade); or a list, e.g. [1e-3, 1e-2, 0.1]
seed = 1000
metric = "final_loss"
steps = 300
"""
workdir = Path(tempfile.mkdtemp(prefix="hetquad-sweep-"))
config_path = workdir / "my_sweep.toml"
config_path.write_text(CONFIG)
out = workdir / "out"

# %% [markdown]
# ## 2. Run it with the CLI
#
# In a terminal this is `hetquad sweep my_sweep.toml --out out`. From a notebook we call the same
# command line through the Python that runs this kernel (`python -m hetquad.cli`), so it works
# whichever environment the notebook uses. `--workers 1` keeps it in one process: for a grid this
# small, starting worker processes costs more than it saves.

# %%
def hetquad_cli(*args):
    """Run `hetquad ARGS...` with this kernel's Python; print its output; fail loudly on error.

    The printout names the temporary folder `$WORKDIR` and leaves out the wall time, so the output
    saved with this notebook does not depend on the machine that ran it.
    """
    done = subprocess.run([sys.executable, "-m", "hetquad.cli", *map(str, args)], capture_output=True, text=True)
    text = "\n".join(x for x in (done.stdout.strip(), done.stderr.strip()) if x).replace(str(workdir), "$WORKDIR")
    text = re.sub(r"; [0-9.]+ s\)", ")", text)
    print(re.sub(r"~[0-9.e+-]+ s of engine time", "~… s of engine time", text))
    done.check_returncode()


hetquad_cli("sweep", config_path, "--out", out, "--workers", "1", "--no-progress")

# %% [markdown]
# A sweep directory is resumable: run the same command again and every finished chunk is reused
# (kill it half way and only the missing chunks run). Exercise 4 below tries it.

# %% [markdown]
# ## 3. Load the results
#
# `hetquad.load(DIR)` returns a pandas table (one row per run) and an xarray dataset (trajectories
# with dims `run` and `step`; the table's axis values are coordinates along `run`).

# %%
table, ds = hetquad.load(out)
print(table[["kappa", "optimizer", "lr", "seed", "status", "iterations_to_tol", "final_loss_ratio"]].to_string())
print(ds)

# Fair only if every tuned lr is interior to the grid of [tune] (the first and last grid points are the edges).
grid = np.geomspace(3e-4, 3.0, 9)  # the [tune] lrs above
tuned_lrs = table.drop_duplicates(["optimizer", "kappa"])[["optimizer", "kappa", "lr"]]
tuned_lrs["interior"] = (tuned_lrs.lr > grid[0] * 1.001) & (tuned_lrs.lr < grid[-1] / 1.001)
print(tuned_lrs.to_string(index=False))
assert tuned_lrs.interior.all(), "widen the [tune] grid"

# %% [markdown]
# ## 4. Plot with bands over seeds
#
# Left: iterations to reach loss ≤ 1e-6·loss₀ against κ (median over seeds, min–max as error bars).
# Right: the loss trajectories at the largest κ, median with a min–max band.

# %%
summary = table.groupby(["optimizer", "kappa"])["iterations_to_tol"].agg(["median", "min", "max"])
colors = {"gd": "C0", "adam": "C1", "adam-mini": "C2"}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for name, rows in summary.groupby(level="optimizer"):
    kappas = rows.index.get_level_values("kappa")
    axes[0].errorbar(kappas, rows["median"], yerr=[rows["median"] - rows["min"], rows["max"] - rows["median"]],
                     marker="o", capsize=3, color=colors[name], label=name)
axes[0].set_xscale("log")
axes[0].set_yscale("log")
axes[0].set_xlabel("κ")
axes[0].set_ylabel("iterations to loss ≤ 1e-6·loss₀")
axes[0].legend()

kmax = float(ds.kappa.max())
for name in ("gd", "adam", "adam-mini"):
    runs = ds.sel(run=(ds.optimizer == name) & (ds.kappa == kmax))
    rel = runs.loss / runs.loss.isel(step=0)
    axes[1].semilogy(ds.step, rel.median("run"), color=colors[name], label=name)
    axes[1].fill_between(ds.step, rel.min("run"), rel.max("run"), color=colors[name], alpha=0.25)
axes[1].set_xlabel("step")
axes[1].set_ylabel("loss / loss₀")
axes[1].set_title(f"κ = {kmax:g}: median and min–max over seeds")
axes[1].legend()
fig.tight_layout()
print(summary)

# %% [markdown]
# GD's iteration count grows roughly in proportion to κ (THEORY §2: T ≈ (κ/4)·ln(1/ε) at the best
# lr); Adam and Adam-mini hardly notice κ, because every block is well conditioned on its own and
# a per-coordinate or per-block lr fixes the scale differences between blocks. (Trajectories stop
# at the run's tol, hence the NaN tails after a run finished.)
#
# ## 5. Check the bounds
#
# The table already has a `bound` column: for GD it is `theory.gd_rate` at the run's own lr, with
# `bound_iterations` ≥ T(tol) for every initial point, and `bound_slack` = bound / measured
# (≥ 1 ⇔ the bound holds). Adam with β2 < 1 has no proven rate on quadratics, so its rows say
# "n/a". Let us recompute GD's bound ourselves from the problem and the tuned lr.

# %%
gd_rows = table[table.optimizer == "gd"]
for _, row in gd_rows.drop_duplicates("kappa").iterrows():
    p = problems.get("tau-kappa", seed=0, tau=1.0, n_blocks=4, block_size=5, block_kappa=10.0, kappa=row.kappa)
    ours = theory.gd_rate(p, lr=row.lr).iterations(1e-6)
    best = theory.gd_rate(p).iterations(1e-6)
    measured = gd_rows[gd_rows.kappa == row.kappa].iterations_to_tol
    print(f"κ = {row.kappa:6g}: tuned lr {row.lr:.2e} → bound {ours:6.0f} (table: {row.bound_iterations:6.0f}); "
          f"at η* the bound would be {best:6.0f}; measured T {measured.min():.0f}–{measured.max():.0f}")
print("every GD run within its bound:", bool((gd_rows.bound_slack >= 1).all()))

# %% [markdown]
# The tuned lr comes from a coarse grid (2 points per decade), so it sits below η\* = 2/(L + μ):
# the bound at the tuned lr is larger than at η\*, and the measured T follows the tuned lr.
#
# ## Exercises
#
# 1. Add `tau = [0.3, 0.6, 1.0]` as a second axis (remove `tau` from `[problem]`). Which optimizer
#    is sensitive to τ? (Expect a few more seconds of runtime: 27 → 81 runs.)
# 2. Sweep a fixed-lr GD instead: `[optimizers.gd-fixed]` with `type = "gd"` and `lr = 0.01`. Which
#    κ values make it diverge, and how does the table record that?
# 3. Put a typo in the config (say `n_block = 4`) and run the CLI. What does the error look like?
# 4. Run the first sweep command again. How many chunks are computed, how many reused?

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 1: a smaller version of the exercise (only κ = 1000, 2 seeds) to keep this notebook quick.
# τ < 1 rotates each block away from the axes (κ_l stays 10). Compare the medians printed below:
# the differences are small. GD's iterations are set by the spectrum of H, which a rotation does not
# change. With κ_l = 10 every block is well conditioned, so Adam loses little when its
# per-coordinate scaling no longer matches the block's axes (notebook 2's rotated block had κ = 500:
# there τ mattered); what does move with τ is Adam's tuned lr (second table). A median that jumps at
# one τ goes with a tuned lr that moved a grid step.
tau_config = (CONFIG.replace("tau = 1.0\n", "").replace("kappa = [10.0, 100.0, 1000.0]", "kappa = [1000.0]\ntau = [0.3, 0.6, 1.0]")
              .replace("seeds = 3 ", "seeds = 2 "))
config1 = workdir / "tau.toml"
config1.write_text(tau_config)
hetquad_cli("sweep", config1, "--out", workdir / "out1", "--workers", "1", "--no-progress")
t1, _ = hetquad.load(workdir / "out1")
print(t1.groupby(["optimizer", "tau"])["iterations_to_tol"].median().unstack("tau"))
print(t1.groupby(["optimizer", "tau"])["lr"].first().unstack("tau"))

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 2: here λ_min = 1 and L = κ, so GD is stable only while lr < 2/κ: lr = 0.01 works for
# κ = 10 and 100 and diverges at κ = 1000. Diverged runs are recorded with status 'diverged'
# (never silently dropped). A separate directory keeps the first sweep intact.
fixed_only = CONFIG.split("[optimizers.gd]")[0] + '[optimizers.gd-fixed]\ntype = "gd"\nlr = 0.01\n'
config2 = workdir / "fixed.toml"
config2.write_text(fixed_only)
hetquad_cli("sweep", config2, "--out", workdir / "out2", "--workers", "1", "--no-progress")
t2, _ = hetquad.load(workdir / "out2")
print(t2[t2.optimizer == "gd-fixed"][["kappa", "seed", "status", "stop_reason", "iterations_to_tol"]].to_string())

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 3: the CLI prints one line on stderr, "error: unknown parameter 'n_block' of problem
# 'tau-kappa' in [problem]; did you mean 'n_blocks'? ...", exits with status 2 and writes nothing.
# The check happens when the config is read, so `hetquad.config.load` shows the same message
# without starting a process:
from hetquad import config

bad = workdir / "typo.toml"
bad.write_text(CONFIG.replace("n_blocks = 4", "n_block = 4"))
try:
    config.load(bad)
except ValueError as exc:
    print("ValueError:", exc)

# %% jupyter={"outputs_hidden": true, "source_hidden": true} tags=["solution"]
# Solution 4: the config hash matches the manifest, so every chunk in `out/chunks` is reused and only
# the table and trajectory files are re-assembled: the summary line says "0 chunks computed".
hetquad_cli("sweep", config_path, "--out", out, "--workers", "1", "--no-progress")

# %% [markdown]
# ## Clean up
#
# The sweeps above wrote to a temporary folder; remove it so that running this notebook leaves
# nothing behind.

# %%
shutil.rmtree(workdir)
print("temporary sweep folder removed:", not workdir.exists())

# %% [markdown]
# ## Summary
#
# * A sweep is a TOML file: a problem family, the axes to sweep, optimizers with `lr = "tune"`, and a
#   `[tune]` grid shared by all optimizers; `hetquad sweep` runs it resumably and `hetquad.load`
#   returns the table and the trajectories.
# * A comparison is fair only if every optimizer is tuned the same way *and* its tuned lr is
#   interior to the grid; section 3 checks the second.
# * GD's iterations grow with κ while Adam and Adam-mini barely notice it on these well-conditioned
#   blocks, and every GD run stays within `theory.gd_rate`'s bound at its own lr.

# %% [markdown]
# ## Play with it
#
# The same story as a live app (`hetquad.playground`; in a terminal, `hetquad playground --preset
# 04`): move a slider, then copy the state as a sweep TOML like the one above. The cell below needs a running kernel, because the sliders re-run the optimizers
# in it; it is tagged `skip-execution`, so it is not run when the notebook is tested or rendered,
# and it shows nothing on GitHub. Run it yourself.

# %% tags=["skip-execution"]
from hetquad.playground import embed

embed("04")
