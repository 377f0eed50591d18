"""hetquad.problems — spectra, rotations, BlockQuadratic, structure metrics and the catalog."""
from . import rotations, spectra, validation
from .quadratic import BlockQuadratic, block_quadratic, coupled, validate_spd
from .heterogeneity import (GradientHeterogeneity, geometric_ratio_for_gini, gini,
                            gradient_heterogeneity, initial_point, l_g, l_p)
from .linear_head import LinearHead, linear_head
from .io import load_npz, save_npz
from . import catalog, io
from .catalog import get, names

__all__ = ["BlockQuadratic", "block_quadratic", "coupled", "validate_spd", "rotations", "spectra",
           "validation",
           "GradientHeterogeneity", "geometric_ratio_for_gini", "gini", "gradient_heterogeneity",
           "initial_point", "l_g", "l_p", "LinearHead", "linear_head", "load_npz", "save_npz",
           "catalog", "io", "get", "names"]
# structure metrics (THEORY §5b, §7); `tau` the function shadows the submodule name on purpose
from .tau import givens_block, target_tau_block, tau, tau_range, tau_rank_one
from .spectral_density import (BlockDensities, SpectralNodes, block_densities, js0, js0_from_nodes,
                               js_distance, pairwise_js)
from .preconditioner import kappa_preconditioned, r_adam, r_adam_singular
__all__ += ["givens_block", "target_tau_block", "tau", "tau_range", "tau_rank_one",
            "BlockDensities", "SpectralNodes", "block_densities", "js0", "js0_from_nodes",
            "js_distance", "pairwise_js", "kappa_preconditioned", "r_adam", "r_adam_singular"]
# real networks → block spectra → quadratics (torch is imported on first call, not here);
# `from_spectra` the function shadows the submodule name, as `tau` does
from . import networks
from .networks import BlockGradients, BlockSpectra, blockwise_gradients, blockwise_spectra
from .from_spectra import from_spectra
__all__ += ["networks", "BlockGradients", "BlockSpectra", "blockwise_gradients", "blockwise_spectra",
            "from_spectra"]
