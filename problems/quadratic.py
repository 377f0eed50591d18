"""The block quadratic ℓ(w) = ½ (w − w*)ᵀ H (w − w*) (THEORY §1).

``BlockQuadratic`` stores the dense SPD diagonal blocks H_1..H_B (never a dense d×d unless asked)
and, optionally, a symmetric off-block ``coupling`` so that H = blockdiag(H_l) + coupling (the
"coupled" family of the problems issue: blocks that interact). Engines work on
``operator_blocks``: the blocks themselves, or the single dense H when a coupling is present;
optimizers and metrics work on the partition ``sizes``.

A block may be matrix-shaped: ``shapes[l] = (r, c)`` with r·c = d_l says that block l is the
parameter matrix W_l ∈ R^{r×c}, stored in w as vec(W_l) in **row-major** (C) order, i.e.
w[start + i·c + j] = W_l[i, j] (numpy's ``reshape(r, c)`` and torch's ``flatten``), and H_l acts
on that vec. ``shapes[l] = None`` (the default for every block) is a plain vector block. Only the
matrix-aware optimizers (Shampoo, SOAP, Muon, Adafactor, CAME, Adam-mini's 'rows'/'heads'
partitions) read the shapes; the loss, gradient and every engine see vec(W) as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.linalg

from . import rotations as _rot
from . import spectra as _spectra
from .validation import finite_array, frozen, in_range, integer, one_of, real

SYMMETRY_RTOL = 1e-10


def validate_spd(name: str, block) -> np.ndarray:
    """Return ``block`` as a float64 read-only SPD matrix or raise ``ValueError`` naming it."""
    arr = finite_array(name, block, ndim=2)
    n, m = arr.shape
    if n != m:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    scale = float(np.max(np.abs(arr)))
    if np.max(np.abs(arr - arr.T)) > SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name} must be symmetric (max |H - H^T| = {np.max(np.abs(arr - arr.T)):.3g}, "
            f"allowed {SYMMETRY_RTOL:g} x max|H|)"
        )
    arr = 0.5 * arr + 0.5 * arr.T  # exact symmetry for eigvalsh and the kernels (no overflow near 1e308)
    # the full solve, as ``block_eigvals`` / ``mu`` do: the index-subset driver can return +1e-17
    # for an exactly singular block whose full spectrum starts at 0, and accept it
    lam_min = float(scipy.linalg.eigvalsh(arr)[0])
    if lam_min <= 0:
        raise ValueError(f"{name} must be positive definite, got smallest eigenvalue {lam_min:.6g}")
    return frozen(arr)


def validate_shapes(shapes, sizes) -> tuple:
    """``shapes`` as a tuple of (r, c) int pairs / None, one per block, or ``ValueError`` naming ``shapes[l]``.

    None (the whole argument) means every block is a vector; a pair must factor its block's size.
    """
    if shapes is None:
        return (None,) * len(sizes)
    if isinstance(shapes, (str, bytes)) or not hasattr(shapes, "__iter__"):
        raise TypeError(f"shapes must be a sequence of (rows, cols) pairs or None (one per block), got {shapes!r}")
    shapes = tuple(shapes)
    if len(shapes) != len(sizes):
        raise ValueError(f"shapes must give one entry per block ({len(sizes)}), got {len(shapes)}")
    out = []
    for l, (shape, n) in enumerate(zip(shapes, sizes)):
        if shape is None:
            out.append(None)
            continue
        if isinstance(shape, (str, bytes)) or np.ndim(shape) != 1 or len(shape) != 2:
            raise ValueError(f"shapes[{l}] must be a (rows, cols) pair or None, got {shape!r}")
        r, c = (integer(f"shapes[{l}][{k}]", x, minimum=1) for k, x in enumerate(np.asarray(shape).tolist()))
        if r * c != n:
            raise ValueError(f"shapes[{l}] = ({r}, {c}) does not factor block {l} of size {n} (need rows*cols = {n})")
        out.append((r, c))
    return tuple(out)


def _kappa(eigs: np.ndarray) -> float:
    return float(eigs[-1] / eigs[0])


@dataclass(frozen=True, eq=False)
class BlockQuadratic:
    """A quadratic with dense SPD diagonal blocks and an optional symmetric coupling.

    Parameters
    ----------
    blocks : sequence of (d_l, d_l) arrays
        Symmetric positive definite diagonal blocks H_l.
    w_star : (d,) array, optional
        The minimiser (default 0).
    coupling : (d, d) array, optional
        Symmetric off-block part C with zero diagonal blocks; H = blockdiag(H_l) + C must be SPD.
    name : str
        A label carried into results and tables.
    shapes : sequence of (r, c) pairs or None, optional
        Per block: the matrix shape (r, c) with r·c = d_l (w holds vec(W_l) row-major, module
        docstring), or None for a vector block. Default: every block a vector.

    Attributes
    ----------
    sizes, d, kappa, block_kappas, operator_blocks, delta, shapes
    """

    blocks: tuple
    w_star: np.ndarray = None
    coupling: np.ndarray | None = None
    name: str = "block-quadratic"
    info: dict = field(default_factory=dict, repr=False)
    shapes: tuple | None = None

    def __post_init__(self):
        if isinstance(self.blocks, np.ndarray) and self.blocks.ndim == 2:
            raise TypeError("blocks must be a sequence of square arrays, got one 2-D array; wrap it in a list")
        if isinstance(self.blocks, (str, bytes)) or not hasattr(self.blocks, "__iter__"):
            raise TypeError(f"blocks must be a sequence of square arrays, got {type(self.blocks).__name__} "
                            f"{self.blocks!r}")
        blocks = tuple(self.blocks)
        if not blocks:
            raise ValueError("blocks must contain at least one block, got 0")
        blocks = tuple(validate_spd(f"block {l}", b) for l, b in enumerate(blocks))
        object.__setattr__(self, "blocks", blocks)
        d = sum(b.shape[0] for b in blocks)
        w_star = np.zeros(d) if self.w_star is None else finite_array("w_star", self.w_star, ndim=1)
        if w_star.shape != (d,):
            raise ValueError(f"w_star must have shape ({d},), got {w_star.shape}")
        object.__setattr__(self, "w_star", frozen(w_star))
        if self.coupling is not None:
            c = finite_array("coupling", self.coupling, ndim=2)
            if c.shape != (d, d):
                raise ValueError(f"coupling must have shape ({d}, {d}), got {c.shape}")
            if np.max(np.abs(c - c.T)) > SYMMETRY_RTOL * max(np.max(np.abs(c)), 1e-300):
                raise ValueError("coupling must be symmetric")
            for l, (a, b) in enumerate(self.offsets):
                if np.any(c[a:b, a:b] != 0):
                    raise ValueError(f"coupling must be zero on diagonal block {l} (rows {a}:{b})")
            c = frozen(0.5 * (c + c.T))
            object.__setattr__(self, "coupling", c)
            lam = float(self.eigvalsh()[0])  # the λ_min that ``mu`` reports
            if lam <= 0:
                raise ValueError(
                    f"blockdiag + coupling must be positive definite, got smallest eigenvalue {lam:.6g}; "
                    "reduce the coupling strength"
                )
        object.__setattr__(self, "info", dict(self.info))
        object.__setattr__(self, "shapes", validate_shapes(self.shapes, self.sizes))

    # -- structure -----------------------------------------------------------------------------
    @cached_property
    def sizes(self) -> tuple[int, ...]:
        """Block sizes d_l."""
        return tuple(int(b.shape[0]) for b in self.blocks)

    @property
    def d(self) -> int:
        """Number of parameters."""
        return int(sum(self.sizes))

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @cached_property
    def offsets(self) -> tuple[tuple[int, int], ...]:
        """(start, stop) of each block in w."""
        stops = np.cumsum(self.sizes)
        return tuple((int(s - n), int(s)) for s, n in zip(stops, self.sizes))

    @cached_property
    def block_ids(self) -> np.ndarray:
        """Block index of every coordinate, shape (d,)."""
        return frozen(np.repeat(np.arange(self.n_blocks), self.sizes))

    @property
    def is_block_diagonal(self) -> bool:
        return self.coupling is None

    @cached_property
    def operator_blocks(self) -> tuple[np.ndarray, ...]:
        """Dense diagonal tiles whose block-diagonal is H exactly (what engines multiply by)."""
        return self.blocks if self.coupling is None else (frozen(self.hessian()),)

    # -- values --------------------------------------------------------------------------------
    def _matvec(self, e: np.ndarray) -> np.ndarray:
        """H e per row of a batch. Each row is its own row-vector × matrix item (one gemv), so a
        run's gradient is the same bits whatever the batch size: a 2-D (n, s) @ (s, s) product
        lets BLAS switch kernels (and summation order) with n."""
        out = np.empty_like(e)
        start = 0
        for h in self.operator_blocks:
            n = h.shape[0]
            out[..., start:start + n] = np.matmul(e[..., None, start:start + n], h)[..., 0, :]  # h symmetric
            start += n
        return out

    def _error(self, w) -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        if w.shape[-1] != self.d or w.ndim not in (1, 2):
            raise ValueError(f"w must have shape ({self.d},) or (n, {self.d}), got {w.shape}")
        return w - self.w_star

    def grad(self, w) -> np.ndarray:
        """∇ℓ(w) = H (w − w*); ``w`` is (d,) or a batch (n, d)."""
        return self._matvec(self._error(w))

    def loss(self, w):
        """ℓ(w) = ½ eᵀ H e; a float for (d,), an (n,) array for a batch."""
        e = self._error(w)
        return 0.5 * np.sum(e * self._matvec(e), axis=-1)

    def block_losses(self, w) -> np.ndarray:
        """ℓ_l = ½ e_lᵀ H_l e_l per diagonal block, shape (..., B)."""
        e = self._error(w)
        out = [0.5 * np.sum(e[..., a:b] * (e[..., a:b] @ h), axis=-1)
               for (a, b), h in zip(self.offsets, self.blocks)]
        return np.stack(out, axis=-1)

    def hessian(self) -> np.ndarray:
        """Dense H (d×d). Meant for small d."""
        h = scipy.linalg.block_diag(*self.blocks)
        return h if self.coupling is None else h + self.coupling

    # -- spectra -------------------------------------------------------------------------------
    @cached_property
    def block_eigvals(self) -> tuple[np.ndarray, ...]:
        """Eigenvalues of each diagonal block, ascending."""
        return tuple(frozen(scipy.linalg.eigvalsh(b)) for b in self.blocks)

    def eigvalsh(self) -> np.ndarray:
        """Eigenvalues of H, ascending (union of block spectra when block-diagonal)."""
        if self.coupling is None:
            return np.sort(np.concatenate(self.block_eigvals))
        return scipy.linalg.eigvalsh(self.hessian())

    @cached_property
    def _extremes(self) -> tuple[float, float]:
        eigs = self.eigvalsh()
        return float(eigs[0]), float(eigs[-1])

    @property
    def L(self) -> float:
        """λ_max(H)."""
        return self._extremes[1]

    @property
    def mu(self) -> float:
        """λ_min(H)."""
        return self._extremes[0]

    @property
    def kappa(self) -> float:
        """κ(H) = λ_max/λ_min."""
        return self.L / self.mu

    @cached_property
    def block_kappas(self) -> np.ndarray:
        """κ_l of each diagonal block."""
        return frozen(np.array([_kappa(e) for e in self.block_eigvals]))

    @cached_property
    def delta(self) -> float:
        """‖H − blockdiag(H_l)‖₂ (0 when block-diagonal; THEORY §8.2)."""
        if self.coupling is None:
            return 0.0
        return float(np.max(np.abs(scipy.linalg.eigvalsh(self.coupling))))

    def describe(self) -> str:
        kb = self.block_kappas
        return (f"{self.name}: d={self.d}, B={self.n_blocks}, kappa={self.kappa:.4g}, "
                f"block kappa {kb.min():.3g}..{kb.max():.3g}")


def _as_spectrum(eigs, l: int) -> np.ndarray:
    try:
        return _spectra.from_values(eigs)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"block_eigs[{l}]: {exc}") from None


def block_quadratic(block_eigs, *, rotation: str = "haar", seed=None, R: float = 1.0,
                    w_star=None, name: str = "block-quadratic", shapes=None) -> BlockQuadratic:
    """Build a block-diagonal quadratic with prescribed block spectra.

    Parameters
    ----------
    block_eigs : sequence of 1-D arrays
        Eigenvalues of each block (all > 0).
    rotation : {'haar', 'givens', 'identity'}
        How each block is rotated: H_l = Q_l Λ_l Q_lᵀ.
    seed : int or numpy Generator, optional
        Seed for the rotations (one child stream per block, so block l does not depend on the
        sizes of the others).
    R : float in [0, 1]
        Givens angle scale (only for ``rotation='givens'``).
    w_star : (d,) array, optional
        The minimiser; default 0.
    shapes : sequence of (r, c) pairs or None, optional
        Matrix shape of each block (None: a vector block); see ``BlockQuadratic``.

    Returns
    -------
    BlockQuadratic
    """
    if isinstance(block_eigs, np.ndarray) and block_eigs.ndim == 1:
        raise TypeError("block_eigs must be a sequence of 1-D arrays (one per block), got one 1-D array")
    block_eigs = [_as_spectrum(e, l) for l, e in enumerate(block_eigs)]
    if not block_eigs:
        raise ValueError("block_eigs must contain at least one block, got 0")
    one_of("rotation", rotation, _rot.KINDS)
    R = in_range("R", R, 0.0, 1.0)  # checked for every rotation, so a typo never passes silently
    streams = np.random.SeedSequence(_seed_entropy(seed)).spawn(len(block_eigs))
    if rotation != "identity":
        for l, eigs in enumerate(block_eigs):
            _check_resolvable(l, eigs)
    blocks = []
    for eigs, ss in zip(block_eigs, streams):
        q = _rot.rotation(rotation, eigs.size, seed=np.random.default_rng(ss), R=R)
        blocks.append((q * eigs) @ q.T)
    return BlockQuadratic(tuple(blocks), w_star=w_star, name=name,
                          info={"rotation": rotation, "seed": seed, "R": R}, shapes=shapes)


# A rotated block QΛQᵀ carries rounding errors of about d·ε_mach·λ_max in every eigenvalue (Weyl), so
# its smallest eigenvalues are only what was asked for while κ·d·ε_mach stays well below 1.
RESOLVABLE = 1e-2


def _check_resolvable(l: int, eigs: np.ndarray) -> None:
    kappa = float(eigs.max() / eigs.min())
    limit = RESOLVABLE / (eigs.size * np.finfo(float).eps)
    if kappa > limit:
        raise ValueError(f"block_eigs[{l}]: kappa = {kappa:.3g} cannot be resolved by a rotated float64 block "
                         f"of size {eigs.size} (allowed kappa <= {limit:.3g}: rounding would change its "
                         "smallest eigenvalues); use rotation='identity' for such spectra")


def _seed_entropy(seed):
    """Entropy for SeedSequence from an int / None / Generator, validated."""
    if seed is None:
        return None
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    return integer("seed", seed, minimum=0)


def coupled(p: BlockQuadratic, *, strength: float, seed=None, coupling=None) -> BlockQuadratic:
    """Add an off-block coupling δ·C to a block-diagonal problem (H stays SPD or this raises).

    C is a fixed symmetric matrix with zero diagonal blocks: by default Gaussian entries scaled so
    that ‖C‖₂ = μ(H), hence any ``strength`` in [0, 1) keeps H SPD (Weyl); larger strengths are
    accepted only if the result is still SPD.
    """
    if not p.is_block_diagonal:
        raise ValueError("problem is already coupled")
    strength = real("strength", strength)
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    if coupling is None:
        if p.n_blocks < 2:
            raise ValueError(f"a random coupling needs at least 2 blocks, got {p.n_blocks}")
        rng = np.random.default_rng(seed)
        c = rng.standard_normal((p.d, p.d))
        c = 0.5 * (c + c.T)
        for a, b in p.offsets:
            c[a:b, a:b] = 0.0
        norm = np.max(np.abs(scipy.linalg.eigvalsh(c)))
        c *= p.mu / norm
    else:
        c = finite_array("coupling", coupling, ndim=2)
    return BlockQuadratic(p.blocks, w_star=p.w_star, coupling=strength * c,
                          name=f"{p.name}+coupled({strength:g})", info={**p.info, "strength": strength},
                          shapes=p.shapes)
