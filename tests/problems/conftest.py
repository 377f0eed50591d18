"""Fixtures shared by the problems tests."""
import pytest


@pytest.fixture(scope="module")
def torch_one_thread():
    """torch on one intra-op thread: the reference networks are tiny, so one thread is faster
    (and much faster on a shared machine)."""
    pytest.importorskip("torch")
    from hetquad.problems.networks import torch_threads

    with torch_threads(1):
        yield
