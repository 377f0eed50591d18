"""The playground's state: one frozen record of every control, and how it becomes problem and optimizers.

Everything the page shows is a pure function of a ``State``, so "copy as code" and "copy as sweep"
can reproduce it and the tests can check it without a browser.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

# Catalog entries the playground offers: the quadratic families (the torch-backed real-network
# entries and the linear head are left out: no block Hessian to draw, or seconds to build).
FAMILIES = ("tau-kappa", "tomihari-blocks", "adam-mini-fig5", "adam-mini-fig4", "zhang2024-case1",
            "zhang2024-case2", "zhang2024-case3", "zhang2024-case4", "zhang2024-case12-interp",
            "coupled", "deepobs-quadratic", "nqm")

# Adam-family optimizers can run as torch's Adam or as the theorem variant (β1 = 0, β2 = 1,
# v0 = g0², ε = 0) that the bounds of THEORY §4 are about.
VARIANTS = ("torch", "theorem")
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class OptChoice:
    """One optimizer of the race: its ``sims`` name, lr and hyper-parameters.

    ``lr`` is the step (for ``blockwise-gd`` the multiplier of the per-block optimal steps
    2/(L_l + μ_l)); ``hyper`` holds ``(name, value)`` pairs; ``schedule`` is ``('constant',)``,
    ``('step', every, gamma)`` or ``('cosine', total, final)``.
    """

    name: str
    lr: float
    hyper: tuple = ()
    variant: str = "torch"
    schedule: tuple = ("constant",)

    @property
    def label(self) -> str:
        return f"{self.name} (theorem)" if self.variant == "theorem" else self.name


@dataclass(frozen=True)
class State:
    """Every control of the page.

    Parameters
    ----------
    problem : str
        A catalog entry (``FAMILIES``).
    params : tuple of (name, value)
        Overrides of the entry's parameters (``problems.catalog.parameters(problem)``).
    seed : int
        Instance seed (``problems.get(..., seed=seed)``).
    batch : int
        Initial points; run i starts at ``sims.initial_points(p, 1, i)`` as a sweep's seed i does,
        or, with ``gini`` set, at ``problems.initial_point(p, gini=gini, placement='sharpest', seed=i)``.
    steps, tol : int, float
        Updates per run; iterations to tol = first step with ℓ_t ≤ tol·ℓ_0.
    gini : float or None
        Target Gini of the initial block gradient norms (THEORY §8.1); None: Gaussian w0.
    optimizers : tuple of OptChoice
    last_moved : str or None
        The control the user moved last (``'param.tau'``, ``'opt.adam.lr'``, ``'seed'``, ...):
        "copy as sweep" varies it.
    """

    problem: str = "tau-kappa"
    params: tuple = ()
    seed: int = 0
    batch: int = 8
    steps: int = 1000
    tol: float = 1e-6
    gini: float | None = None
    optimizers: tuple = ()
    last_moved: str | None = None
    engine: str = "auto"

    @property
    def param_dict(self) -> dict:
        return dict(self.params)

    def replace(self, **kw) -> "State":
        return dataclasses.replace(self, **kw)


def schedule_spec(schedule: tuple):
    """The ``sims.schedules`` spec of a schedule tuple."""
    from hetquad import sims

    kind = schedule[0]
    if kind == "constant":
        return sims.Constant()
    if kind == "step":
        return sims.Step(every=int(schedule[1]), gamma=float(schedule[2]))
    if kind == "cosine":
        return sims.Cosine(total=int(schedule[1]), final=float(schedule[2]))
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {kind!r}")


def build_problem(state: State):
    """``problems.get(state.problem, seed=state.seed, **params)``."""
    from hetquad import problems

    if state.problem not in FAMILIES:
        raise ValueError(f"problem must be one of {', '.join(FAMILIES)}, got {state.problem!r}")
    return problems.get(state.problem, seed=state.seed, **state.param_dict)


def initial_points(state: State, p) -> np.ndarray:
    """(batch, d) initial points (see ``State``)."""
    from hetquad import problems, sims

    if state.gini is None:
        return np.concatenate([sims.initial_points(p, 1, i) for i in range(state.batch)])
    return np.stack([problems.initial_point(p, gini=state.gini, placement="sharpest", seed=i)
                     for i in range(state.batch)])


def build_optimizer(choice: OptChoice, p):
    """The ``sims`` optimizer spec of one ``OptChoice`` on problem ``p``."""
    from hetquad import sims

    if choice.variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {choice.variant!r}")
    hyper = dict(choice.hyper)
    sched = schedule_spec(choice.schedule)
    if choice.name == "blockwise-gd":
        return sims.BlockwiseGD.optimal(p, lr=choice.lr, schedule=sched)
    if choice.variant == "theorem":
        if choice.name not in ("adam", "adam-mini"):
            raise ValueError(f"the theorem variant exists for adam and adam-mini, got {choice.name!r}")
        return sims.make(choice.name, lr=choice.lr, beta1=0.0, beta2=1.0, eps=0.0,
                         bias_correction=False, v0="g0sq", schedule=sched)
    return sims.make(choice.name, lr=choice.lr, schedule=sched, **hyper)
