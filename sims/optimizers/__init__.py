"""Optimizer specs (one module per family): frozen hyper-parameters plus pure ``init``/``update`` on batched arrays.

Following optax, an optimizer is a pair of pure functions over an immutable state. Arrays are
batched: ``w`` has shape (n, d), n independent runs. ``update`` is written once and is
xp-generic: the numpy engine runs it on numpy arrays and the batched/cupy engine runs the very
same code on cupy arrays (the namespace is read off the arrays). The numba engine is the one
second rendering; it reads the per-family record that ``lower`` returns (``FAMILIES`` is the
registry of families and their records).

Every numeric hyper-parameter (lr, beta1, beta2, eps, momentum, BlockwiseGD's lr and lrs) is a
number or a 1-D array with one value per run (for ``lrs``: one row of per-block lrs per run).
A per-run value is stored as a tuple (the spec stays frozen, hashable and serializable);
``runs()`` is the common length (None when every value is a number) and ``hyper(n)`` the table of
per-run values. The arithmetic of a run uses its own values elementwise, so a run computes the
same bits alone or inside any batch.

Adam, Adam-mini and RMSProp share the moment pieces below and differ only in the second moment:
per coordinate or one scalar per partition block. The Adam theorem variant of THEORY §4
(β1 = 0, β2 = 1, v0 = g0², ε = 0, no bias correction) is a plain ``Adam`` configuration.
"""
from __future__ import annotations

from hetquad.problems.validation import one_of
from .base import column, corrections, ema, namespace, per_run, run_values, scaled
from .partition import Partition, block_second_moment, coordinate_second_moment, resolve_partition
from .records import FAMILIES, AdamRecord, GDRecord, MomentumRecord, SignRecord, _family
from .gd import GD, BlockwiseGD, GDState
from .sign import SignSGD, Signum, SignState
from .adam import Adam, AdamHyper, AdamMini, AdamState, RMSProp
from .momentum import SGD, MomentumState  # zoo-a: elementwise optimizers, every engine incl. numba
from .sign import Lion
from .adam import AdamW
from .adam_variants import NAdam, RAdam
from .lamb import LAMB, LambState
from .sm3 import SM3, SM3State
from .sophia import Sophia, SophiaState
from .normalized import ClippedGD, NormalizedGD, NormState
from .shampoo import SOAP, MatrixState, Shampoo
from .muon import Muon
from .adafactor import CAME, Adafactor

OPTIMIZERS = {cls.name: cls for cls in (GD, BlockwiseGD, SignSGD, Signum, Adam, AdamMini, RMSProp)}
OPTIMIZERS.update({cls.name: cls for cls in (SGD, AdamW, NAdam, RAdam, Lion)})  # every engine, numba included
OPTIMIZERS.update({cls.name: cls for cls in (LAMB, SM3, Sophia, NormalizedGD, ClippedGD)})  # per block; every engine
OPTIMIZERS.update({cls.name: cls for cls in (Shampoo, SOAP, Muon, Adafactor, CAME)})  # matrix blocks; xp engines only


def make(name: str, **hyper):
    """Build an optimizer spec by its name (``sims.OPTIMIZERS`` lists them)."""
    one_of("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name](**hyper)

__all__ = ["OPTIMIZERS", "make", "FAMILIES", "GD", "BlockwiseGD", "SignSGD", "Signum", "Adam", "AdamMini", "RMSProp",
           "GDState", "SignState", "AdamState", "AdamHyper", "GDRecord", "SignRecord", "AdamRecord", "Partition",
           "resolve_partition", "block_second_moment", "coordinate_second_moment", "namespace", "per_run",
           "run_values", "column", "ema", "scaled", "corrections", "_family"]
__all__ += ["LAMB", "SM3", "Sophia", "NormalizedGD", "ClippedGD", "LambState", "SM3State", "SophiaState",
            "NormState"]
__all__ += ["SGD", "AdamW", "NAdam", "RAdam", "Lion", "MomentumState", "MomentumRecord"]
