"""NAdam and RAdam with torch semantics: Adam's two moments (``adam._Moments``), other directions."""
from __future__ import annotations

from dataclasses import dataclass, field

from hetquad.problems.validation import boolean, in_range, nonnegative, positive
from ..schedules import Constant
from .adam import _Moments
from .base import _schedule, per_run


def _unit(k, x):
    return in_range(k, x, 0.0, 1.0, closed="left")


class _Decayed(_Moments):
    """Shared validation of NAdam and RAdam: lr, β1, β2 ∈ [0, 1), ε, λ ≥ 0, torch's two decays."""

    def _validate(self) -> None:
        object.__setattr__(self, "lr", per_run("lr", self.lr, positive))
        object.__setattr__(self, "beta1", per_run("beta1", self.beta1, _unit))
        object.__setattr__(self, "beta2", per_run("beta2", self.beta2, _unit))
        object.__setattr__(self, "eps", per_run("eps", self.eps, nonnegative))
        object.__setattr__(self, "weight_decay", per_run("weight_decay", self.weight_decay, nonnegative))
        boolean("decoupled_weight_decay", self.decoupled_weight_decay)
        _schedule(self.schedule)

    def _decay(self) -> str:
        return "decoupled" if self.decoupled_weight_decay else "coupled"


@dataclass(frozen=True)
class NAdam(_Decayed):
    r"""NAdam: Adam with Nesterov momentum (Dozat, "Incorporating Nesterov Momentum into Adam",
    ICLR 2016 workshop), exactly ``torch.optim.NAdam`` (its momentum-decay schedule).

    .. math::
        \mu_t &= \beta_1 \bigl(1 - \tfrac12 \, 0.96^{t\psi}\bigr), \qquad \Pi_t = \prod_{s \le t} \mu_s \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        w_{t+1} &= w_t - \eta_t \frac{1-\mu_t}{1-\Pi_t} \frac{g_t}{d_t}
                       - \eta_t \frac{\mu_{t+1}}{1-\Pi_t\mu_{t+1}} \frac{m_t}{d_t},
        \qquad d_t = \sqrt{v_t / (1-\beta_2^t)} + \varepsilon

    (t = 1, 2, …; ε outside the root, the bias correction inside it, as torch.) No convergence
    bound on these quadratics is implemented for NAdam.

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    beta1, beta2 : float in [0, 1), or 1-D arrays
    eps : float >= 0, or a 1-D array
    weight_decay : float >= 0, or a 1-D array
        λ: g ← g + λw (torch's default), or w ← w(1 − η_t λ) with ``decoupled_weight_decay``.
    momentum_decay : float >= 0, or a 1-D array
        ψ (torch: 4e-3).
    decoupled_weight_decay : bool
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum_decay: float = 4e-3
    decoupled_weight_decay: bool = False
    schedule: Constant = field(default_factory=Constant)
    name = "nadam"
    variant = "nadam"
    HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay")

    def __post_init__(self):
        self._validate()
        object.__setattr__(self, "momentum_decay", per_run("momentum_decay", self.momentum_decay, nonnegative))
        self._check_runs()


@dataclass(frozen=True)
class RAdam(_Decayed):
    r"""RAdam: Adam with the variance of the adaptive lr rectified (Liu et al., "On the Variance of
    the Adaptive Learning Rate and Beyond", ICLR 2020, Algorithm 2), exactly ``torch.optim.RAdam``.

    .. math::
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t} \\
        \hat m_t &= m_t / (1-\beta_1^t) \\
        w_{t+1} &= w_t - \eta_t \hat m_t \, r_t \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \varepsilon}
            \ (\rho_t > 5), \qquad w_{t+1} = w_t - \eta_t \hat m_t \ (\text{else}) \\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}

    (ε added to √v before the bias correction, as torch; the paper has no ε.) With β2 ≤ 0.6
    (ρ∞ ≤ 4) every step is the un-adapted one: momentum SGD with bias-corrected momentum. No
    convergence bound on these quadratics is implemented for RAdam.

    Parameters
    ----------
    lr : float > 0, or a 1-D array (one per run)
    beta1, beta2 : float in [0, 1), or 1-D arrays
    eps : float >= 0, or a 1-D array
    weight_decay : float >= 0, or a 1-D array
        λ: g ← g + λw (torch's default), or w ← w(1 − η_t λ) with ``decoupled_weight_decay``.
    decoupled_weight_decay : bool
    schedule : a ``sims.schedules`` spec
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled_weight_decay: bool = False
    schedule: Constant = field(default_factory=Constant)
    name = "radam"
    variant = "radam"
    HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __post_init__(self):
        self._validate()
        self._check_runs()
