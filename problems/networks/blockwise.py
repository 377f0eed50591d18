"""Per-block Hessian spectra and gradient norms of a real torch network (THEORY §7, §8.1).

A *block* is a set of parameter entries: by default one parameter tensor (``partition=
"parameters"``), or any user mapping, e.g. Q/K/V rows of a fused attention weight
(``models.qkv_partition``). For block b with entries θ_b (all other parameters fixed) the
block Hessian H_b = ∂²ℓ/∂θ_b² is applied by Hessian-vector products, forward-over-reverse
(``torch.func.jvp`` of ``torch.func.grad``), batched with ``torch.func.vmap``:

* **exact** — H_b from n_b HVPs with the unit vectors, symmetrised, ``eigvalsh``;
* **slq** — stochastic Lanczos quadrature on the HVP operator with the THEORY §7 recipe
  (``spectral_density.slq_nodes``: n_v probes, m Lanczos steps, full re-orthogonalisation by
  default);
* **auto** — exact up to ``exact_max_size`` entries (default 2000, THEORY §7 [C]), SLQ above.

The spectra of a real network are indefinite at initialisation (negative and near-zero
eigenvalues). They are recorded as they are; ``BlockSpectra.js0`` uses
``spectral_density``'s conventions (log mode folds θ ≤ 0 to |θ| and floors |θ|/scale at 1e-12;
paper-lin is signed), and ``problems.from_spectra`` documents how a quadratic is built from them.

BatchNorm: a model in train mode is evaluated on a copy whose BatchNorm layers keep using batch
statistics but stop tracking running statistics (``torch.func.replace_all_batch_norm_modules_``),
so measuring never changes the model. torch is imported on first call only.
"""
from __future__ import annotations

import copy
import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..heterogeneity import gini as _gini
from ..quadratic import _seed_entropy
from ..spectral_density import EXACT_MAX_SIZE, METHODS, SpectralNodes, exact_nodes, js0_from_nodes, slq_nodes
from ..validation import frozen, integer, one_of

DEFAULT_CHUNK = 1024  # HVPs per vmap call: bounds memory at chunk × activations
DEFAULT_THREADS = 1  # tiny per-HVP work: intra-op threads cost more in synchronisation than they gain


class torch_threads:
    """Context: torch intra-op threads set to ``n`` (None: unchanged), restored on exit."""

    def __init__(self, n):
        self.n = None if n is None else integer("num_threads", n, minimum=1)

    def __enter__(self):
        import torch

        self.old = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.old)


@dataclass(frozen=True)
class ParameterBlock:
    """One block of a partition: ``entries`` = ((parameter name, flat positions or None), ...).

    ``None`` means the whole tensor (in its ``reshape(-1)`` order); otherwise an int64 array of
    positions in the flattened tensor, in the order they enter θ_b.
    """

    name: str
    entries: tuple
    size: int


@dataclass(frozen=True, eq=False)
class BlockSpectra:
    """Per-block Hessian spectra of a network's loss (from ``blockwise_spectra``).

    Attributes
    ----------
    names : tuple of str
        Block names (parameter names for ``partition='parameters'``, mapping keys otherwise).
    sizes : tuple of int
        Entries per block d_b.
    spectra : tuple of SpectralNodes
        Per block: exact eigenvalues (ascending, weights 1/d_b, ``method='exact'``) or SLQ Ritz
        nodes and Gauss weights (``method='slq'``, with ``n_v``, ``m``).
    method : {'auto', 'exact', 'slq'}
        What was requested (``methods`` says what each block used).
    n_v, m : int
        SLQ probes and Lanczos steps (used only by SLQ blocks; recorded always).
    reorthogonalize : bool
    exact_max_size : int
        'auto' switched to SLQ above this block size.
    seed : int
        SLQ probe seed (block b uses child stream b of ``SeedSequence(seed)``).
    loss : float
        The loss at the measured point.
    n_hvp : tuple of int
        Hessian-vector products used per block.
    seconds : tuple of float
        Wall time per block.
    model : str
        The module's class name.
    shapes : tuple of (rows, cols) or None
        Per block, the parameter tensor's matrix shape when the block is one whole tensor of
        ndim >= 2 (rows = shape[0], cols = the product of the rest: vec order = ``reshape(-1)``,
        row-major, as ``problems.BlockQuadratic.shapes``); None for vectors (biases, norms) and for
        blocks made of parts of tensors. Empty for records built before shapes were kept.
    """

    names: tuple
    sizes: tuple
    spectra: tuple
    method: str
    n_v: int
    m: int
    reorthogonalize: bool
    exact_max_size: int
    seed: int
    loss: float
    n_hvp: tuple
    seconds: tuple
    model: str = ""
    shapes: tuple = ()

    @property
    def n_blocks(self) -> int:
        return len(self.names)

    @property
    def d(self) -> int:
        return int(sum(self.sizes))

    @property
    def methods(self) -> tuple:
        """'exact' or 'slq' per block."""
        return tuple(s.method for s in self.spectra)

    @property
    def wall_time(self) -> float:
        return float(sum(self.seconds))

    @property
    def lam_min(self) -> np.ndarray:
        """Smallest eigenvalue (exact) or Ritz value (SLQ) per block; may be ≤ 0."""
        return np.array([float(s.nodes.min()) for s in self.spectra])

    @property
    def lam_max(self) -> np.ndarray:
        """Largest eigenvalue (exact) or Ritz value (SLQ) per block."""
        return np.array([float(s.nodes.max()) for s in self.spectra])

    @property
    def block_kappas(self) -> np.ndarray:
        """κ_b = λ_max/λ_min where λ_min > 0, NaN for a block that is not positive definite."""
        lo, hi = self.lam_min, self.lam_max
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.nan)

    @property
    def negative_mass(self) -> np.ndarray:
        """Spectral weight of eigenvalues < 0 per block (fraction of eigenvalues for exact blocks)."""
        return np.array([float(s.weights[s.nodes < 0].sum()) for s in self.spectra])

    def eigenvalues(self, block) -> np.ndarray:
        """Exact eigenvalues of ``block`` (name or index); ValueError for an SLQ block."""
        l = self.index(block)
        s = self.spectra[l]
        if s.method != "exact":
            raise ValueError(f"block {self.names[l]!r} has SLQ nodes, not eigenvalues (method={s.method!r})")
        return s.nodes

    def index(self, block) -> int:
        """Position of ``block`` (a name or an int index)."""
        if isinstance(block, str):
            if block not in self.names:
                raise ValueError(f"unknown block {block!r}; blocks: {', '.join(self.names)}")
            return self.names.index(block)
        l = integer("block", block, minimum=-self.n_blocks)
        if l >= self.n_blocks:
            raise ValueError(f"block index must be < {self.n_blocks}, got {l}")
        return l % self.n_blocks

    def js0(self, *, mode: str = "log") -> float:
        """JS⁰ of the blocks' densities (THEORY §7; ``spectral_density.js0_from_nodes``).

        ``mode='log'`` (default) uses |θ| (nodes ≤ 0 folded) and floors |θ|/λ_scale at 1e-12;
        ``'paper-lin'`` uses the signed θ/λ_scale. λ_scale = max |θ| over all blocks.
        """
        return js0_from_nodes(self.spectra, mode=mode)


@dataclass(frozen=True, eq=False)
class BlockGradients:
    """Per-block gradient norms of a network's loss and their Gini (THEORY §8.1).

    Attributes
    ----------
    names, sizes : tuple
        As in ``BlockSpectra``.
    norms : (B,) array
        ‖g_b‖.
    loss : float
    """

    names: tuple
    sizes: tuple
    norms: np.ndarray
    loss: float

    @property
    def x(self) -> np.ndarray:
        """x_b = ‖g_b‖/√d_b, the per-coordinate norms whose Gini [T] uses."""
        return self.norms / np.sqrt(np.asarray(self.sizes, dtype=float))

    @property
    def gini(self) -> float:
        """Gini of x_b (THEORY §8.1; ``heterogeneity.gini``)."""
        return _gini(self.x)

    @property
    def share(self) -> np.ndarray:
        """‖g_b‖²/‖g‖², the share of the squared gradient norm (sums to 1; THEORY §8.2 weights)."""
        sq = self.norms ** 2
        return sq / sq.sum()


# -- partitions ---------------------------------------------------------------------------------
def _entries_of(block: str, spec) -> list:
    """A mapping value as a list of (parameter name, index or None)."""
    if isinstance(spec, str):
        return [(spec, None)]
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and not isinstance(spec[1], str):
        return [spec]
    if isinstance(spec, (list, tuple)) and spec:
        return [e for item in spec for e in _entries_of(block, item)]
    raise TypeError(f"partition[{block!r}] must be a parameter name, a (name, index) pair or a non-empty "
                    f"list of those, got {spec!r}")


def resolve_partition(model, partition="parameters") -> tuple[ParameterBlock, ...]:
    """The blocks of ``partition`` over the trainable parameters of ``model``, validated.

    Parameters
    ----------
    model : torch.nn.Module
    partition : 'parameters' or mapping
        'parameters': one block per trainable parameter tensor, named as in
        ``named_parameters()``. A mapping ``{block name: entries}`` where entries is a parameter
        name (the whole tensor), a pair ``(name, index)`` with any numpy index into the tensor's
        shape (e.g. ``("attn.qkv.weight", slice(0, 16))`` for its first 16 rows), or a list of
        those. The blocks must cover every trainable entry exactly once.

    Returns
    -------
    tuple of ParameterBlock
    """
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise ValueError("model has no trainable parameters")
    if isinstance(partition, str):
        one_of("partition", partition, ("parameters",))
        return tuple(ParameterBlock(n, ((n, None),), int(p.numel())) for n, p in params.items())
    if not isinstance(partition, Mapping):
        raise TypeError(f"partition must be 'parameters' or a mapping {{block: entries}}, got {type(partition).__name__}")
    if not partition:
        raise ValueError("partition must contain at least one block, got an empty mapping")
    counts = {n: np.zeros(p.numel(), dtype=np.int64) for n, p in params.items()}
    blocks = []
    for bname, spec in partition.items():
        entries = []
        for pname, index in _entries_of(str(bname), spec):
            if pname not in params:
                raise ValueError(f"partition[{bname!r}]: unknown trainable parameter {pname!r}; "
                                 f"parameters: {', '.join(params)}")
            numel = int(params[pname].numel())
            if index is None:
                pos = np.arange(numel)
            else:
                try:
                    pos = np.asarray(np.arange(numel).reshape(tuple(params[pname].shape))[index]).ravel()
                except (IndexError, TypeError, ValueError) as exc:
                    raise ValueError(f"partition[{bname!r}]: bad index {index!r} for {pname} of shape "
                                     f"{tuple(params[pname].shape)}: {exc}") from None
            if pos.size == 0:
                raise ValueError(f"partition[{bname!r}]: index {index!r} selects no entry of {pname}")
            np.add.at(counts[pname], pos, 1)
            whole = pos.size == numel and np.array_equal(pos, np.arange(numel))
            entries.append((pname, None if whole else frozen(pos.astype(np.int64))))
        blocks.append(ParameterBlock(str(bname), tuple(entries), int(sum(
            params[n].numel() if i is None else i.size for n, i in entries))))
    twice = [n for n, c in counts.items() if np.any(c > 1)]
    if twice:
        raise ValueError(f"partition covers entries of {', '.join(twice)} more than once; blocks must be disjoint")
    missing = [f"{n} ({int(np.sum(c == 0))} of {c.size})" for n, c in counts.items() if np.any(c == 0)]
    if missing:
        raise ValueError(f"partition does not cover every trainable parameter; uncovered entries in: {', '.join(missing)}")
    return tuple(blocks)


# -- the loss as a function of one block ----------------------------------------------------------
class _Loss:
    """ℓ(θ) of a model on one batch, with parameters swapped in functionally (torch.func)."""

    def __init__(self, model, loss_fn, batch):
        import torch
        from torch.func import replace_all_batch_norm_modules_

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable (outputs, targets) -> scalar, got {type(loss_fn).__name__}")
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError("batch must be an (inputs, targets) pair; the loss is loss_fn(model(inputs), targets)")
        if model.training and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            model = copy.deepcopy(model)
            replace_all_batch_norm_modules_(model)  # batch statistics, no running-stat updates
        self.torch = torch
        self.model, self.loss_fn = model, loss_fn
        self.inputs, self.targets = batch
        self.state = {**dict(model.named_buffers()), **{n: p.detach() for n, p in model.named_parameters()}}

    def __call__(self, params: dict):
        from torch.func import functional_call

        out = functional_call(self.model, {**self.state, **params}, (self.inputs,))
        loss = self.loss_fn(out, self.targets)
        if loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
        return loss

    def theta(self, block: ParameterBlock):
        """θ_b, the block's current entries as one flat tensor."""
        return _gather(self.torch, self.state, block)

    def of_block(self, block: ParameterBlock):
        """θ_b ↦ ℓ with every other entry fixed."""
        torch = self.torch
        index = {n: (None if i is None else torch.as_tensor(np.array(i))) for n, i in block.entries}
        splits = [self.state[n].numel() if i is None else i.size for n, i in block.entries]

        def f(theta):
            params = {}
            for (n, _), part in zip(block.entries, torch.split(theta, splits)):
                p = self.state[n]
                flat = part if index[n] is None else p.reshape(-1).index_copy(0, index[n], part)
                params[n] = flat.reshape(p.shape)
            return self(params)

        return f


def _gather(torch, tensors: dict, block: ParameterBlock):
    """The block's entries of ``tensors`` (name → tensor shaped like the parameter) as one flat tensor."""
    return torch.cat([tensors[n].reshape(-1) if i is None else tensors[n].reshape(-1)[torch.as_tensor(np.array(i))]
                      for n, i in block.entries])


def _select(blocks: tuple, block) -> ParameterBlock:
    """The block named ``block`` (str) or at index ``block`` (int) of a resolved partition."""
    names = [b.name for b in blocks]
    if isinstance(block, str):
        if block not in names:
            raise ValueError(f"unknown block {block!r}; blocks: {', '.join(names)}")
        return blocks[names.index(block)]
    l = integer("block", block, minimum=0)
    if l >= len(blocks):
        raise ValueError(f"block index must be < {len(blocks)}, got {l}")
    return blocks[l]


def _hvp_operator(loss: _Loss, block: ParameterBlock, chunk: int):
    """V (k, d_b) ↦ V H_b (k, d_b) by batched forward-over-reverse HVPs."""
    from torch.func import grad, jvp, vmap

    f = loss.of_block(block)
    theta = loss.theta(block)
    g = grad(f)
    return vmap(lambda v: jvp(g, (theta,), (v,))[1], chunk_size=chunk)


def _dense(hvp, size: int, dtype) -> np.ndarray:
    import torch

    h = hvp(torch.eye(size, dtype=dtype)).detach().cpu().numpy().astype(np.float64)
    return 0.5 * (h + h.T)  # HVP round-off leaves ~1e-16 asymmetry


def block_hessian(model, loss_fn, batch, *, block, partition="parameters", chunk: int = DEFAULT_CHUNK,
                  num_threads: int | None = DEFAULT_THREADS) -> np.ndarray:
    """The dense Hessian H_b of the loss with respect to one block (d_b HVPs), float64, symmetrised.

    Parameters
    ----------
    model, loss_fn, batch
        As in ``blockwise_spectra``.
    block : str or int
        A block name of ``partition`` or its index.
    partition : 'parameters' or mapping
        See ``resolve_partition``.
    chunk : int >= 1
        HVPs per vectorised call.
    num_threads : int >= 1 or None
        torch intra-op threads while measuring (restored after); None leaves them unchanged.
    """
    chunk = integer("chunk", chunk, minimum=1)
    b = _select(resolve_partition(model, partition), block)
    loss = _Loss(model, loss_fn, batch)
    with torch_threads(num_threads):
        return _dense(_hvp_operator(loss, b, chunk), b.size, loss.theta(b).dtype)


class _CountingOperator:
    """A scipy LinearOperator over the HVP that counts the products it makes."""

    def __init__(self, hvp, size: int, dtype):
        import scipy.sparse.linalg
        import torch

        self.count = 0

        def matmat(x):
            self.count += x.shape[1]
            v = torch.from_numpy(np.ascontiguousarray(x.T)).to(dtype)
            return hvp(v).detach().cpu().numpy().astype(np.float64).T

        self.op = scipy.sparse.linalg.LinearOperator((size, size), matvec=lambda x: matmat(x[:, None])[:, 0],
                                                     matmat=matmat, dtype=np.float64)


def blockwise_spectra(model, loss_fn, batch, *, partition="parameters", method: str = "auto", n_v: int = 10,
                      m: int = 100, seed: int = 0, reorthogonalize: bool = True,
                      exact_max_size: int = EXACT_MAX_SIZE, chunk: int = DEFAULT_CHUNK,
                      num_threads: int | None = DEFAULT_THREADS) -> BlockSpectra:
    """Hessian spectrum of the loss restricted to each parameter block (THEORY §7).

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated in its current mode at its current parameters (not modified).
    loss_fn : callable
        ``loss_fn(model(inputs), targets)`` -> scalar tensor.
    batch : (inputs, targets)
    partition : 'parameters' or mapping
        One block per parameter tensor (default), or ``{block: entries}`` (``resolve_partition``;
        ``models.qkv_partition`` splits Q/K/V or heads).
    method : {'auto', 'exact', 'slq'}
        'exact': dense H_b from d_b HVPs + eigvalsh; 'slq': stochastic Lanczos quadrature with
        ``n_v`` probes × ``m`` steps; 'auto': exact for d_b ≤ ``exact_max_size``, SLQ above.
    n_v, m : int >= 1
        SLQ probes and Lanczos steps (official recipe: 10 and 100; THEORY §7).
    seed : int >= 0
        SLQ probes; block b uses child b of ``SeedSequence(seed)``.
    reorthogonalize : bool
        Full re-orthogonalisation in Lanczos (default True; see ``spectral_density.slq_nodes``).
    exact_max_size : int >= 1
    chunk : int >= 1
        HVPs per vectorised call (memory ∝ chunk).
    num_threads : int >= 1 or None
        torch intra-op threads while measuring (default 1, restored after: each HVP is tiny and
        thread synchronisation dominates, badly so on a shared machine); None leaves them as set.

    Returns
    -------
    BlockSpectra
    """
    one_of("method", method, METHODS)
    n_v = integer("n_v", n_v, minimum=1)
    m = integer("m", m, minimum=1)
    seed = integer("seed", seed, minimum=0)
    exact_max_size = integer("exact_max_size", exact_max_size, minimum=1)
    chunk = integer("chunk", chunk, minimum=1)
    torch_threads(num_threads)  # validate before any work
    blocks = resolve_partition(model, partition)
    loss = _Loss(model, loss_fn, batch)
    with loss.torch.no_grad():
        value = float(loss({}))
    streams = np.random.SeedSequence(_seed_entropy(seed)).spawn(len(blocks))
    with torch_threads(num_threads):
        spectra, n_hvp, seconds = _measure(loss, blocks, streams, method=method, n_v=n_v, m=m,
                                           reorthogonalize=reorthogonalize, exact_max_size=exact_max_size, chunk=chunk)
    return BlockSpectra(names=tuple(b.name for b in blocks), sizes=tuple(b.size for b in blocks),
                        spectra=tuple(spectra), method=method, n_v=n_v, m=m, reorthogonalize=bool(reorthogonalize),
                        exact_max_size=exact_max_size, seed=seed, loss=value, n_hvp=tuple(n_hvp),
                        seconds=tuple(seconds), model=type(model).__name__,
                        shapes=tuple(_matrix_shape(b, model) for b in blocks))


def _matrix_shape(block: ParameterBlock, model):
    """(rows, cols) of a block that is one whole parameter tensor of ndim >= 2, else None."""
    if len(block.entries) != 1 or block.entries[0][1] is not None:
        return None
    shape = tuple(dict(model.named_parameters())[block.entries[0][0]].shape)
    return (int(shape[0]), int(np.prod(shape[1:]))) if len(shape) >= 2 else None


def _measure(loss, blocks, streams, *, method, n_v, m, reorthogonalize, exact_max_size, chunk):
    """Nodes, HVP counts and seconds per block."""
    spectra, n_hvp, seconds = [], [], []
    for b, ss in zip(blocks, streams):
        start = time.perf_counter()
        hvp = _hvp_operator(loss, b, chunk)
        dtype = loss.theta(b).dtype
        if method == "slq" or (method == "auto" and b.size > exact_max_size):
            counter = _CountingOperator(hvp, b.size, dtype)
            spectra.append(slq_nodes(counter.op, n_v=n_v, m=m, seed=np.random.default_rng(ss),
                                     reorthogonalize=reorthogonalize))
            n_hvp.append(counter.count)
        else:
            spectra.append(exact_nodes(_dense(hvp, b.size, dtype)))
            n_hvp.append(b.size)
        seconds.append(time.perf_counter() - start)
    return spectra, n_hvp, seconds


def blockwise_gradients(model, loss_fn, batch, *, partition="parameters") -> BlockGradients:
    """Per-block gradient norms ‖g_b‖ of the loss and their Gini (THEORY §8.1).

    Parameters
    ----------
    model, loss_fn, batch, partition
        As in ``blockwise_spectra``.

    Returns
    -------
    BlockGradients
        ``.norms``, ``.x`` = ‖g_b‖/√d_b, ``.gini`` (of x), ``.share`` = ‖g_b‖²/‖g‖².
    """
    blocks = resolve_partition(model, partition)
    loss = _Loss(model, loss_fn, batch)
    grads, value = _gradient(loss, blocks)
    norms = [float(loss.torch.linalg.vector_norm(_gather(loss.torch, grads, b))) for b in blocks]
    return BlockGradients(names=tuple(b.name for b in blocks), sizes=tuple(b.size for b in blocks),
                          norms=frozen(np.array(norms)), loss=float(value))


def _gradient(loss: _Loss, blocks: tuple):
    """(name → ∂ℓ/∂parameter for every parameter the blocks touch, ℓ) in one reverse pass."""
    from torch.func import grad_and_value

    return grad_and_value(loss)({n: loss.state[n] for b in blocks for n, _ in b.entries})


def block_gradient(model, loss_fn, batch, *, block, partition="parameters") -> np.ndarray:
    """g_b: the gradient of the loss restricted to one block, flat, in the block's entry order.

    Parameters
    ----------
    model, loss_fn, batch, partition
        As in ``blockwise_spectra``.
    block : str or int
        A block name of ``partition`` or its index (as in ``block_hessian``).
    """
    b = _select(resolve_partition(model, partition), block)
    loss = _Loss(model, loss_fn, batch)
    grads, _ = _gradient(loss, (b,))
    return _gather(loss.torch, grads, b).detach().cpu().numpy().astype(np.float64)


@functools.lru_cache(maxsize=16)
def reference_spectra(name: str, *, seed: int = 0, method: str = "auto", n_v: int = 10, m: int = 100) -> BlockSpectra:
    """``blockwise_spectra`` of ``models.reference_model(name, seed=seed)``, cached per process.

    Per-parameter partition; the catalog entries ``real-*-blocks`` and the ``hetquad spectra``
    command use it, so a figure that asks twice pays once.
    """
    from .models import reference_model

    rm = reference_model(name, seed=seed)
    return blockwise_spectra(rm.model, rm.loss_fn, rm.batch, method=method, n_v=n_v, m=m, seed=seed)
