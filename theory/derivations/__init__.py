"""Sympy derivations of the closed forms in ``hetquad.theory`` (THEORY §2, §4, §9.1).

Each function *derives* (solves, simplifies) rather than restates and returns sympy expressions;
tests lambdify them and compare with the numeric functions on random inputs.
"""
from .gd import construction_loss_ratio, optimal_gd
from .adam import preconditioned_equivalence
from .sign_descent import sign_plateau

__all__ = ["optimal_gd", "construction_loss_ratio", "preconditioned_equivalence", "sign_plateau"]
