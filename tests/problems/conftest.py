"""Fixtures shared by the problems tests."""
import pytest


@pytest.fixture(scope="module")
def torch_one_thread():
    """torch on one intra-op thread: the reference networks are tiny, so one thread is faster
    (and much faster on a shared machine)."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
