"""A ``BlockQuadratic`` whose blocks carry measured spectra — "Case 1 from a real network".

``from_spectra(record)`` turns per-block spectra (a ``networks.BlockSpectra`` record from
``blockwise_spectra``, or plain per-block eigenvalue arrays / ``SpectralNodes``) into a
block-diagonal quadratic H_l = Q_l Λ_l Q_lᵀ (THEORY §1 generator) in three steps:

1. **Eigenvalues per block.** Exact spectra are used as they are. SLQ nodes (θ_k, w_k) are a
   discrete measure, not d_l eigenvalues: block l gets the d_l quantiles λ_i = F⁻¹((i − ½)/d_l)
   of that measure (for equal weights 1/d_l on d_l nodes this returns the nodes exactly).
   ``max_block_size`` caps d_l (quantiles again), for SLQ records of large blocks.
2. **Sign handling** (a real network's block Hessians are indefinite at initialisation),
   ``mode``:

   * ``'signed'`` — keep λ as measured. Only allowed with ``kappa`` (or if every λ > 0): the
     common affine map of step 3 is then Zhang et al.'s "common shift and proportional scaling"
     (THEORY §6, Case 1) — negative curvature becomes small positive curvature.
   * ``'abs'`` — λ ← |λ|, the magnitude spectrum; the same fold the log-mode JS⁰ uses
     (``spectral_density``, THEORY §7), so the quadratic's log JS⁰ equals the record's.
   * ``'positive'`` — λ ← max(λ, 0): the positive part, negative directions flattened.

   Default (``mode=None``): ``'signed'`` when ``kappa`` is given, ``'abs'`` otherwise.
3. **Scale.** With ``kappa``: one common affine map over all blocks to [λ_top/κ, λ_top]
   (``spectra.rescale(lam_min_of=union)``; λ_top = ``lam_max``, default κ so that λ_min = 1, as
   the catalog's Case 1), hence κ(H) = ``kappa`` exactly. Without: values are floored at
   ``floor`` × max|λ| (default 1e-12 = the log-mode floor of THEORY §7, so zero modes of the
   network stay visible as the flattest directions of an SPD H) and otherwise kept.

Block shapes: a record's ``shapes`` (the parameter tensors' matrix shapes, biases None) become
the quadratic's ``shapes``, so matrix-aware optimizers see the network's matrices; a block
reduced by ``max_block_size`` no longer has its tensor's size and becomes a vector block.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import spectra as _spectra
from .quadratic import BlockQuadratic, block_quadratic
from .spectral_density import LOG_FLOOR, SpectralNodes
from .validation import finite_array, integer, one_of, positive

MODES = ("signed", "abs", "positive")


def quantile_eigenvalues(nodes, weights, size: int) -> np.ndarray:
    """``size`` eigenvalues λ_i = F⁻¹((i − ½)/size), i = 1..size, of the measure Σ w_k δ(θ_k).

    F⁻¹(u) = the smallest θ_k (sorted) whose cumulative weight reaches u. With ``size`` equal
    weights on ``size`` nodes this returns the sorted nodes exactly.
    """
    nodes = finite_array("nodes", nodes, ndim=1)
    weights = finite_array("weights", weights, ndim=1)
    size = integer("size", size, minimum=1)
    if nodes.shape != weights.shape:
        raise ValueError(f"nodes and weights must have the same length, got {nodes.size} and {weights.size}")
    if np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError("weights must be >= 0 with a positive sum")
    order = np.argsort(nodes, kind="stable")
    cdf = np.cumsum(weights[order]) / weights.sum()
    u = (np.arange(size) + 0.5) / size
    return nodes[order][np.minimum(np.searchsorted(cdf, u, side="left"), nodes.size - 1)]


def _per_block(record):
    """(names, sizes, list of (nodes, weights)) from a record or a sequence of spectra."""
    spectra = getattr(record, "spectra", record)
    if isinstance(spectra, (str, bytes, np.ndarray)) or not isinstance(spectra, Sequence):
        raise TypeError("record must be a BlockSpectra (blockwise_spectra) or a sequence of per-block spectra "
                        f"(SpectralNodes or 1-D eigenvalue arrays), got {type(record).__name__}")
    if not spectra:
        raise ValueError("record must contain at least one block, got 0")
    pairs = []
    for l, s in enumerate(spectra):
        if isinstance(s, SpectralNodes):
            pairs.append((np.asarray(s.nodes), np.asarray(s.weights)))
        else:
            eigs = finite_array(f"record[{l}]", s, ndim=1)
            pairs.append((eigs, np.full(eigs.size, 1.0 / eigs.size)))
    names = tuple(getattr(record, "names", (f"block{l}" for l in range(len(pairs)))))
    sizes = getattr(record, "sizes", None)
    if sizes is None:  # without a record, a block has as many eigenvalues as nodes
        sizes = tuple(n.size for n, _ in pairs)
    return names, tuple(int(s) for s in sizes), pairs


def from_spectra(record, *, kappa: float | None = None, mode: str | None = None, rotation: str = "haar",
                 seed: int = 0, lam_max: float | None = None, floor: float = LOG_FLOOR,
                 max_block_size: int | None = None, name: str = "from-spectra", shapes=None) -> BlockQuadratic:
    """A block-diagonal quadratic whose block l has the spectrum of ``record``'s block l.

    Parameters
    ----------
    record : BlockSpectra, or sequence of SpectralNodes / 1-D eigenvalue arrays
        Per-block spectra (see the module docstring for how SLQ nodes become eigenvalues).
    kappa : float > 1, optional
        Target κ(H), reached exactly by one common affine map over all blocks (THEORY §6).
    mode : {'signed', 'abs', 'positive'}, optional
        How eigenvalues ≤ 0 are handled (module docstring, step 2). Default: 'signed' with
        ``kappa``, 'abs' without.
    rotation : {'haar', 'givens', 'identity'}
    seed : int >= 0
        Rotations (``block_quadratic``: one child stream per block).
    lam_max : float > 0, optional
        λ_max(H) after the map (only with ``kappa``; default ``kappa``, i.e. λ_min(H) = 1).
    floor : float in (0, 1)
        Without ``kappa``: every λ is raised to at least floor·max|λ| (makes H SPD).
    max_block_size : int >= 1, optional
        Represent larger blocks by this many quantile eigenvalues.
    name : str
    shapes : sequence of (r, c) or None, optional
        Matrix shape per block (``BlockQuadratic.shapes``); default: the record's ``shapes``
        (None for every block without one). Blocks cut by ``max_block_size`` become vectors.

    Returns
    -------
    BlockQuadratic
        ``info`` holds 'block_names', 'mode', 'kappa', 'floor', 'source_sizes' and the rotation
        settings.

    Raises
    ------
    ValueError
        mode='signed' without ``kappa`` on a spectrum with λ ≤ 0; a spectrum that is all zero
        (abs/positive) or constant (with ``kappa`` ≠ 1); bad arguments.
    """
    if mode is None:
        mode = "signed" if kappa is not None else "abs"
    one_of("mode", mode, MODES)
    floor = positive("floor", floor)
    if floor >= 1:
        raise ValueError(f"floor must be < 1, got {floor}")
    if kappa is not None:
        kappa = positive("kappa", kappa)
        if kappa <= 1:
            raise ValueError(f"kappa must be > 1, got {kappa}")
    if lam_max is not None:
        if kappa is None:
            raise ValueError("lam_max applies only together with kappa")
        lam_max = positive("lam_max", lam_max)
    cap = None if max_block_size is None else integer("max_block_size", max_block_size, minimum=1)
    names, sizes, pairs = _per_block(record)
    if len(sizes) != len(pairs):
        raise ValueError(f"record has {len(pairs)} spectra but {len(sizes)} sizes")
    eigs = [quantile_eigenvalues(n, w, s if cap is None else min(s, cap)) for (n, w), s in zip(pairs, sizes)]
    if mode == "abs":
        eigs = [np.abs(e) for e in eigs]
    elif mode == "positive":
        eigs = [np.maximum(e, 0.0) for e in eigs]
    union = np.concatenate(eigs)
    if kappa is not None:
        top = kappa if lam_max is None else lam_max
        eigs = [_spectra.rescale(e, kappa=kappa, lam_max=top, lam_min_of=union) for e in eigs]
    elif mode == "signed":
        if union.min() <= 0:
            raise ValueError(f"mode='signed' without kappa needs every eigenvalue > 0, got min {union.min():.3g}; "
                             "pass kappa= (common shift and scaling, THEORY §6) or mode='abs'/'positive'")
    else:
        scale = float(np.max(union))
        if scale <= 0:
            raise ValueError(f"mode={mode!r} leaves every eigenvalue <= 0; no SPD quadratic to build")
        eigs = [np.maximum(e, floor * scale) for e in eigs]
    p = block_quadratic(eigs, rotation=rotation, seed=seed, name=name)
    if shapes is None:
        shapes = tuple(getattr(record, "shapes", ())) or None
    if shapes is not None:
        shapes = [None if s is None or n != e.size else s for s, n, e in zip(shapes, sizes, eigs)] \
            if len(shapes) == len(eigs) else shapes  # a wrong length is BlockQuadratic's one-line error
    return BlockQuadratic(p.blocks, name=name, shapes=shapes, info={
        **p.info, "block_names": list(names), "mode": mode, "kappa": kappa, "floor": floor,
        "source_sizes": list(sizes)})
