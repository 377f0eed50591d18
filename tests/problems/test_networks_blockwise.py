"""Block Hessians, spectra and gradient norms of torch models (problems.networks; THEORY §7, §8.1).

Known answers: the block Hessian from batched HVPs equals the matching diagonal block of
``torch.autograd.functional.hessian`` of the whole loss; SLQ densities match the exact ones within
the THEORY §7 tolerance; block gradient norms equal the per-tensor norms from ``loss.backward()``.
"""
import copy

import numpy as np
import pytest
import torch
from torch.func import functional_call

from hetquad.problems.networks import (block_gradient, block_hessian, blockwise_gradients, blockwise_spectra, models,
                                       qkv_partition, resolve_partition)
from hetquad.problems.spectral_density import densities_from_nodes, js_distance


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny_mlp(seed=0):
    return models.mlp(seed=seed, sizes=(3, 4, 3), batch_size=5)


def tiny_cnn(seed=0):
    return models.cnn(seed=seed, channels=(2, 2), image_size=3, n_classes=3, batch_size=4)


def full_hessian(rm):
    """The Hessian of the loss in all parameters (named_parameters order), by autograd.functional."""
    model = copy.deepcopy(rm.model)  # train-mode BatchNorm updates running stats of the copy only
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(flat):
        params = {n: t.reshape(s) for n, t, s in zip(names, torch.split(flat, sizes), shapes)}
        return rm.loss_fn(functional_call(model, params, (rm.batch[0],)), rm.batch[1])

    h = torch.autograd.functional.hessian(loss, flat0, vectorize=True).numpy()
    offsets = dict(zip(names, np.cumsum([0] + sizes[:-1])))
    return h, offsets


def positions(offsets, rm, entries):
    """Global flat positions of a block's entries ((name, None | flat positions), ...)."""
    numel = dict((n, p.numel()) for n, p in rm.model.named_parameters())
    return np.concatenate([offsets[n] + (np.arange(numel[n]) if i is None else i) for n, i in entries])


@pytest.mark.parametrize("make", [tiny_mlp, tiny_cnn])
def test_block_hessian_equals_autograd_hessian(make):
    rm = make()
    h, offsets = full_hessian(rm)
    blocks = resolve_partition(rm.model)
    for b in blocks:
        idx = positions(offsets, rm, b.entries)
        hb = block_hessian(rm.model, rm.loss_fn, rm.batch, block=b.name)
        np.testing.assert_allclose(hb, h[np.ix_(idx, idx)], rtol=0, atol=1e-10)
    rec = blockwise_spectra(rm.model, rm.loss_fn, rm.batch, method="exact")
    for b, spec in zip(blocks, rec.spectra):
        idx = positions(offsets, rm, b.entries)
        np.testing.assert_allclose(spec.nodes, np.linalg.eigvalsh(h[np.ix_(idx, idx)]), rtol=0, atol=1e-10)
    assert rec.methods == ("exact",) * len(blocks) and rec.n_hvp == rec.sizes


def test_mapping_partition_splits_tensors():
    rm = tiny_mlp()
    h, offsets = full_hessian(rm)
    # rows 0–1 of the first weight together with the last bias; the rest of the first weight alone
    mapping = {"mixed": [("layers.0.weight", slice(0, 2)), "layers.1.bias"],
               "w0_rest": ("layers.0.weight", slice(2, None)),
               "b0": "layers.0.bias", "w1": "layers.1.weight"}
    blocks = resolve_partition(rm.model, mapping)
    assert [b.size for b in blocks] == [2 * 3 + 3, 2 * 3, 4, 12]
    for b in blocks:
        idx = positions(offsets, rm, b.entries)
        hb = block_hessian(rm.model, rm.loss_fn, rm.batch, block=b.name, partition=mapping)
        np.testing.assert_allclose(hb, h[np.ix_(idx, idx)], rtol=0, atol=1e-10)


def test_partition_errors():
    rm = tiny_mlp()
    whole = {"a": "layers.0.weight", "b": "layers.0.bias", "c": "layers.1.weight", "d": "layers.1.bias"}
    assert len(resolve_partition(rm.model, whole)) == 4
    with pytest.raises(ValueError, match="more than once"):
        resolve_partition(rm.model, {**whole, "e": ("layers.0.weight", 0)})
    with pytest.raises(ValueError, match="does not cover.*layers.1.bias"):
        resolve_partition(rm.model, {k: v for k, v in whole.items() if k != "d"})
    with pytest.raises(ValueError, match="unknown trainable parameter 'nope'"):
        resolve_partition(rm.model, {**whole, "e": "nope"})
    with pytest.raises(ValueError, match="bad index"):
        resolve_partition(rm.model, {**whole, "a": ("layers.0.weight", (slice(None), 7))})
    with pytest.raises(TypeError, match="partition\\['a'\\]"):
        resolve_partition(rm.model, {**whole, "a": 3})
    with pytest.raises(ValueError, match="partition must be one of"):
        resolve_partition(rm.model, "tensors")
    with pytest.raises(TypeError, match="batch must be"):
        blockwise_spectra(rm.model, rm.loss_fn, rm.batch[0])
    with pytest.raises(ValueError, match="method must be one of"):
        blockwise_spectra(rm.model, rm.loss_fn, rm.batch, method="lanczos")


def test_measuring_leaves_the_model_unchanged():
    rm = tiny_cnn()
    before = {k: v.clone() for k, v in rm.model.state_dict().items()}
    blockwise_spectra(rm.model, rm.loss_fn, rm.batch)
    blockwise_gradients(rm.model, rm.loss_fn, rm.batch)
    for k, v in rm.model.state_dict().items():
        assert torch.equal(v, before[k]), k  # includes BatchNorm running statistics
    assert rm.model.training


def test_slq_matches_exact_within_theory_tolerance():
    """THEORY §7: with m ≥ d_b and re-orthogonalisation, SLQ density error ∝ n_v^{-1/2}
    (max JS 0.065 at n_v = 10, 0.022 at n_v = 100); we allow 0.065 at n_v = 100."""
    rm = models.mlp(seed=1, sizes=(4, 6, 3), batch_size=8)
    exact = blockwise_spectra(rm.model, rm.loss_fn, rm.batch, method="exact")
    slq = blockwise_spectra(rm.model, rm.loss_fn, rm.batch, method="slq", n_v=100, m=40, seed=3)
    assert slq.methods == ("slq",) * exact.n_blocks and slq.n_v == 100
    assert all(n <= 100 * min(40, s) for n, s in zip(slq.n_hvp, slq.sizes))
    for mode in ("log", "paper-lin"):
        scale = float(max(np.abs(s.nodes).max() for s in exact.spectra))
        de = densities_from_nodes(exact.spectra, mode=mode, scale=scale)
        ds = densities_from_nodes(slq.spectra, mode=mode, scale=scale)
        # the grids differ only if SLQ extremes differ; compare on the exact grid by re-smoothing both
        assert np.allclose(de.grid, ds.grid, atol=1e-6)
        js = [js_distance(a, b) for a, b in zip(de.masses, ds.masses)]
        assert max(js) <= 0.065, (mode, js)
        # the check can fail: a block against another block's SLQ density is far off
        assert js_distance(de.masses[0], ds.masses[-1]) > 0.065
    np.testing.assert_allclose(slq.lam_max, exact.lam_max, rtol=1e-8)  # extreme Ritz values converge


def test_auto_switches_to_slq_above_the_size_limit():
    rm = tiny_mlp()
    rec = blockwise_spectra(rm.model, rm.loss_fn, rm.batch, exact_max_size=5, n_v=3, m=4)
    assert rec.methods == tuple("slq" if s > 5 else "exact" for s in rec.sizes)
    with pytest.raises(ValueError, match="SLQ nodes"):
        rec.eigenvalues("layers.0.weight")
    assert rec.eigenvalues("layers.0.bias").size == 4


def test_gradients_match_backward_and_gini():
    rm = models.transformer(seed=2, vocab=5, d_model=4, n_heads=2, seq_len=3, mlp_ratio=1, batch_size=2)
    model = copy.deepcopy(rm.model)
    rm.loss_fn(model(rm.batch[0]), rm.batch[1]).backward()
    by_tensor = {n: float(p.grad.norm()) for n, p in model.named_parameters()}
    g = blockwise_gradients(rm.model, rm.loss_fn, rm.batch)
    np.testing.assert_allclose(g.norms, [by_tensor[n] for n in g.names], rtol=1e-12)
    x = g.norms / np.sqrt(g.sizes)
    gini_pairs = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size ** 2 * x.mean())  # THEORY §8.1, 2nd form
    assert g.gini == pytest.approx(gini_pairs, rel=1e-12)
    assert g.share.sum() == pytest.approx(1.0, rel=1e-12)
    # Q/K/V split: the three blocks' squared norms add up to the fused tensor's
    for heads in (False, True):
        part = qkv_partition(rm.model, heads=heads)
        gs = blockwise_gradients(rm.model, rm.loss_fn, rm.batch, partition=part)
        fused = [i for i, n in enumerate(gs.names) if ".attn.qkv." in n and n.endswith(".weight")]
        assert len(fused) == (6 if heads else 3)
        assert np.sum(gs.norms[fused] ** 2) == pytest.approx(by_tensor["blocks.0.attn.qkv.weight"] ** 2, rel=1e-12)
        assert sum(gs.sizes) == rm.n_params
    # one block's gradient vector: the backward() entries the mapping selects, in its order
    part = {"rows": ("blocks.0.fc.weight", np.s_[[2, 0], :]),
            "rest": [("blocks.0.fc.weight", np.s_[[1, 3], :]),
                     *[n for n, _ in rm.model.named_parameters() if n != "blocks.0.fc.weight"]]}
    grad_fc = dict(model.named_parameters())["blocks.0.fc.weight"].grad.numpy()
    np.testing.assert_allclose(block_gradient(rm.model, rm.loss_fn, rm.batch, block="rows", partition=part),
                               grad_fc[[2, 0], :].ravel(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(block_gradient(rm.model, rm.loss_fn, rm.batch, block=0),
                               dict(model.named_parameters())[g.names[0]].grad.numpy().ravel(), rtol=1e-12)
    with pytest.raises(ValueError, match="unknown block 'nope'"):
        block_gradient(rm.model, rm.loss_fn, rm.batch, block="nope")


def test_transformer_qkv_block_hessian():
    rm = models.transformer(seed=0, vocab=5, d_model=4, n_heads=2, seq_len=3, mlp_ratio=1, batch_size=2)
    h, offsets = full_hessian(rm)
    part = qkv_partition(rm.model)
    for b in resolve_partition(rm.model, part):
        if ".attn.qkv." in b.name:
            idx = positions(offsets, rm, b.entries)
            hb = block_hessian(rm.model, rm.loss_fn, rm.batch, block=b.name, partition=part)
            np.testing.assert_allclose(hb, h[np.ix_(idx, idx)], rtol=0, atol=1e-10)
