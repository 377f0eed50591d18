"""``sims.estimate`` counts the per-run schedule tables and Shampoo's / SOAP's Kronecker factors, against
the arrays a run really allocates: ``build_task``'s schedule table and the specs' own states."""
from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest

from hetquad import sims
from hetquad.problems import catalog
from hetquad.sims import schedules
from hetquad.sims.estimate import estimate, factor_bytes
from hetquad.sims.run import build_task


@pytest.fixture(scope="module")
def matrix_problem():
    """Four 36-blocks: a tall, a square-ish and a wide matrix, and a vector block."""
    p = catalog.get("zhang2024-case1", seed=1, block_size=36)
    return dataclasses.replace(p, shapes=[(12, 3), (6, 6), None, (2, 18)])


def _w0(p, n):
    return np.asarray(p.w_star) + np.random.default_rng(0).standard_normal((n, p.d))


def _factor_arrays(state):
    """The r×r / c×c arrays of the matrix blocks' slots (slot = (block, arrays...))."""
    return [a for slot in state.slots if slot[0].shape is not None for a in slot[1:] if isinstance(a, np.ndarray)]


def _refreshed(spec, p, w0):
    """The state after the first update, when Shampoo's roots and SOAP's bases exist."""
    state = spec.update(spec.init(p, w0), p.grad(w0))
    assert all(a is not None for slot in state.slots if slot[0].shape is not None for a in slot[1:])
    return state


@pytest.mark.parametrize("spec", [sims.Shampoo(lr=0.01, vector="diagonal"), sims.SOAP(lr=0.01)],
                         ids=["shampoo", "soap"])
def test_kept_factors_are_the_bytes_of_the_real_state(matrix_problem, spec):
    p, n = matrix_problem, 5
    state = _refreshed(spec, p, _w0(p, n))
    actual = sum(a.nbytes for a in _factor_arrays(state))
    kept, peak = factor_bytes(p, spec)
    assert n * kept == actual
    est = estimate(p, spec, 10, batch=n)
    assert est.parts["factors"] == n * peak and est.bytes == sum(est.parts.values())
    # without matrix shapes, or for a spec that keeps no factors, there is nothing to count
    assert factor_bytes(dataclasses.replace(p, shapes=None), spec) == (0, 0)
    assert estimate(p, sims.Adam(lr=0.01), 10, batch=n).parts["factors"] == 0


@pytest.mark.parametrize("shape", [(50, 2), (10, 10)])
@pytest.mark.parametrize("spec", [sims.Shampoo(lr=0.01), sims.SOAP(lr=0.01, precondition_frequency=1)],
                         ids=["shampoo", "soap"])
def test_state_and_factors_cover_the_measured_peak_of_updates(spec, shape):
    """tracemalloc sees numpy's buffers: init and three updates (refreshes included) stay within
    the state + factors parts, and the factors part is not more than twice that peak. Tall blocks:
    the factors are nearly all of the memory (r² ≫ r·c), so the factor model alone is measured."""
    p = dataclasses.replace(catalog.get("zhang2024-case1", seed=1, block_size=100), shapes=[shape] * 4)
    n = 16
    w0 = _w0(p, n)
    g = p.grad(w0)
    tracemalloc.start()
    try:
        state = spec.init(p, w0)
        for _ in range(3):
            state = spec.update(state, g)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    est = estimate(p, spec, 3, batch=n)
    assert peak <= est.parts["state"] + est.parts["factors"]
    assert est.parts["factors"] <= 2 * peak


def _per_run_specs(n):
    lrs = tuple(np.linspace(0.01, 0.02, n))
    return [
        sims.SGD(lr=0.01, momentum=0.5),  # numbers only: a (steps,) table
        sims.SGD(lr=lrs, momentum=0.5, schedule=schedules.Step(every=tuple(range(1, n + 1)), gamma=0.5)),
        sims.SGD(lr=0.01, schedule=schedules.Warmup(steps=3, then=schedules.Cosine(total=tuple([20] * n)))),
    ]


@pytest.mark.parametrize("k", [0, 1, 2])
def test_schedule_part_is_the_table_a_run_holds(matrix_problem, k):
    p, n, steps = matrix_problem, 4, 30
    spec = _per_run_specs(n)[k]
    table = build_task(p, spec, steps, batch=n if k == 0 else None).factors
    assert table.shape == ((steps,) if k == 0 else (steps, n))
    assert estimate(p, spec, steps, batch=n).parts["schedule"] == table.nbytes


def test_per_run_counts_what_grows_with_the_batch(matrix_problem):
    """bytes(2n) − bytes(n) = n · per_run, the figure ``check_budget`` splits a batch by."""
    p, n, steps = matrix_problem, 3, 50
    for small, large in zip(_per_run_specs(n), _per_run_specs(2 * n)):
        a, b = estimate(p, small, steps, batch=n), estimate(p, large, steps, batch=2 * n)
        assert b.bytes - a.bytes == n * a.per_run == n * b.per_run
    a = estimate(p, sims.Shampoo(lr=0.01, vector="diagonal"), steps, batch=n)
    b = estimate(p, sims.Shampoo(lr=0.01, vector="diagonal"), steps, batch=2 * n)
    assert b.bytes - a.bytes == n * a.per_run and a.per_run > a.parts["factors"] // n > 0


def test_a_run_whose_factors_exceed_the_budget_is_refused(matrix_problem):
    p, spec = matrix_problem, sims.SOAP(lr=0.01)
    est = estimate(p, spec, 10, batch=8)
    budget = est.bytes - est.parts["factors"] // 2  # enough but for the factors
    with pytest.raises(ValueError, match=r"memory_budget .*split the batch into chunks of <= \d runs"):
        sims.run(p, spec, 10, batch=8, engine="numpy", memory_budget=budget)
    assert sims.run(p, spec, 10, batch=8, engine="numpy", memory_budget=est.bytes).batch == 8
