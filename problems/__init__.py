"""hetquad.problems — spectra, rotations, BlockQuadratic, structure metrics and the catalog."""
from . import rotations, spectra, validation
from .quadratic import BlockQuadratic, block_quadratic, coupled, validate_spd

__all__ = ["BlockQuadratic", "block_quadratic", "coupled", "validate_spd", "rotations", "spectra",
           "validation"]
