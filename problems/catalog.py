"""Named problems from the papers, by one call: ``get(name, seed=..., **overrides)``.

Each entry is a small function whose keyword arguments are the overridable parameters and whose
docstring states its source (seed file + figure/section) and which parts are our choices [C]
(THEORY marks them). ``names()`` lists the entries; an unknown name or parameter raises
``ValueError`` saying what is allowed.

Every entry returns a problem whose ``name`` is the catalog name and whose ``info`` holds
``catalog`` (the name), ``params`` (all parameters, defaults filled in) and ``seed``.
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect

import numpy as np

from . import quadratic as _quad
from . import spectra as _spectra
from . import tau as _tau
from .heterogeneity import initial_point
from .linear_head import linear_head as _linear_head
from .validation import frozen, in_range, integer, one_of, real

_REGISTRY: dict = {}


def _entry(name: str):
    def register(fn):
        _REGISTRY[name] = fn
        return fn
    return register


def names() -> list[str]:
    """Catalog entry names, in registration order."""
    return list(_REGISTRY)


def parameters(name: str) -> dict:
    """The overridable parameters of entry ``name`` with their defaults."""
    fn = _lookup(name)
    return {k: v.default for k, v in inspect.signature(fn).parameters.items() if k != "seed"}


def _lookup(name: str):
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown problem {name!r}{hint} Known problems: {', '.join(names())}")
    return _REGISTRY[name]


def get(name: str, *, seed: int = 0, **overrides):
    """Build catalog problem ``name``.

    Parameters
    ----------
    name : str
        One of ``names()``.
    seed : int >= 0
        Seeds every random part of the entry (spectra, rotations, initial points, data).
    **overrides
        Entry parameters (see ``parameters(name)`` or the entry's docstring).

    Returns
    -------
    BlockQuadratic or LinearHead
    """
    fn = _lookup(name)
    seed = integer("seed", seed, minimum=0)
    params = parameters(name)
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        allowed = ", ".join(params) if params else "(none)"
        close = difflib.get_close_matches(unknown[0], list(params), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown parameter(s) {unknown} for problem {name!r}{hint}; its parameters: {allowed}")
    params.update(overrides)
    p = fn(seed=seed, **params)
    return dataclasses.replace(p, name=name, info={**p.info, "catalog": name, "params": params, "seed": seed})


def _seeds(seed: int, k: int) -> list[int]:
    """k independent integer seeds derived from ``seed`` (ints, so they serialize to JSON)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(k)]


def _kappa(kappa, minimum: float = 1.0) -> float:
    kappa = real("kappa", kappa)
    if kappa < minimum:
        raise ValueError(f"kappa must be >= {minimum:g}, got {kappa}")
    return kappa


# -- Zhang et al. 2024, Cases 1–4 (THEORY §6) ---------------------------------------------------
CASE12_SCALES = np.exp(np.arange(4) * np.log(3000.0) / 3)  # 1, 14.4, 208, 3000 (THEORY §6)


def _case12(scales, *, seed: int, kappa: float, block_size: int):
    kappa = _kappa(kappa, 1.0 + 1e-12)
    n = integer("block_size", block_size, minimum=2)
    s_spec, s_rot = _seeds(seed, 2)
    rng = np.random.default_rng(s_spec)
    raw = [m * np.exp(0.5 * rng.standard_normal(n)) for m in scales]
    union = np.concatenate(raw)
    # one common shift + proportional scaling over all blocks: λ_min → 1, λ_max → κ exactly
    eigs = [_spectra.rescale(r, kappa=kappa, lam_max=kappa, lam_min_of=union) for r in raw]
    return _quad.block_quadratic(eigs, rotation="haar", seed=s_rot)


@_entry("zhang2024-case1")
def zhang2024_case1(*, seed: int = 0, kappa: float = 5000.0, block_size: int = 25):
    """Zhang et al. 2024 Case 1: heterogeneous blocks (stand-in for GPT-2 layer spectra).

    Four Haar-rotated blocks; block l draws λ = m_l·exp(0.5 Z), Z ~ N(0, 1), m_l = 3000^{l/3}
    (1, 14.4, 208, 3000); then one common affine map λ ← 1 + (κ − 1)(λ − λmin)/(λmax − λmin) over
    all blocks, so κ(H) = ``kappa`` exactly.

    Parameters
    ----------
    kappa : float > 1
    block_size : int >= 2

    Notes
    -----
    Source: seed 000 (Zhang et al.), captions of figures 7_1 and 21_1 — four blocks, GPT-2-like
    spectra, common shift and proportional scaling, κ = 5000 [Z]. Block sizes, the lognormal
    stand-in spectra, the scales m_l, Haar rotations and w* = 0 are our choices [C] (THEORY §6).
    """
    return _case12(CASE12_SCALES, seed=seed, kappa=kappa, block_size=block_size)


@_entry("zhang2024-case2")
def zhang2024_case2(*, seed: int = 0, kappa: float = 5000.0, block_size: int = 25):
    """Zhang et al. 2024 Case 2: homogeneous blocks (stand-in for ResNet spectra).

    As Case 1 but every m_l = 1: four blocks drawn from one law, then the common affine map to
    κ(H) = ``kappa``.

    Parameters
    ----------
    kappa : float > 1
    block_size : int >= 2

    Notes
    -----
    Source: seed 000, figures 7_1 / 21_1 (homogeneous case, κ = 5000) [Z]. The spectra, sizes and
    rotations are our choices [C] (THEORY §6).
    """
    return _case12(np.ones(4), seed=seed, kappa=kappa, block_size=block_size)


@_entry("zhang2024-case12-interp")
def zhang2024_case12_interp(*, seed: int = 0, a: float = 0.5, kappa: float = 5000.0, block_size: int = 25):
    """Case 2 (a = 0) → Case 1 (a = 1): the block scales m_l = 3000^{a·l/3}, else as Case 1.

    Same seed streams as Cases 1/2, so a = 0 and a = 1 reproduce them exactly; κ(H) = ``kappa``
    for every a while the blocks go from homogeneous to heterogeneous (the ``js0-gap`` family).

    Parameters
    ----------
    a : float in [0, 1]
    kappa : float > 1
    block_size : int >= 2

    Notes
    -----
    Source: seed 000 (Zhang et al.) links JS⁰ to the Adam–GD gap qualitatively [Z]; this family
    between our stand-ins of its Cases 1 and 2 is our choice [C] (THEORY §6).
    """
    return _case12(CASE12_SCALES ** in_range("a", a, 0.0, 1.0), seed=seed, kappa=kappa, block_size=block_size)


def _case34(sets, *, seed: int):
    return _quad.block_quadratic([np.array(s, dtype=float) for s in sets], rotation="haar",
                                 seed=_seeds(seed, 1)[0])


@_entry("zhang2024-case3")
def zhang2024_case3(*, seed: int = 0, kappa: float = 5000.0):
    """Zhang et al. 2024 Case 3: simplified heterogeneous, blocks {1,2,3}, {99,100,101}, {κ−2,κ−1,κ}.

    Parameters
    ----------
    kappa : float >= 104 (so the three sets stay disjoint and ordered)

    Notes
    -----
    Source: seed 000 names the case and κ = 5000 [Z]; the sets follow the arXiv version of Zhang
    et al. as recalled and match Adam-mini Fig. 4 (seed 002) — not in seed 000, so [C]; Haar
    rotations [C] (THEORY §6).
    """
    k = _kappa(kappa, 104.0)
    return _case34([[1, 2, 3], [99, 100, 101], [k - 2, k - 1, k]], seed=seed)


@_entry("zhang2024-case4")
def zhang2024_case4(*, seed: int = 0, kappa: float = 5000.0):
    """Zhang et al. 2024 Case 4: simplified homogeneous, blocks {1,99,κ−2}, {2,100,κ−1}, {3,101,κ}.

    Parameters
    ----------
    kappa : float >= 104

    Notes
    -----
    Source: seed 000 (case and κ = 5000) [Z]; the sets are [C] as for Case 3 (THEORY §6).
    """
    k = _kappa(kappa, 104.0)
    return _case34([[1, 99, k - 2], [2, 100, k - 1], [3, 101, k]], seed=seed)


# -- Adam-mini (THEORY §5) ------------------------------------------------------------------------
FIG4_SETS = ((1.0, 2.0, 3.0), (99.0, 100.0, 101.0), (4998.0, 4999.0, 5000.0))


@_entry("adam-mini-fig4")
def adam_mini_fig4(*, seed: int = 0, block_size: int = 30):
    """Adam-mini Fig. 4: three dense blocks, eigenvalues i.i.d. from {1,2,3}, {99,100,101}, {4998,4999,5000}.

    κ = 5000 unless no 1 (or no 5000) is drawn (probability ≈ 5e-6 per seed at size 30).

    Parameters
    ----------
    block_size : int >= 1

    Notes
    -----
    Source: seed 002 (Adam-mini) §2.1 and App. E.2, Fig. 4 (THEORY §5a). The rotation (Haar; the
    seed says "random PD") and w* = 0 are our choices [C].
    """
    n = integer("block_size", block_size, minimum=1)
    s_spec, s_rot = _seeds(seed, 2)
    streams = np.random.SeedSequence(s_spec).spawn(len(FIG4_SETS))
    eigs = [_spectra.clusters(n, values=v, seed=np.random.default_rng(ss)) for v, ss in zip(FIG4_SETS, streams)]
    return _quad.block_quadratic(eigs, rotation="haar", seed=s_rot)


@_entry("adam-mini-fig5")
def adam_mini_fig5(*, seed: int = 0, d: int = 50, kappa: float = 500.0, R: float = 1.0):
    """Adam-mini Fig. 5: one block H = QΛQᵀ, Λ = diag(κ, 1, …, 1), Q a product of Givens rotations.

    Angles R·θ_ij with θ_ij ~ U[−π/2, π/2] over all pairs i < j (``rotations.givens``); R = 0 gives
    a diagonal H (τ = 1), larger R more off-diagonal mass (τ is not monotone in R).

    Parameters
    ----------
    d : int >= 2
    kappa : float >= 1
    R : float in [0, 1]

    Notes
    -----
    Source: seed 002 §2.1 Eq. (3) and App. E.2, Fig. 5 (THEORY §5b): κ = 500, d = 50 in Fig. 5(b).
    The d list of Fig. 5(a) is only in the image [C].
    """
    d = integer("d", d, minimum=2)
    h = _tau.givens_block(d, kappa=kappa, R=R, seed=_seeds(seed, 1)[0])
    return _quad.BlockQuadratic((h,), info={"rotation": "givens", "R": float(R)})


# -- other literature problems ---------------------------------------------------------------------
@_entry("deepobs-quadratic")
def deepobs_quadratic(*, seed: int = 0):
    """DeepOBS ``quadratic_deep``: d = 100, 90 eigenvalues U(0, 1) and 10 U(30, 60), Haar-rotated.

    Notes
    -----
    Source: DeepOBS (Schneider et al. 2019), the quadratic_deep test problem — not a seed paper,
    cited as an outside reference. One block (DeepOBS has no partition) [C]; no noise model
    (DeepOBS samples a noisy offset per mini-batch; use ``sims.GaussianNoise`` if needed) [C].
    """
    s_spec, s_rot = _seeds(seed, 2)
    rng = np.random.default_rng(s_spec)
    eigs = np.concatenate([rng.uniform(0.0, 1.0, 90), rng.uniform(30.0, 60.0, 10)])
    return _quad.block_quadratic([eigs], rotation="haar", seed=s_rot)


@_entry("nqm")
def nqm(*, seed: int = 0, d: int = 100):
    """The noisy quadratic model: diagonal H with h_i = 1/i, noise covariance ∝ H.

    ``info['noise']`` holds the recommended noise spec, {'covariance': 'hessian'}, i.e.
    ``sims.GaussianNoise(sigma, covariance='hessian')``.

    Parameters
    ----------
    d : int >= 2

    Notes
    -----
    Source: Zhang et al. 2019, "Which algorithmic choices matter at which batch sizes?" (the NQM)
    — not a seed paper. One block, no rotation (the NQM is diagonal); the seed is unused [C].
    """
    d = integer("d", d, minimum=2)
    p = _quad.block_quadratic([1.0 / np.arange(1, d + 1)], rotation="identity")
    return dataclasses.replace(p, info={**p.info, "noise": {"covariance": "hessian"}})


@_entry("tomihari-blocks")
def tomihari_blocks(*, seed: int = 0, gini: float = 0.5, placement: str = "sharpest",
                    n_blocks: int = 4, block_size: int = 10, spread: float = 3.0):
    """Blocks of different scales with a chosen gradient-heterogeneity profile at init.

    Block l has eigenvalues U(s_l, 10 s_l) (extremes included) with s_l = 10^{spread·l/(B−1)},
    Haar-rotated; ``info['w0']`` is ``initial_point(p, gini=gini, placement=placement)``: its
    block gradient norms have exactly the requested Gini (THEORY §8.1).

    Parameters
    ----------
    gini : float in [0, (B − 1)/B)
    placement : {'random', 'sharpest'}
        'sharpest' puts the largest gradients on the sharpest blocks ([T] §4.3).
    n_blocks : int >= 2
    block_size : int >= 2
    spread : float >= 0
        Decades between the flattest and the sharpest block scale.

    Notes
    -----
    Source: seed 001 (Tomihari & Sato) Def. 4.4 and §4.3 (gradient heterogeneity, correlated
    with block sharpness). The block spectra, sizes and the geometric generator are ours [C].
    """
    B = integer("n_blocks", n_blocks, minimum=2)
    n = integer("block_size", block_size, minimum=2)
    spread = real("spread", spread)
    if spread < 0:
        raise ValueError(f"spread must be >= 0, got {spread}")
    one_of("placement", placement, ("random", "sharpest"))
    s_spec, s_rot, s_init = _seeds(seed, 3)
    streams = np.random.SeedSequence(s_spec).spawn(B)
    scales = 10.0 ** (spread * np.arange(B) / (B - 1))
    eigs = [_spectra.uniform(n, low=s, high=10 * s, seed=np.random.default_rng(ss)) for s, ss in zip(scales, streams)]
    p = _quad.block_quadratic(eigs, rotation="haar", seed=s_rot)
    w0 = initial_point(p, gini=gini, placement=placement, seed=s_init)
    return dataclasses.replace(p, info={**p.info, "w0": frozen(w0), "gini": float(gini)})


@_entry("tau-kappa")
def tau_kappa(*, seed: int = 0, tau: float = 0.5, kappa: float = 1000.0, n_blocks: int = 4,
              block_size: int = 10, block_kappa: float | None = None):
    """A family swept over τ × κ: B blocks, each with exact off-diagonal share τ, global κ exact.

    Each block is ``target_tau_block(block_size, kappa=κ_b, tau=tau)`` (eigenvalues 1 and κ_b,
    τ(H_b) = tau exactly; THEORY §5b), normalised to λ_min = 1, symmetrically permuted by a random
    permutation (keeps τ and the spectrum) and multiplied by s_l = (κ/κ_b)^{l/(B−1)}. So
    λ_min(H) = 1 and λ_max(H) = κ exactly, every block has κ_l = κ_b and τ_l = tau, and the
    block scales spread over κ/κ_b. With ``block_kappa=None`` (default) κ_b = κ and all blocks
    share one scale (homogeneous); smaller κ_b makes the blocks heterogeneous in scale.

    Parameters
    ----------
    tau : float
        Reachable range: [(b + κ_b − 1)/(b + (κ_b − 1)b), 1] for block size b
        (``tau_range(block_size, kappa=κ_b)``).
    kappa : float >= 1
        Global condition number.
    n_blocks : int >= 1
    block_size : int >= 2
    block_kappa : float in [1, kappa], optional
        κ_b; must equal ``kappa`` when ``n_blocks = 1``.

    Notes
    -----
    Source: τ from seed 002 (Adam-mini) Eq. (3) and Fig. 5; the exact target-τ block is derived
    in THEORY §5b [D]. The block layout, the scales and the permutation are our choices [C].
    """
    kappa = _kappa(kappa)
    B = integer("n_blocks", n_blocks, minimum=1)
    n = integer("block_size", block_size, minimum=2)
    kb = kappa if block_kappa is None else in_range("block_kappa", block_kappa, 1.0, kappa)
    if B == 1 and kb != kappa:
        raise ValueError(f"block_kappa must equal kappa = {kappa} when n_blocks = 1, got {kb}")
    rng = np.random.default_rng(_seeds(seed, 1)[0])
    base = _tau.target_tau_block(n, kappa=kb, tau=tau)
    base = base / np.linalg.eigvalsh(base)[0]  # λ_min = 1 exactly up to rounding
    scales = np.ones(B) if B == 1 else (kappa / kb) ** (np.arange(B) / (B - 1))
    blocks = []
    for s in scales:
        perm = rng.permutation(n)
        blocks.append(s * base[np.ix_(perm, perm)])
    return _quad.BlockQuadratic(tuple(blocks), info={"tau": float(tau), "block_kappa": float(kb)})


@_entry("coupled")
def coupled(*, seed: int = 0, base: str = "zhang2024-case1", strength: float = 0.5):
    """A block problem plus an off-block coupling δ·C (H = blockdiag(H_l) + δC, ‖C‖₂ = μ).

    Parameters
    ----------
    base : str
        A block-diagonal catalog entry (built with the same seed and its defaults).
    strength : float in [0, 1)
        δ relative to μ(H); below 1 H stays SPD by Weyl's inequality.

    Notes
    -----
    Source: [T] Assm. 4.3 (near-block-diagonal H, δ = ‖H − H_bd‖₂; THEORY §8.2). The Gaussian
    coupling and its normalisation are our choices [C] (``problems.coupled``).
    """
    if base in ("coupled", "linear-head"):
        raise ValueError(f"base must be a block-diagonal quadratic entry, got {base!r}")
    strength = in_range("strength", strength, 0.0, 1.0, closed="left")
    p = get(base, seed=seed)
    return _quad.coupled(p, strength=strength, seed=_seeds(seed, 1)[0])


@_entry("linear-head")
def linear_head(*, seed: int = 0, n_samples: int = 200, n_classes: int = 50, n_features: int = 20,
                balanced: bool = True):
    """Softmax linear head on frozen synthetic features (``problems.linear_head``; THEORY §8.5).

    Parameters
    ----------
    n_samples, n_classes, n_features : int
    balanced : bool

    Notes
    -----
    Source: seed 001 (Tomihari & Sato) §4.7, Prop. 4.10 and App. C.4; N = 200, C = 50 as measured
    in THEORY §8.5. Synthetic Gaussian features stand in for a frozen backbone [C].
    """
    return _linear_head(n_samples=n_samples, n_classes=n_classes, n_features=n_features,
                        balanced=balanced, seed=seed)


# -- quadratics from real networks' block spectra (problems.networks, problems.from_spectra) ------
def _real_blocks(model: str, *, seed: int, kappa, mode: str):
    from .from_spectra import MODES, from_spectra
    from .networks.blockwise import reference_spectra

    one_of("mode", mode, MODES)
    record = reference_spectra(model, seed=seed)  # cached per (model, seed) in this process
    p = from_spectra(record, kappa=kappa, mode=mode, rotation="haar", seed=_seeds(seed, 1)[0])
    if model == "transformer":
        p.info["heads"] = _qkv_heads(record, seed=seed)
    return p


def _qkv_heads(record, *, seed: int) -> list:
    """Adam-mini's per-head ranges of the fused Q/K/V weights: [[block, row_start, row_stop, n_heads], ...].

    Every ``…attn.qkv.weight`` block (rows [Q; K; V], d_model each) gets Q's and K's rows split into
    n_heads heads (``sims.optimizers.partition``'s 'heads'); V's rows stay one block per row.
    """
    from .networks.models import reference_model

    modules = dict(reference_model("transformer", seed=seed).model.named_modules())
    out = []
    for b, (name, shape) in enumerate(zip(record.names, record.shapes)):
        owner = name.removesuffix(".qkv.weight")
        if owner != name and shape is not None:
            d_model, n_heads = shape[0] // 3, int(modules[owner].n_heads)
            out += [[b, 0, d_model, n_heads], [b, d_model, 2 * d_model, n_heads]]
    return out


@_entry("real-transformer-blocks")
def real_transformer_blocks(*, seed: int = 0, kappa: float | None = 5000.0, mode: str = "signed"):
    """Case 1 from a real Transformer: one block per parameter tensor of a tiny GPT at init.

    The exact block Hessian spectra of ``networks.transformer(seed=seed)`` (1 layer, d_model 12,
    random tokens; 17 blocks, d = 2388) become Haar-rotated blocks; with ``kappa`` one common
    shift and proportional scaling makes H SPD with κ(H) = ``kappa`` exactly (THEORY §6).

    Parameters
    ----------
    kappa : float > 1 or None
        None keeps the measured scale (with ``mode`` 'abs' or 'positive'; zero modes are floored
        at 1e-12·λ_max, see ``problems.from_spectra``).
    mode : {'signed', 'abs', 'positive'}
        How negative eigenvalues enter (``problems.from_spectra``); 'signed' + ``kappa`` is the
        THEORY §6 shift.

    Notes
    -----
    Blocks keep the parameter tensors' shapes (``p.shapes``; biases and norms are vectors), and
    ``p.info['heads']`` lists the per-head row ranges of Q and K in each fused qkv weight, for
    Adam-mini's official ``partition='heads'`` (``sims.optimizers.resolve_partition``).

    Source: seed 000 (Zhang et al.) Case 1 — blocks sampled from GPT-2 layer spectra, then a
    common shift and proportional scaling to κ = 5000 [Z] (THEORY §6). The model (a tiny GPT on
    random tokens, not GPT-2), its size, the per-tensor partition, exact eigvalsh and Haar
    rotations are our choices [C]; at this scale and at init the ordering of JS⁰ between a
    Transformer and a CNN reported in seed 000 need not hold.
    """
    return _real_blocks("transformer", seed=seed, kappa=kappa, mode=mode)


@_entry("real-cnn-blocks")
def real_cnn_blocks(*, seed: int = 0, kappa: float | None = 5000.0, mode: str = "signed"):
    """Case 2 from a real CNN: one block per parameter tensor of a tiny conv-BN-ReLU ×3 net at init.

    The exact block Hessian spectra of ``networks.cnn(seed=seed)`` (8×8 random images; 11 blocks,
    d = 1102) become Haar-rotated blocks, mapped to κ(H) = ``kappa`` as in
    ``real-transformer-blocks``.

    Parameters
    ----------
    kappa : float > 1 or None
    mode : {'signed', 'abs', 'positive'}

    Notes
    -----
    Source: seed 000 (Zhang et al.) Case 2 — the homogeneous counterpart built from ResNet
    spectra [Z] (THEORY §6). The model (a tiny CNN on random images, not a ResNet), the partition
    and the rotations are our choices [C].
    """
    return _real_blocks("cnn", seed=seed, kappa=kappa, mode=mode)
