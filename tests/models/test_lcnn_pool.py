"""The LCNN's fast 2x2 max pooling is the library op, values and gradients."""

import pytest
import torch
from torch import nn

from unmask.models.lcnn import MaxPool2x2


@pytest.mark.parametrize("shape", [(2, 3, 8, 10), (1, 4, 7, 9), (3, 2, 5, 2)])
def test_max_pool_2x2_matches_torch(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    fast, ref = MaxPool2x2()(x), nn.MaxPool2d(2)(y)
    assert torch.equal(fast, ref)
    fast.square().sum().backward()
    ref.square().sum().backward()
    assert torch.equal(x.grad, y.grad)
