"""A small ResNet + FPN backbone that trains from scratch on CPU.

Why not torchvision's ResNet-50/18: no pretrained weights can be had here, and at 200 px the
R18-FPN body alone costs ~160 ms on two cores, far over the policy's 30 ms image budget. This body is
a ResNet-18 layout at reduced width (``width`` channels in the first stage, doubled per stage) with
trainable GroupNorm, which trains from random init with small batches (frozen batch norm diverges
from scratch, see the project's FACTS).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

FPN_LEVELS = ("0", "1", "2", "3")  # strides 4, 8, 16, 32
FPN_STRIDES = {"0": 4, "1": 8, "2": 16, "3": 32}


def _norm(channels: int, kind: str) -> nn.Module:
    if kind == "gn":
        groups = 8 if channels % 8 == 0 else 1
        return nn.GroupNorm(groups, channels)
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm: expected 'gn' or 'bn', got {kind!r}")


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual; ``stride`` 2 halves the resolution."""

    def __init__(self, cin: int, cout: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.n1 = _norm(cout, norm)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.n2 = _norm(cout, norm)
        self.act = nn.ReLU(inplace=True)
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(cout, norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.n1(self.conv1(x)))
        y = self.n2(self.conv2(y))
        return self.act(y + self.down(x))


class SmallResNetFPN(nn.Module):
    """ResNet-style body (strides 4..32) + FPN; the ``backbone`` torchvision's MaskRCNN expects.

    Args:
        width: channels of the stride-4 stage; stages have width, 2w, 4w, 8w.
        blocks: residual blocks per stage.
        fpn_channels: channels of every FPN level (``out_channels``).
        norm: ``"gn"`` (GroupNorm, default) or ``"bn"`` (trainable BatchNorm).

    Input (B, 3, H, W) normalised floats; output OrderedDict ``"0".."3"`` (strides 4..32) and
    ``"pool"`` (stride 64), each (B, fpn_channels, H/s, W/s).
    """

    def __init__(
        self,
        width: int = 32,
        blocks: tuple[int, ...] = (1, 1, 1, 1),
        fpn_channels: int = 64,
        norm: str = "gn",
    ) -> None:
        super().__init__()
        if len(blocks) != 4 or min(blocks) < 1:
            raise ValueError(f"blocks: expected 4 positive counts, got {blocks!r}")
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, 2, 1, bias=False),
            _norm(width, norm),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, 2, 1, bias=False),
            _norm(width, norm),
            nn.ReLU(inplace=True),
        )  # stride 4
        chans = [width * 2**i for i in range(4)]
        stages = []
        cin = width
        for i, (c, n) in enumerate(zip(chans, blocks, strict=True)):
            layers = [BasicBlock(cin, c, 1 if i == 0 else 2, norm)]
            layers += [BasicBlock(c, c, 1, norm) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            cin = c
        self.stages = nn.ModuleList(stages)
        self.fpn = FeaturePyramidNetwork(chans, fpn_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = fpn_channels

    def body(self, x: torch.Tensor, upto: int = 3) -> OrderedDict[str, torch.Tensor]:
        """Stage outputs ``"0".."upto"`` (strides 4..32)."""
        x = self.stem(x)
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for i, stage in enumerate(self.stages):
            x = stage(x)
            out[str(i)] = x
            if i == upto:
                break
        return out

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(self.body(x))
