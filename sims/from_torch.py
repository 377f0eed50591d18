"""``sims.from_torch(torch.optim.X, **kw)``: any torch optimizer on a hetquad problem (a slower path).

The batch is one float64 torch parameter per run, all in one optimizer (per-parameter state, so
an elementwise optimizer keeps runs independent; one that couples its parameters — a global
gradient norm, L-BFGS — would couple the runs, and closures are not supported). Each step copies
the gradient into ``p.grad``, calls ``optimizer.step()`` and copies the parameters back: a Python
loop over runs per step, labelled as such (the spec's name is ``torch.optim.X``, ``Result.engine``
is ``'numpy+torch'``). The torch state is mutable and lives outside hetquad's frozen state, so a
spec's ``init`` starts a fresh torch optimizer each time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .optimizers.base import namespace

ENGINE_SUFFIX = "+torch"


class TorchState(NamedTuple):
    w: object      # (n, d) iterate (host or device array of the engine)
    t: int
    params: tuple  # one torch.float64 parameter per run
    optimizer: object


def _torch():
    import torch
    return torch


@dataclass(frozen=True)
class TorchOptimizer:
    """A torch optimizer class and its keyword arguments, run through ``sims.run`` (``from_torch``)."""

    qualname: str          # e.g. "torch.optim.Adam" (the class itself is kept beside the fields)
    kwargs: tuple = ()     # sorted (name, value) pairs
    engine_suffix = ENGINE_SUFFIX

    @property
    def name(self) -> str:
        return self.qualname

    def _make(self, params):
        return self._cls(list(params), **dict(self.kwargs))

    def init(self, problem, w0) -> TorchState:
        torch = _torch()
        xp = namespace(w0)
        host = np.asarray(w0.get() if xp is not np else w0, dtype=np.float64)
        host = host[None, :] if host.ndim == 1 else host
        params = tuple(torch.nn.Parameter(torch.tensor(row, dtype=torch.float64)) for row in host)
        return TorchState(xp.asarray(host.copy()), 0, params, self._make(params))

    def update(self, state: TorchState, g) -> TorchState:
        torch = _torch()
        xp = namespace(g)
        host = np.asarray(g.get() if xp is not np else g, dtype=np.float64)
        for p, row in zip(state.params, host):
            p.grad = torch.tensor(row, dtype=torch.float64)
        state.optimizer.step()
        with torch.no_grad():
            w = np.stack([p.detach().numpy().copy() for p in state.params])
        return TorchState(xp.asarray(w), state.t + 1, state.params, state.optimizer)

    def hyper(self, n: int) -> dict:
        """The numeric keyword arguments, one value per run."""
        return {k: np.full(n, float(v)) for k, v in self.kwargs
                if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def _lengths(self) -> dict:
        return {}


def from_torch(optimizer, **kwargs) -> TorchOptimizer:
    """Run ``torch.optim.X`` (or any ``torch.optim.Optimizer`` subclass) on hetquad problems.

    Parameters
    ----------
    optimizer : a subclass of ``torch.optim.Optimizer`` (the class, not an instance)
    **kwargs
        Its keyword arguments (``lr=...``, ``betas=(...)``, ...); checked by building it once.

    Returns
    -------
    TorchOptimizer
        A spec for ``sims.run`` (numpy and cupy engines; the torch loop runs on the CPU in float64).

    Examples
    --------
    >>> import torch
    >>> spec = from_torch(torch.optim.Adam, lr=1e-2)
    """
    torch = _torch()
    if not (isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer)):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer subclass (e.g. torch.optim.Adam), "
                        f"got {optimizer!r}")
    pairs = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    module = "torch.optim" if optimizer.__module__.startswith("torch.optim") else optimizer.__module__
    spec = TorchOptimizer(f"{module}.{optimizer.__qualname__}", pairs)
    object.__setattr__(spec, "_cls", optimizer)  # not a field: the spec stays serializable
    spec._make([torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))])  # torch's own argument checks, now
    return spec
