"""Placeholder until the compiled engine lands: reports itself unavailable."""
NAME = "cupy"


def is_available() -> bool:
    return False


def why_unavailable() -> str:
    return "the cupy engine is not built yet"


def unsupported(task):
    return "not built"
