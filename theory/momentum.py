"""Momentum on a quadratic: Polyak's heavy ball, Nesterov's method, and the first-order lower bound
(THEORY §12).

On ℓ(w) = ½ eᵀHe with spectrum in [μ, L], κ = L/μ:

* heavy ball (Polyak 1964, "Some methods of speeding up the convergence of iteration methods",
  Thm. 9; in the form of Lessard, Recht & Packard 2016, §3.2) w_{t+1} = w_t − α g_t + β (w_t − w_{t−1})
  at α* = 4/(√L + √μ)², β* = ((√κ − 1)/(√κ + 1))² contracts at ρ = √β* = (√κ − 1)/(√κ + 1);
* Nesterov's constant-momentum method (Nesterov 2004, "Introductory Lectures on Convex
  Optimization", scheme (2.2.19) and Thm. 2.2.3) at η = 1/L, β = (√κ − 1)/(√κ + 1) has
  f(x_t) − f* ≤ (1 − 1/√κ)^t (f(x_0) − f* + μ/2 ‖x_0 − x*‖²);
* no first-order method beats ρ = (√κ − 1)/(√κ + 1) on the worst quadratic (Nesterov 2004,
  Thm. 2.1.13): ‖x_t − x*‖ ≥ ρ^t ‖x_0 − x*‖ (stated in infinite dimension; a d-dimensional
  instance realizes it for t up to about d/2).

``torch.optim.SGD`` (``sims.SGD``) runs both: momentum μ = β with lr = α is the heavy ball, and
``nesterov=True`` iterates y_t of scheme (2.2.19) (x_{t+1} = y_t − η∇f(y_t),
y_{t+1} = x_{t+1} + β(x_{t+1} − x_t), x_0 = y_0), which the bounds here are stated for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hetquad.problems.validation import in_range
from .rates import _require_quadratic
from .records import Provenance


@dataclass(frozen=True)
class MomentumBound:
    """ℓ_t/ℓ_0 ≤ ``loss_bound(t)`` for a momentum method at fixed (lr, momentum) (THEORY §12).

    Attributes
    ----------
    name : str              ``'heavy_ball_rate'`` or ``'nesterov_rate'``
    lr, momentum : float    the step α (η) and momentum β the bound holds at
    nesterov : bool
    rate : float            asymptotic per-step contraction of the error (loss: rate²)
    mu, L, kappa : float
    envelope : str          which closed form ``loss_bound`` evaluates
    provenance : Provenance
    """

    name: str
    lr: float
    momentum: float
    nesterov: bool
    rate: float
    mu: float
    L: float
    kappa: float
    envelope: str
    provenance: Provenance

    def loss_bound(self, t) -> np.ndarray:
        """Bound on ℓ_t/ℓ_0 (1 at t = 0)."""
        t = np.asarray(t, dtype=float)
        if self.envelope == "heavy-ball":
            # per eigen-direction x_t = ρ^t [(x_1/ρ) U_{t−1}(c) − x_0 U_{t−2}(c)], |c| ≤ 1 on [μ, L],
            # |U_k| ≤ k + 1 and |x_1| ≤ M|x_0| with M = max |1 − αλ|: |x_t| ≤ ρ^t (tM/ρ + |t − 1|)|x_0|
            rho = self.rate
            m = max(abs(1.0 - self.lr * self.mu), abs(1.0 - self.lr * self.L))
            c = rho ** t * (t * m / rho + np.abs(t - 1.0)) if rho > 0 else np.where(t == 0, 1.0, 0.0)
            return np.where(t == 0, 1.0, c ** 2)
        # Nesterov, on the gradient points y_t: f(y_t) − f* ≤ L/2 ‖y_t − x*‖² with
        # ‖y_t − x*‖ ≤ (1+β)‖x_t − x*‖ + β‖x_{t−1} − x*‖, ‖x_s − x*‖² ≤ (2/μ) q^s Φ_0 and
        # Φ_0 = ℓ_0 + μ/2‖e_0‖² ≤ 2ℓ_0: ℓ_t/ℓ_0 ≤ 2κ q^{t−1} ((1+β)√q + β)², q = 1 − 1/√κ
        q = self.rate ** 2
        b = self.momentum
        with np.errstate(divide="ignore"):
            env = 2.0 * self.kappa * q ** (t - 1.0) * ((1.0 + b) * math.sqrt(q) + b) ** 2
        return np.where(t == 0, 1.0, np.minimum(env, np.inf))

    def iterations(self, eps: float, *, horizon: int = 10**7) -> float:
        """First t with ``loss_bound(t)`` ≤ ε: an upper bound on T(ε) (inf beyond ``horizon``)."""
        eps = in_range("eps", eps, 0.0, 1.0, closed="right")
        if eps >= 1.0:
            return 0.0
        lo, hi = 1, 1
        while float(self.loss_bound(hi)) > eps:  # the envelopes fall for t past their peak
            lo, hi = hi, hi * 2
            if hi > horizon:
                return math.inf
        ts = np.arange(lo, hi + 1)
        ok = np.flatnonzero(self.loss_bound(ts) <= eps)
        return float(ts[ok[0]])


def _spectrum(p) -> tuple[float, float]:
    _require_quadratic(p)
    return float(p.mu), float(p.L)


def heavy_ball_rate(p) -> MomentumBound:
    """Polyak's heavy ball at its optimal (α*, β*) on ``p`` (THEORY §12).

    α* = 4/(√L + √μ)², β* = ((√κ − 1)/(√κ + 1))², rate ρ = (√κ − 1)/(√κ + 1) — the first-order
    lower bound's rate (Polyak 1964, Thm. 9; Lessard, Recht & Packard 2016, §3.2). At (α*, β*)
    the iteration matrix has a double eigenvalue at λ = μ and λ = L, so the bound on ℓ_t/ℓ_0 is
    ρ^{2t} times a factor growing like t² (``MomentumBound.loss_bound``), not ρ^{2t} alone.

    Returns
    -------
    MomentumBound
        ``lr`` = α*, ``momentum`` = β*; run it as ``sims.SGD(lr=b.lr, momentum=b.momentum)``.
    """
    mu, L = _spectrum(p)
    sk = math.sqrt(L / mu)
    rho = (sk - 1.0) / (sk + 1.0)
    alpha = 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2
    return MomentumBound("heavy_ball_rate", alpha, rho * rho, False, rho, mu, L, L / mu, "heavy-ball",
                         Provenance("rho = (sqrt(kappa)-1)/(sqrt(kappa)+1) at alpha* = 4/(sqrt L + sqrt mu)^2, "
                                    "beta* = rho^2", "THEORY §12 (Polyak 1964 Thm. 9)",
                                    ("quadratic, spectrum in [mu, L]", "constant alpha, beta",
                                     "deterministic gradients")))


def nesterov_rate(p) -> MomentumBound:
    """Nesterov's constant-momentum method at η = 1/L, β = (√κ − 1)/(√κ + 1) (THEORY §12).

    f(x_t) − f* ≤ (1 − 1/√κ)^t Φ_0 (Nesterov 2004, Thm. 2.2.3 for scheme (2.2.19)); the bound
    reported by ``loss_bound`` is the one for the gradient points y_t that ``torch.optim.SGD(...,
    nesterov=True)`` iterates (a factor 2κ((1+β)√q + β)²/q looser, same rate √q = √(1 − 1/√κ)).
    """
    mu, L = _spectrum(p)
    sk = math.sqrt(L / mu)
    q = 1.0 - 1.0 / sk
    return MomentumBound("nesterov_rate", 1.0 / L, (sk - 1.0) / (sk + 1.0), True, math.sqrt(q), mu, L, L / mu,
                         "nesterov", Provenance("f(x_t) - f* <= (1 - 1/sqrt(kappa))^t (f(x_0) - f* + mu/2 |e_0|^2)",
                                                "THEORY §12 (Nesterov 2004 Thm. 2.2.3)",
                                                ("strongly convex L-smooth (here a quadratic)",
                                                 "eta = 1/L, beta = (sqrt(kappa)-1)/(sqrt(kappa)+1)",
                                                 "deterministic gradients")))


@dataclass(frozen=True)
class FirstOrderLowerBound:
    """‖x_t − x*‖ ≥ rate^t ‖x_0 − x*‖ for any first-order method on the worst quadratic (THEORY §12)."""

    name: str
    rate: float
    kappa: float
    provenance: Provenance

    def iterations(self, eps: float) -> float:
        """Lower bound on the t with ‖x_t − x*‖ ≤ ε‖x_0 − x*‖: ⌈ln(1/ε)/ln(1/rate)⌉."""
        eps = in_range("eps", eps, 0.0, 1.0, closed="right")
        if eps >= 1.0 or self.rate == 0.0:
            return 0.0
        return float(math.ceil(math.log(1.0 / eps) / math.log(1.0 / self.rate) - 1e-12))


def first_order_lower_bound(kappa: float) -> FirstOrderLowerBound:
    """Nesterov 2004, Thm. 2.1.13: rate (√κ − 1)/(√κ + 1) for condition number κ ≥ 1 (THEORY §12)."""
    kappa = in_range("kappa", kappa, 1.0, math.inf, closed="left")
    sk = math.sqrt(kappa)
    return FirstOrderLowerBound("first_order_lower_bound", (sk - 1.0) / (sk + 1.0), kappa,
                                Provenance("|x_t - x*| >= ((sqrt(kappa)-1)/(sqrt(kappa)+1))^t |x_0 - x*|",
                                           "THEORY §12 (Nesterov 2004 Thm. 2.1.13)",
                                           ("any method with x_t in x_0 + span(g_0..g_{t-1})",
                                            "worst-case quadratic (infinite dimension, or t up to ~d/2)")))

