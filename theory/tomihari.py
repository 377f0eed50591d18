"""Tomihari & Sato's gradient-heterogeneity bounds in checkable form (THEORY §8).

[T]'s equations are stripped from the seed; L_G, L_P and the bounds below are THEORY's
reconstructions ([R]) with derivations ([D]) that make them true on block quadratics:

* deterministic (§8.3): GD with η_t = α/(L_G(w_t)+δ) reaches ‖g‖₂ ≤ ε within
  2Δ(L̄_G+δ)/(α(2−α)ε²) steps; sign descent with η = αε/(√d(L_P+δ)) reaches ‖g‖₁/√d ≤ ε
  within 2Δ(L_P+δ)/(α(2−α)ε²) steps;
* stochastic (§8.4), E‖ξ‖² ≤ σ²: SGD (η ≤ 1/L) (1/T)Σ E‖g_t‖² ≤ 2Δ/(ηT) + ηLσ²; signSGD
  (1/T)Σ E‖g_t‖₁/√d ≤ Δ/(ηT√d) + η√d(L_P+δ)/2 + 2σ√(2/π) (isotropic Gaussian noise);
* Prop. 4.10 (§8.5): one sample-wise SignSGD epoch on a linear head moves the bias by exactly
  η(2N_c − N) and W by −ηΣ_i(1−2y_ic)s_ik, the same every epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hetquad.problems.heterogeneity import l_g, l_p
from hetquad.problems.validation import finite_array, frozen, in_range, integer, nonnegative, positive
from .rates import _require_quadratic
from .records import Provenance

SOURCE_DET = "THEORY §8.3 [T Thm. 4.7, Def. 4.6] [R + D]"
SOURCE_STOCH = "THEORY §8.4 [T Thm. 4.9, Assm. 4.8] [D]"


def _block_norms(p) -> np.ndarray:
    return np.array([float(e[-1]) for e in p.block_eigvals])


@dataclass(frozen=True)
class IterationBound:
    """T_ε ≤ 2Δ(L+δ)/(α(2−α)ε²) for ``method`` 'gd' (ℓ2 stationarity, L = L̄_G) or 'sign'
    (ℓ1/√d stationarity, L = L_P) (THEORY §8.3).

    ``smoothness`` is the L used for ``bound``: for 'gd' the a-priori L̄ = max_l ‖H_l‖ ≥ L_G(w)
    for every w (so the bound is valid before the run); ``theory.check`` re-evaluates it with
    L̄_G = max_{t<T} L_G(w_t) measured along the run, as THEORY §8.2 defines it.
    """

    name: str
    method: str
    eps: float
    alpha: float
    delta_loss: float       # Δ = ℓ(w0) − ℓ*
    smoothness: float
    delta: float            # δ = ‖H − H_bd‖₂
    block_L: tuple          # ‖H_l‖₂ per block (to evaluate L_G from block gradient norms)
    sizes: tuple
    lr: float | None        # constant step (sign); None for GD (η_t = α/(L_G(w_t)+δ))
    provenance: Provenance

    def bound_for(self, smoothness: float) -> float:
        """2Δ(L+δ)/(α(2−α)ε²) at a given L."""
        return 2.0 * self.delta_loss * (smoothness + self.delta) / (self.alpha * (2.0 - self.alpha) * self.eps ** 2)

    @property
    def bound(self) -> float:
        return self.bound_for(self.smoothness)

    def iterations(self, eps: float | None = None) -> float:
        """The bound on T_ε, at the record's ε (the sign step depends on ε; GD accepts any ε)."""
        if eps is None or eps == self.eps:
            return self.bound
        if self.method == "sign":
            raise ValueError(f"the sign bound holds at its own eps = {self.eps} (its step depends on eps), got {eps}")
        return 2.0 * self.delta_loss * (self.smoothness + self.delta) / (self.alpha * (2.0 - self.alpha) * positive("eps", eps) ** 2)

    def gd_lr(self, w, p) -> float | np.ndarray:
        """GD's step α/(L_G(w)+δ) at w (THEORY §8.3)."""
        return self.alpha / (l_g(p, w) + self.delta)


@dataclass(frozen=True)
class StochasticBound:
    """THEORY §8.4: an averaged inequality for SGD ('sgd') or signSGD ('signsgd').

    ``sigma`` is the total noise level, E‖ξ‖² ≤ σ²; the isotropic Gaussian with that level has
    per-coordinate std ``noise_std`` = σ/√d (``sims.GaussianNoise(noise_std)``).
    """

    name: str
    method: str
    lr: float
    delta_loss: float
    smoothness: float       # sgd: λmax(H); signsgd: L_P + δ
    sigma: float
    d: int
    eps: float
    provenance: Provenance

    @property
    def noise_std(self) -> float:
        return self.sigma / math.sqrt(self.d)

    @property
    def floor(self) -> float:
        """The term no T removes: ηLσ² (SGD) or η√dL_P/2 + 2σ√(2/π) (signSGD)."""
        if self.method == "sgd":
            return self.lr * self.smoothness * self.sigma ** 2
        return self.lr * math.sqrt(self.d) * self.smoothness / 2.0 + 2.0 * self.sigma * math.sqrt(2.0 / math.pi)

    def average_bound(self, T) -> np.ndarray:
        """Right-hand side at horizon T ≥ 1: bound on (1/T)Σ_{t<T} E‖g_t‖² (sgd) or
        E‖g_t‖₁/√d (signsgd)."""
        T = np.asarray(T, dtype=float)
        if self.method == "sgd":
            return 2.0 * self.delta_loss / (self.lr * T) + self.floor
        return self.delta_loss / (self.lr * T * math.sqrt(self.d)) + self.floor

    def iterations(self, eps: float | None = None) -> float:
        """SGD: (4ΔL/ε²)·max(1, 2σ²/ε²) steps give min_t E‖g_t‖² ≤ ε² (at the record's lr);
        signSGD: 2Δ(L_P+δ)/(α(2−α)ε²) with α = 1 gives average ≤ ε + 2σ√(2/π)."""
        eps = self.eps if eps is None else positive("eps", eps)
        if self.method == "sgd":
            return math.ceil(4.0 * self.delta_loss * self.smoothness / eps ** 2 * max(1.0, 2.0 * self.sigma ** 2 / eps ** 2))
        return math.ceil(2.0 * self.delta_loss * self.smoothness / eps ** 2)


@dataclass(frozen=True)
class TomihariBounds:
    """Everything of THEORY §8.2–§8.4 for one (p, w0, ε, σ)."""

    l_g0: float             # L_G(w0)
    l_p: float
    delta: float
    delta_loss: float
    eps: float
    sigma: float
    alpha: float
    gd: IterationBound
    sign: IterationBound
    sgd: StochasticBound
    signsgd: StochasticBound
    name: str = "tomihari_bounds"


def tomihari_bounds(p, w0, eps: float, sigma: float = 0.0, *, alpha: float = 1.0) -> TomihariBounds:
    """Tomihari & Sato's deterministic and stochastic bounds for (p, w0) (THEORY §8.2–§8.4).

    Parameters
    ----------
    p : BlockQuadratic (a coupling enters through δ = p.delta)
    w0 : (d,) array
    eps : float > 0
        Absolute target: ‖g‖₂ ≤ ε (GD, SGD) or ‖g‖₁/√d ≤ ε (sign methods).
    sigma : float >= 0
        Total noise level, E‖ξ‖² ≤ σ² (THEORY §8.4).
    alpha : float in (0, 2)
        Step fraction: GD η_t = α/(L_G(w_t)+δ), sign η = αε/(√d(L_P+δ)).
    """
    _require_quadratic(p)
    w0 = finite_array("w0", w0, ndim=1)
    if w0.size != p.d:
        raise ValueError(f"w0 must have shape ({p.d},), got {w0.shape}")
    eps = positive("eps", eps)
    sigma = nonnegative("sigma", sigma)
    alpha = in_range("alpha", alpha, 0.0, 2.0, closed="neither")
    delta_loss = float(p.loss(w0))
    lp, lg0, delta, d = l_p(p), l_g(p, w0), float(p.delta), p.d
    bl = tuple(float(x) for x in _block_norms(p))
    common = dict(eps=eps, alpha=alpha, delta_loss=delta_loss, delta=delta, block_L=bl,
                  sizes=tuple(p.sizes))
    gd = IterationBound("tomihari_bounds.gd", "gd", smoothness=max(bl), lr=None,
                        provenance=Provenance("T_eps(l2) <= 2 Delta (Lbar_G + delta) / (alpha (2-alpha) eps^2)",
                                              SOURCE_DET, ("eta_t = alpha/(L_G(w_t) + delta)", "quadratic: Hessian-Lipschitz 0")),
                        **common)
    sign_lr = alpha * eps / (math.sqrt(d) * (lp + delta))
    sign = IterationBound("tomihari_bounds.sign", "sign", smoothness=lp, lr=sign_lr,
                          provenance=Provenance("T_eps(l1/sqrt d) <= 2 Delta (L_P + delta) / (alpha (2-alpha) eps^2)",
                                                SOURCE_DET, ("eta = alpha eps / (sqrt(d) (L_P + delta))", "sign(0) = 0")),
                          **common)
    L = float(p.L)
    sgd_lr = 1.0 / L if sigma == 0 else min(1.0 / L, eps ** 2 / (2.0 * L * sigma ** 2))
    sgd = StochasticBound("tomihari_bounds.sgd", "sgd", sgd_lr, delta_loss, L, sigma, d, eps,
                          Provenance("(1/T) sum E|g_t|^2 <= 2 Delta/(eta T) + eta L sigma^2", SOURCE_STOCH,
                                     ("eta <= 1/L", "E xi = 0, E|xi|^2 <= sigma^2, independent over steps")))
    signsgd = StochasticBound("tomihari_bounds.signsgd", "signsgd", eps / (math.sqrt(d) * (lp + delta)), delta_loss,
                              lp + delta, sigma, d, eps,
                              Provenance("(1/T) sum E|g_t|_1/sqrt d <= Delta/(eta T sqrt d) + eta sqrt(d) L_P/2 "
                                         "+ 2 sigma sqrt(2/pi)", SOURCE_STOCH,
                                         ("xi ~ N(0, sigma^2/d I), independent over steps", "block-diagonal H up to delta")))
    return TomihariBounds(lg0, lp, delta, delta_loss, eps, sigma, alpha, gd, sign, sgd, signsgd)


# -- Prop. 4.10: SignSGD on a linear head (THEORY §8.5) -----------------------------------------
@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class LinearHeadSignUpdate:
    """Prop. 4.10 prediction: w after ``epochs`` sample-wise SignSGD epochs (batch 1, cyclic order).

    ``delta_b`` = η(2N_c − N) and ``delta_W`` = −ηΣ_i(1−2y_ic)s_ik per epoch, independent of w;
    ``w_pred`` = w0 + epochs·(ΔW, Δb). ``bias_norm`` = ‖b‖/√C after the epochs.
    """

    lr: float
    epochs: int
    w0: np.ndarray
    delta_W: np.ndarray
    delta_b: np.ndarray
    w_pred: np.ndarray
    n_samples: int
    provenance: Provenance
    name: str = "linear_head_sign_update"

    @property
    def bias_norm(self) -> float:
        C = self.delta_b.size
        return float(np.linalg.norm(self.w_pred[-C:]) / math.sqrt(C))

    @property
    def steps(self) -> int:
        """SignSGD steps the prediction covers: N per epoch."""
        return self.n_samples * self.epochs


def linear_head_sign_update(head, lr: float, w0, *, epochs: int = 1) -> LinearHeadSignUpdate:
    """THEORY §8.5: the exact sample-wise SignSGD update of a linear head (no momentum).

    As 0 < p_ic < 1, sign(e_ic) = sign(p_ic − y_ic) = 1 − 2y_ic is fixed by the label, so
    each step moves b by −η(1 − 2y_i) and W_ck by −η(1−2y_ic)·sign(z_ik), whatever w is.
    """
    for attr in ("features", "labels", "n_classes", "split"):
        if not hasattr(head, attr):
            raise TypeError(f"head must be a LinearHead, got {type(head).__name__}")
    lr = positive("lr", lr)
    epochs = integer("epochs", epochs, minimum=0)
    w0 = finite_array("w0", w0, ndim=1)
    if w0.size != head.d:
        raise ValueError(f"w0 must have shape ({head.d},), got {w0.shape}")
    C, N = head.n_classes, head.n_samples
    y = np.eye(C)[head.labels]                           # (N, C) one-hot
    s = np.sign(head.features)                           # (N, k)
    delta_b = lr * (2.0 * head.class_counts - N)         # −η Σ_i (1 − 2y_ic)
    delta_W = -lr * (1.0 - 2.0 * y).T @ s                # (C, k)
    step = np.concatenate([delta_W.ravel(), delta_b])
    return LinearHeadSignUpdate(lr, epochs, frozen(w0), frozen(delta_W), frozen(delta_b),
                                frozen(w0 + epochs * step), N,
                                Provenance("db_c = eta (2 N_c - N), dW_ck = -eta sum_i (1 - 2 y_ic) sign(z_ik) per epoch",
                                           "THEORY §8.5 [T §4.7, App. C.4] [R]",
                                           ("SignSGD, no momentum, batch 1, each sample once per epoch",
                                            "softmax cross-entropy, 0 < p < 1 (in float64: logit gaps "
                                            "below ~36 along the epoch)")))


def full_batch_sign_step(head, lr: float, w) -> np.ndarray:
    """THEORY §8.5, full batch: Δb_c = −η sign(Σ_i e_ic), ΔW_ck = −η sign(Σ_i e_ic z_ik)."""
    lr = positive("lr", lr)
    return -lr * np.sign(head.grad(w))
