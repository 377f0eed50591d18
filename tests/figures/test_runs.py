"""figures/_runs.py: batched lr grids and the growing-horizon tol search equal plain runs."""
import numpy as np

from hetquad import problems, sims
from hetquad.figures import _runs


def test_lr_sweep_rows_equal_separate_runs():
    p = problems.get("zhang2024-case3", seed=1)
    w0 = sims.initial_points(p, 2, 4)
    lrs = np.array([1e-3, 1e-2, 1e-1])
    got = _runs.lr_sweep(p, lambda lr: sims.Adam(lr), lrs, 50, w0=w0, engine="numba")
    for lr, res in zip(lrs, got):
        alone = sims.run(p, sims.Adam(float(lr)), 50, w0=w0, engine="numba")
        np.testing.assert_array_equal(res.grad_norm, alone.grad_norm)
        assert res.stop_reason == alone.stop_reason


def test_growing_horizons_keep_each_groups_fastest_row():
    # the Adam theorem variant at a grid of lrs from two inits: the per-init minimum and its argmin
    # (first on ties) equal those of running every row for all the steps
    p = problems.get("adam-mini-fig4", seed=0, block_size=4)
    w0 = sims.initial_points(p, 2, 0)
    lrs = 10.0 ** np.arange(-3.0, 0.01, 0.5)
    rows = np.repeat(w0, lrs.size, axis=0)
    lr_rows = np.tile(lrs, 2)
    groups = np.repeat([0, 1], lrs.size)
    fast = _runs.iterations_to_tol(p, lambda idx: sims.Adam.theorem_variant(lr_rows[idx]), rows, 6000,
                                   tol=1e-6, groups=groups, first=16)
    res = sims.run(p, sims.Adam.theorem_variant(lr_rows), 6000, w0=rows, tol=1e-6, record_every=6000)
    full = np.where(np.asarray(res.stop_reason) == "tol", res.iterations, np.inf)
    for g in (0, 1):
        a, b = fast[groups == g], full[groups == g]
        assert np.isfinite(b.min()) and a.min() == b.min() and np.argmin(a) == np.argmin(b)
    # rows it did finish carry their exact count
    done = np.isfinite(fast)
    np.testing.assert_array_equal(fast[done], full[done])
