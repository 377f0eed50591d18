"""``sims.from_torch``: torch optimizers on hetquad problems, against hetquad's own specs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hetquad import sims
from hetquad.problems.quadratic import block_quadratic

STEPS = 60


@pytest.fixture(scope="module")
def problem():
    return block_quadratic([np.linspace(1.0, 10.0, 4), np.geomspace(0.1, 20.0, 5)], rotation="haar", seed=7)


CASES = [
    ("adam", (torch.optim.Adam, dict(lr=0.02, betas=(0.9, 0.99), eps=1e-8)),
     sims.Adam(lr=0.02, beta1=0.9, beta2=0.99, eps=1e-8)),
    ("sgd-momentum", (torch.optim.SGD, dict(lr=0.02, momentum=0.8)), sims.SGD(lr=0.02, momentum=0.8)),
    ("sgd-nesterov", (torch.optim.SGD, dict(lr=0.02, momentum=0.8, nesterov=True)),
     sims.SGD(lr=0.02, momentum=0.8, nesterov=True)),
    ("rmsprop", (torch.optim.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8)), sims.RMSProp(lr=0.01, beta2=0.99)),
]


@pytest.mark.parametrize("label,torch_spec,ours", CASES, ids=[c[0] for c in CASES])
def test_from_torch_matches_hetquad_specs(problem, label, torch_spec, ours):
    cls, kw = torch_spec
    w0 = sims.initial_points(problem, 3, 1)
    theirs = sims.run(problem, sims.from_torch(cls, **kw), STEPS, w0=w0)
    mine = sims.run(problem, ours, STEPS, w0=w0, engine="numpy")
    assert theirs.engine == "numpy+torch" and theirs.config["engine"] == "numpy+torch"
    scale = np.abs(mine.w_final).max()
    np.testing.assert_allclose(theirs.w_final, mine.w_final, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(theirs.loss, mine.loss, rtol=1e-10)
    # one torch parameter per run: a run alone gives the same numbers as in the batch
    alone = sims.run(problem, sims.from_torch(cls, **kw), STEPS, w0=w0[2])
    np.testing.assert_array_equal(alone.w_final[0], theirs.w_final[2])


def test_from_torch_names_and_errors(problem):
    spec = sims.from_torch(torch.optim.Adam, lr=0.1)
    assert spec.name == "torch.optim.Adam" and spec == sims.from_torch(torch.optim.Adam, lr=0.1)
    assert spec.hyper(2)["lr"].tolist() == [0.1, 0.1]
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer subclass .*got <class 'int'>"):
        sims.from_torch(int, lr=0.1)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer subclass"):
        sims.from_torch(torch.optim.Adam([torch.zeros(1, requires_grad=True)]))
    with pytest.raises(ValueError, match="Invalid learning rate"):
        sims.from_torch(torch.optim.SGD, lr=-1.0)
    with pytest.raises(ValueError, match="no numba rendering"):
        sims.run(problem, spec, 3, engine="numba")


def test_tol_stop_freezes_the_torch_run(problem):
    res = sims.run(problem, sims.from_torch(torch.optim.SGD, lr=0.05, momentum=0.5), 2000, batch=2, tol=1e-6)
    assert list(res.stop_reason) == ["tol", "tol"]
    np.testing.assert_allclose(problem.loss(res.w_final), res.final_loss, rtol=1e-12)
