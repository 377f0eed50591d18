"""Argument validation shared by every public constructor.

Each check raises ``ValueError`` (``TypeError`` for a wrong type) whose message names the
argument, the value received and the allowed range, e.g. ``lr must be > 0, got -1.0``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def real(name: str, value) -> float:
    """Return ``value`` as a finite float or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def positive(name: str, value) -> float:
    """Finite and > 0."""
    value = real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def nonnegative(name: str, value) -> float:
    """Finite and >= 0."""
    value = real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def in_range(name: str, value, low: float, high: float, *, closed: str = "both") -> float:
    """Finite and inside [low, high]; ``closed`` in {'both', 'left', 'right', 'neither'}."""
    value = real(name, value)
    lo_ok = value >= low if closed in ("both", "left") else value > low
    hi_ok = value <= high if closed in ("both", "right") else value < high
    if not (lo_ok and hi_ok):
        left = "[" if closed in ("both", "left") else "("
        right = "]" if closed in ("both", "right") else ")"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value}")
    return value


def integer(name: str, value, *, minimum: int | None = None) -> int:
    """An int (numpy ints accepted) not below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def one_of(name: str, value, allowed) -> str:
    """A string from ``allowed``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(allowed)}, got {type(value).__name__} {value!r}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


def boolean(name: str, value) -> bool:
    """A bool (numpy bools accepted); 0/1, strings and None are refused so a typo never passes."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def finite_array(name: str, value, *, ndim: int | None = None, dtype=np.float64) -> np.ndarray:
    """A finite float array (copied), optionally of a fixed number of dimensions.

    Complex input is refused (casting would silently drop the imaginary part).
    """
    if _has_complex(value):
        raise TypeError(f"{name} must be real, got complex values")
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return arr


def _has_complex(value) -> bool:
    """Whether ``value`` (an array, a number or nested lists of them) holds a complex number."""
    if isinstance(value, (list, tuple)):
        return any(_has_complex(v) for v in value)
    return isinstance(value, complex) or (isinstance(value, np.ndarray | np.generic) and np.iscomplexobj(value))


def frozen(arr: np.ndarray) -> np.ndarray:
    """Mark an array read-only so frozen records really are immutable."""
    arr.setflags(write=False)
    return arr
