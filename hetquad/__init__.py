"""hetquad — quadratic testbeds for why Transformers need Adam.

``hetquad.problems`` builds quadratics with controlled κ, τ and gradient heterogeneity,
``hetquad.sims`` runs optimizers on them, ``hetquad.theory`` checks runs against the bounds.
"""
__version__ = "0.1.0"

from . import problems, sims, theory  # noqa: E402  (subpackages need __version__ first)

__all__ = ["problems", "sims", "theory", "__version__"]
from .results import load  # noqa: E402  (a sweep directory → (table, dataset))
__all__ += ["load"]
