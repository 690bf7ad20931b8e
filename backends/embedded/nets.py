"""The torch definitions of the embedded networks (training only; inference uses ONNX).

Both nets take float32 NCHW images in 0..255 and normalise inside, so the exported ONNX
graph needs no preprocessing beyond resizing.

- `CenterNet`: a small conv backbone (strides 2-16) with a top-down path back to stride 4,
  and one 1x1 head giving, per grid cell, a centre-heatmap logit per class, then the box
  width and height (in grid cells) and the centre offset inside the cell.
- `CropNet`: a conv classifier for object crops with two heads, category (the shapes,
  'sign' and 'none') and color.
- `TextNet`: a small CRNN-style text reader for a reading region (conv stack, height
  averaged away, 1-D convs over the columns) giving per-column CTC logits over
  `text.CHARSET` plus the blank (class 0).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x / 255.0 - 0.5) / 0.25


class CenterNet(nn.Module):
    """Per-class centre heatmaps + (w, h, dx, dy) at stride 4."""

    stride = 4

    def __init__(self, n_classes: int, widths: tuple[int, int, int, int], depth: int):
        super().__init__()
        c1, c2, c3, c4 = widths
        self.n_classes = n_classes
        self.s1 = conv(3, c1, 2)
        self.s2 = nn.Sequential(conv(c1, c2, 2), conv(c2, c2))
        self.s3 = nn.Sequential(conv(c2, c3, 2), *[conv(c3, c3) for _ in range(depth)])
        self.s4 = nn.Sequential(conv(c3, c4, 2), *[conv(c4, c4) for _ in range(depth)])
        self.lat4, self.lat3 = nn.Conv2d(c4, c3, 1), nn.Conv2d(c3, c2, 1)
        self.out = conv(c2, c2)
        self.head = nn.Conv2d(c2, n_classes + 4, 1)
        with torch.no_grad():
            self.head.bias[:n_classes].fill_(-2.2)  # prior 0.1 on the heatmaps
            self.head.bias[n_classes:].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.s2(self.s1(_normalise(x)))
        b = self.s3(a)
        c = self.s4(b)
        b = b + F.interpolate(self.lat4(c), scale_factor=2.0, mode="nearest")
        a = a + F.interpolate(self.lat3(b), scale_factor=2.0, mode="nearest")
        return self.head(self.out(a))


class CropNet(nn.Module):
    """Shape and color logits for a square crop."""

    def __init__(self, n_shapes: int, n_colors: int, widths: tuple[int, int, int]):
        super().__init__()
        c1, c2, c3 = widths
        self.body = nn.Sequential(
            conv(3, c1), conv(c1, c2, 2), conv(c2, c2), conv(c2, c3, 2), conv(c3, c3)
        )
        self.shape_head = nn.Linear(c3, n_shapes)
        self.color_head = nn.Linear(c3, n_colors)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(_normalise(x)).mean(dim=(2, 3))
        return self.shape_head(f), self.color_head(f)


class TextNet(nn.Module):
    """CTC logits (N, T, classes) for a text image of height `height`, width 4 * T."""

    def __init__(self, n_classes: int, widths: tuple[int, int, int]):
        super().__init__()
        c1, c2, c3 = widths
        self.body = nn.Sequential(conv(3, c1), nn.MaxPool2d(2), conv(c1, c2), nn.MaxPool2d(2),
                                  conv(c2, c3))
        self.seq = nn.Sequential(nn.Conv1d(c3, c3, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv1d(c3, n_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.body(_normalise(x)).mean(dim=2)
        return self.seq(f).transpose(1, 2)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass on a zero input of `shape` (convolutions
    and linear layers; the rest is negligible at these sizes)."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            k = mod.weight[0].numel()  # in_channels / groups * kernel elements
            total += int(out.numel() * k)
        elif isinstance(mod, nn.Linear):
            total += int(out.numel() * mod.in_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()
        model(torch.zeros(shape))
    for h in handles:
        h.remove()
    return total
