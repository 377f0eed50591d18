"""A result's problem config records the blocks' matrix ``shapes``, so a matrix-shaped run is rebuilt
from its config alone (catalog name, params and seed, then the shapes) and reruns bit for bit."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hetquad import sims
from hetquad.problems import catalog


def _rebuild(config: dict):
    """The problem of a result's ``config['problem']``, from the catalog and the recorded shapes."""
    info = config["info"]
    p = catalog.get(info["catalog"], seed=info["seed"], **info["params"])
    return dataclasses.replace(p, shapes=config.get("shapes"))


@pytest.fixture(scope="module")
def matrix_problem():
    p = catalog.get("zhang2024-case1", seed=2, block_size=6)
    shapes = [(2, 3), None] + [(3, 2)] * (len(p.sizes) - 2)
    return dataclasses.replace(p, shapes=shapes)


def test_a_matrix_shaped_run_is_rebuilt_from_its_config(matrix_problem):
    p = matrix_problem
    res = sims.run(p, sims.Shampoo(lr=0.05, vector="diagonal"), 12, seed=4, batch=2, engine="numpy")
    config = json.loads(sims.canonical_json(res.config))  # what a stored result keeps
    assert config["problem"]["shapes"] == [None if s is None else list(s) for s in p.shapes]
    q = _rebuild(config["problem"])
    assert q.shapes == p.shapes and q.sizes == p.sizes
    for a, b in zip(q.blocks, p.blocks):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(q.w_star, p.w_star)
    again = sims.run(q, sims.from_dict(config["optimizer"]), config["steps"], seed=config["seed"],
                     batch=config["batch"], engine="numpy")
    np.testing.assert_array_equal(again.loss, res.loss)
    # without the shapes the catalog gives vector blocks, which Shampoo runs differently
    plain = _rebuild({k: v for k, v in config["problem"].items() if k != "shapes"})
    assert all(s is None for s in plain.shapes)
    other = sims.run(plain, sims.from_dict(config["optimizer"]), config["steps"], seed=config["seed"],
                     batch=config["batch"], engine="numpy")
    assert not np.array_equal(other.loss, res.loss)


def test_a_problem_with_vector_blocks_only_records_no_shapes():
    """Configs of vector-only problems are unchanged (their hashes and stored results stay valid)."""
    p = catalog.get("zhang2024-case1", seed=2, block_size=6)
    res = sims.run(p, sims.GD(lr=1e-3), 3, engine="numpy")
    assert "shapes" not in res.config["problem"]
    assert _rebuild(res.config["problem"]).shapes == p.shapes
