"""A session fixture for suites that score many tiny batches (the service's and the bench's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models' batches gain nothing from threads, and on a busy machine they lose a lot. A conftest
    that imports this fixture turns it on for its folder."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
