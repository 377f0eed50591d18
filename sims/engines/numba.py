"""Placeholder until the compiled engine lands: reports itself unavailable."""
NAME = "numba"


def is_available() -> bool:
    return False


def why_unavailable() -> str:
    return "the numba engine is not built yet"


def unsupported(task):
    return "not built"
