"""hetquad.sims — optimizer specs, engines (numpy, numba, cupy) and ``run``."""
from . import engines, noise, schedules, stopping
from .noise import GaussianNoise, GradientCorrelatedNoise, MiniBatch
from .optimizers import (OPTIMIZERS, Adam, AdamMini, BlockwiseGD, GD, Partition, RMSProp, SignSGD,
                         Signum, block_second_moment, coordinate_second_moment, make, resolve_partition)
from .optimizers import SGD, AdamW, Lion, NAdam, RAdam
from .optimizers import LAMB, SM3, ClippedGD, NormalizedGD, Sophia
from .optimizers import CAME, SOAP, Adafactor, Muon, Shampoo
from .adaptive_gd import run_adaptive_gd
from .estimate import Estimate, estimate
from .grid import Grid, grid
from .result import Hyper, Result
from .stopping import StopCode
from .run import initial_points, run, versions
from .schedules import Constant, Cosine, Linear, Step, Warmup
from .byo import Custom, custom
from .from_torch import from_torch
from .serialization import canonical_json, config_hash, from_dict, to_dict
from .tune import TuneAtEdgeWarning, TuneResult, score, tune, tune_interior

__all__ = [
    "GD", "BlockwiseGD", "SignSGD", "Signum", "Adam", "AdamMini", "RMSProp", "OPTIMIZERS", "make",
    "Constant", "Step", "Cosine", "Warmup", "GaussianNoise", "MiniBatch", "Result", "run", "tune", "tune_interior",
    "TuneResult", "TuneAtEdgeWarning", "score", "engines", "noise", "schedules", "initial_points",
    "versions", "Partition",
    "resolve_partition", "coordinate_second_moment", "block_second_moment", "to_dict", "from_dict",
    "canonical_json", "config_hash", "run_adaptive_gd", "grid", "Grid", "estimate", "Estimate", "Hyper",
    "stopping", "StopCode",
    "SGD", "AdamW", "NAdam", "RAdam", "Lion",
    "LAMB", "SM3", "Sophia", "NormalizedGD", "ClippedGD",
    "Shampoo", "SOAP", "Muon", "Adafactor", "CAME",
    "Linear", "custom", "Custom", "from_torch", "GradientCorrelatedNoise",
]
