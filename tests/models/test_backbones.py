"""The tiny backbone's basic block is torchvision's, module for module."""
import pytest
import torch
from torchvision.models.resnet import BasicBlock as TorchvisionBasicBlock

from zs3core.models.backbones import BasicBlock


@pytest.mark.parametrize("inplanes, planes, stride", [(8, 8, 1), (8, 16, 2), (4, 12, 1)])
def test_basic_block_is_torchvisions(inplanes, planes, stride):
    def built(block_class):
        torch.manual_seed(0)
        down = None
        if stride != 1 or inplanes != planes:
            down = torch.nn.Sequential(torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                       torch.nn.BatchNorm2d(planes))
        block = block_class(inplanes, planes, stride, down)
        for p in block.parameters():  # random BatchNorm affine too, so that the paths differ
            torch.nn.init.normal_(p)
        return block, torch.rand(1)  # the generator's state after building

    (ours, after_ours), (theirs, after_theirs) = built(BasicBlock), built(TorchvisionBasicBlock)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(after_ours, after_theirs)
    x = torch.randn(2, inplanes, 9, 11)
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        assert torch.equal(ours(x), theirs(x))
