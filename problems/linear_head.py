"""A softmax linear classifier on frozen features (Tomihari & Sato Prop. 4.10, THEORY §8.5).

The only non-quadratic problem in hetquad: a finite sum of N cross-entropy losses of the linear
head z ↦ Wz + b. Parameters are w = concat(W.ravel(), b) with W of shape (C, k) (row-major), so
the blocks are (C·k, C). ``grad(w, samples=idx)`` gives the mean gradient over selected samples,
which is what ``sims.MiniBatch`` calls; with ``MiniBatch(size=1, order='cyclic')`` N steps are one
sample-wise epoch, the setting in which SignSGD's bias update is Δb_c = η(2N_c − N) every epoch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.special

from .validation import finite_array, frozen, integer

FEATURE_SHIFT = 1.0  # [C] class means ~ N(0, FEATURE_SHIFT² I): features are informative, not separable


@dataclass(frozen=True, eq=False)
class LinearHead:
    """Mean softmax cross-entropy of a linear head on frozen features.

    Parameters
    ----------
    features : (N, k) array
        Frozen features Z (one row per sample).
    labels : (N,) int array
        Class of each sample, in [0, n_classes).
    n_classes : int >= 2
    name : str

    Attributes
    ----------
    d, sizes, n_samples, n_features, class_counts
    """

    features: np.ndarray
    labels: np.ndarray
    n_classes: int
    name: str = "linear-head"
    info: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        z = finite_array("features", self.features, ndim=2)
        C = integer("n_classes", self.n_classes, minimum=2)
        y = np.asarray(self.labels)
        if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"labels must be a non-empty 1-D integer array, got dtype {y.dtype} shape {y.shape}")
        if y.shape[0] != z.shape[0]:
            raise ValueError(f"labels must have one entry per feature row ({z.shape[0]}), got {y.shape[0]}")
        if y.min() < 0 or y.max() >= C:
            raise ValueError(f"labels must be in [0, {C}), got range [{y.min()}, {y.max()}]")
        object.__setattr__(self, "features", frozen(z))
        object.__setattr__(self, "labels", frozen(y.astype(np.int64)))
        object.__setattr__(self, "n_classes", C)
        object.__setattr__(self, "info", dict(self.info))

    # -- structure -----------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def sizes(self) -> tuple[int, int]:
        """Blocks (W, b): (C·k, C)."""
        return (self.n_classes * self.n_features, self.n_classes)

    @property
    def d(self) -> int:
        return sum(self.sizes)

    @cached_property
    def class_counts(self) -> np.ndarray:
        """N_c, the number of samples of each class."""
        return frozen(np.bincount(self.labels, minlength=self.n_classes))

    def split(self, w) -> tuple[np.ndarray, np.ndarray]:
        """(W, b) views of w: shapes (..., C, k) and (..., C)."""
        w = np.asarray(w, dtype=np.float64)
        if w.shape[-1] != self.d or w.ndim not in (1, 2):
            raise ValueError(f"w must have shape ({self.d},) or (n, {self.d}), got {w.shape}")
        ck = self.sizes[0]
        return w[..., :ck].reshape(w.shape[:-1] + (self.n_classes, self.n_features)), w[..., ck:]

    # -- values --------------------------------------------------------------------------------
    def _select(self, samples):
        if samples is None:
            return self.features, self.labels
        idx = np.asarray(samples)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"samples must be a non-empty 1-D integer index array, got {idx!r}")
        if idx.min() < 0 or idx.max() >= self.n_samples:
            raise ValueError(f"samples must index [0, {self.n_samples}), got range [{idx.min()}, {idx.max()}]")
        return self.features[idx], self.labels[idx]

    def _logits(self, w, z):
        W, b = self.split(w)
        # (..., S, C): each sample's scores under each parameter row
        return np.einsum("sk,...ck->...sc", z, W) + b[..., None, :]

    def loss(self, w, samples=None):
        """Mean cross-entropy over ``samples`` (all by default); float for (d,), (n,) for (n, d)."""
        z, y = self._select(samples)
        logits = self._logits(w, z)
        lse = scipy.special.logsumexp(logits, axis=-1)  # stable log-softmax denominator
        picked = np.take_along_axis(logits, np.broadcast_to(y[:, None], logits.shape[:-1] + (1,)), axis=-1)[..., 0]
        out = np.mean(lse - picked, axis=-1)
        return float(out) if out.ndim == 0 else out

    def grad(self, w, samples=None) -> np.ndarray:
        """Gradient of the mean cross-entropy: dW = Eᵀz/S, db = mean E with E = softmax − onehot."""
        z, y = self._select(samples)
        logits = self._logits(w, z)
        e = scipy.special.softmax(logits, axis=-1)
        e[..., np.arange(y.size), y] -= 1.0
        S = y.size
        dW = np.einsum("...sc,sk->...ck", e, z) / S
        db = e.sum(axis=-2) / S
        return np.concatenate([dW.reshape(dW.shape[:-2] + (-1,)), db], axis=-1)


def _labels(n_samples: int, n_classes: int, balanced: bool, rng) -> np.ndarray:
    if balanced:  # class sizes differ by at most one
        return rng.permutation(np.arange(n_samples) % n_classes)
    weights = 1.0 / np.arange(1, n_classes + 1)  # [C] Zipf-like imbalance
    return rng.choice(n_classes, size=n_samples, p=weights / weights.sum())


def linear_head(*, n_samples: int = 200, n_classes: int = 50, n_features: int = 20,
                balanced: bool = True, seed=0) -> LinearHead:
    """A synthetic linear-head problem (THEORY §8.5; defaults N = 200, C = 50 as measured there).

    Features z_i = m_{y_i} + N(0, I_k) with class means m_c ~ N(0, I_k) [C]; labels balanced
    (class sizes N/C, ±1) or Zipf-imbalanced (P(c) ∝ 1/(c+1)) [C].

    Parameters
    ----------
    n_samples, n_classes, n_features : int
        N >= 1, C >= 2, k >= 1.
    balanced : bool
    seed : int >= 0 or numpy Generator
    """
    N = integer("n_samples", n_samples, minimum=1)
    C = integer("n_classes", n_classes, minimum=2)
    k = integer("n_features", n_features, minimum=1)
    if not isinstance(balanced, (bool, np.bool_)):
        raise TypeError(f"balanced must be a bool, got {type(balanced).__name__} {balanced!r}")
    rng = np.random.default_rng(seed)
    y = _labels(N, C, bool(balanced), rng)
    means = FEATURE_SHIFT * rng.standard_normal((C, k))
    z = means[y] + rng.standard_normal((N, k))
    return LinearHead(z, y, C, info={"n_samples": N, "n_classes": C, "n_features": k,
                                     "balanced": bool(balanced), "seed": seed})
