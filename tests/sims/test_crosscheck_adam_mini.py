"""hetquad's ``AdamMini`` against the official ``adam_mini`` package (1.1.1), step by step, float64.

How the package partitions (read from ``adam_mini/adam_mini.py``): every named parameter is its
own param group, and the *name* picks the rule —
- names containing "bias" → plain Adam (one v per coordinate);
- "q_proj"/"k_proj"/"wq"/"wk"/"query"/"key" → one v per head (``dim·dim/n_heads`` entries);
- "embed"/"embd"/"wte", "lm_head"/"output"/"final_layer", "v_proj"/"wv"/"value", "o_proj"/"wo",
  "feed_forward"/"linear"/"mlp" → one v per row (per neuron / per token) of the 2-D tensor;
- anything else (LayerNorms, and our neutral names) → one v for the whole tensor.
"norm"/"ln"/"bias" names get weight decay 0; we use ``weight_decay=0`` everywhere, so decay never
enters. Its update is Adam's with v replaced by the block mean of g², bias-corrected like torch
(lr/(1−β1^t), √v/√(1−β2^t) + ε) — exactly hetquad's ``AdamMini(bias_correction=True)``.

Running it on the CPU in float64 needs nothing special: ``world_size`` is
``torch.cuda.device_count()`` (0 here), so no process group is touched, and every buffer is
created with ``zeros_like`` of the float64 parameter. ``verbose=False`` only silences its prints.

The loss is a ``BlockQuadratic`` whose blocks are the module's parameters (flattened row-major);
gradients come from autograd. Rounding differs in a few places (``lerp_`` for m, the sum order of
the block mean), hence a relative 1e-12 per step rather than bit identity.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from adam_mini import Adam_mini

from hetquad.problems.quadratic import block_quadratic
from hetquad.sims.optimizers import AdamMini

STEPS = 40
RTOL = 1e-12


class Blocks(torch.nn.Module):
    """One parameter per problem block, with the given names and shapes."""

    def __init__(self, named_shapes, w0):
        super().__init__()
        start = 0
        for name, shape in named_shapes:
            size = int(np.prod(shape))
            value = torch.tensor(w0[start:start + size].reshape(shape), dtype=torch.float64)
            self.register_parameter(name, torch.nn.Parameter(value))
            start += size


def _problem(sizes, seed):
    rng = np.random.default_rng(seed)
    eigs = [np.geomspace(rng.uniform(0.1, 1.0), rng.uniform(5.0, 60.0), s) for s in sizes]
    return block_quadratic(eigs, seed=seed, w_star=rng.uniform(-2.0, 2.0, sum(sizes)))


def _torch_loss(problem, module):
    blocks = [torch.tensor(np.asarray(h), dtype=torch.float64) for h in problem.blocks]
    w_star = torch.tensor(np.asarray(problem.w_star), dtype=torch.float64)

    def loss():
        w = torch.cat([p.reshape(-1) for p in module.parameters()])
        e = w - w_star
        return sum(0.5 * e[a:b] @ (h @ e[a:b]) for (a, b), h in zip(problem.offsets, blocks))

    return loss


def _compare(problem, named_shapes, spec, w0, *, lr, betas, eps):
    """Step the package and the spec ``STEPS`` times; assert the iterates agree at every step."""
    module = Blocks(named_shapes, w0)
    opt_t = Adam_mini(module.named_parameters(), lr=lr, betas=betas, eps=eps, weight_decay=0.0, verbose=False)
    loss = _torch_loss(problem, module)
    state = spec.init(problem, w0)
    for t in range(STEPS):
        opt_t.zero_grad()
        loss().backward()
        g = torch.cat([p.grad.reshape(-1) for p in module.parameters()]).numpy().copy()
        opt_t.step()
        state = spec.update(state, g[None, :])
        ref = torch.cat([p.detach().reshape(-1) for p in module.parameters()]).numpy()
        np.testing.assert_allclose(state.w[0], ref, rtol=RTOL, atol=0, err_msg=f"step {t + 1}")
    assert np.abs(state.w[0] - w0).max() > 1e-2  # the runs moved


@pytest.mark.parametrize("betas,eps", [((0.9, 0.999), 1e-8), ((0.0, 0.99), 1e-6), ((0.5, 0.9), 1e-3)])
def test_neutral_names_one_block_per_tensor(betas, eps):
    """Neutral names (no keyword of the package) → one v per tensor = ``partition='blocks'``."""
    sizes = (4, 6, 3)
    p = _problem(sizes, seed=1)
    w0 = np.asarray(p.w_star) + np.random.default_rng(0).standard_normal(p.d)
    named = [("alpha", (4,)), ("gamma", (2, 3)), ("delta", (3,))]
    spec = AdamMini(lr=5e-2, beta1=betas[0], beta2=betas[1], eps=eps, partition="blocks")
    _compare(p, named, spec, w0, lr=5e-2, betas=betas, eps=eps)


def test_package_rules_as_an_explicit_partition():
    """Names that trigger the package's other rules, written as one hetquad partition:
    'mlp' (2×3) → one v per row; 'bias' (3,) → one v per coordinate; 'scale' (4,) → one v."""
    named = [("mlp", (2, 3)), ("bias", (3,)), ("scale", (4,))]
    p = _problem((6, 3, 4), seed=2)
    ids = np.array([0, 0, 0, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5])
    w0 = np.asarray(p.w_star) + np.random.default_rng(1).standard_normal(p.d)
    spec = AdamMini(lr=3e-2, eps=1e-8, partition=ids)
    _compare(p, named, spec, w0, lr=3e-2, betas=(0.9, 0.999), eps=1e-8)


def test_a_wrong_partition_is_caught():
    """The comparison can fail: one v for the whole 'mlp' matrix is not the package's per-row v."""
    named = [("mlp", (2, 3)), ("scale", (4,))]
    p = _problem((6, 4), seed=3)
    w0 = np.asarray(p.w_star) + np.random.default_rng(2).standard_normal(p.d)
    with pytest.raises(AssertionError):
        _compare(p, named, AdamMini(lr=3e-2, partition="blocks"), w0, lr=3e-2, betas=(0.9, 0.999), eps=1e-8)
