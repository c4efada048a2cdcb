"""Histograms of every parameter of a ResNet-50 (25.6M parameters in 161 tensors) per step.

One step = ``add_histogram(name, param, step)`` for every ``named_parameters()``, as
training scripts do every N steps. The model is ResNet-50's exact parameter layout
(Conv2d/BatchNorm2d bottlenecks and the final Linear), built without torchvision.

* caller: one step on a fresh writer (close() is not timed);
* end to end: one step plus close();
* baseline: copying every parameter once (``p.detach().numpy().copy()``), the least a
  writer that snapshots its inputs must do on the caller.

Target (docs/architecture.md): caller <= 20 ms per step (torch: ~730 ms on a 25.7M-parameter Linear
stack of 130 tensors).
"""

from __future__ import annotations

from typing import Any

import pytest
from benchlib import record, rounds

torch = pytest.importorskip("torch")
nn = torch.nn


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck (1x1, 3x3, 1x1 convolutions, expansion 4)."""

    def __init__(self, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = 4 * width
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


def resnet50() -> Any:
    torch.manual_seed(0)
    layers = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    ]
    in_channels = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(in_channels, width, stride if i == 0 else 1))
            in_channels = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def named_params() -> list:
    model = resnet50()
    params = list(model.named_parameters())
    assert sum(p.numel() for _, p in params) == 25_557_032 and len(params) == 161
    return params


def _one_step(writer: Any, params: list) -> None:
    for name, param in params:
        writer.add_histogram(name, param, 1)


def _one_step_and_close(writer: Any, params: list) -> None:
    for name, param in params:
        writer.add_histogram(name, param, 1)
    writer.close()


def _copy_all(params: list) -> None:
    for _, param in params:
        param.detach().numpy().copy()


MODEL = "ResNet-50, 25.6M params / 161 tensors"


def test_all_params_memcpy_baseline(benchmark: Any, named_params: list) -> None:
    record(benchmark, f"baseline: memcpy of all params ({MODEL})", "numpy", 1, "step")
    benchmark.pedantic(_copy_all, args=(named_params,), rounds=10, warmup_rounds=1)


def test_all_params_caller(benchmark: Any, writers: Any, named_params: list) -> None:
    record(benchmark, f"all-params histograms ({MODEL}), caller", writers.name, 1, "step")
    benchmark.pedantic(
        _one_step,
        setup=writers.setup(named_params),
        teardown=writers.teardown,
        rounds=rounds(writers.name, 10, 5),
        warmup_rounds=1 if writers.name == "ferroboard" else 0,
    )


def test_all_params_end_to_end(benchmark: Any, writers: Any, named_params: list) -> None:
    record(
        benchmark,
        f"all-params histograms ({MODEL}), end to end (step + close)",
        writers.name,
        1,
        "step",
    )
    benchmark.pedantic(
        _one_step_and_close,
        setup=writers.setup(named_params),
        teardown=writers.teardown,
        rounds=rounds(writers.name, 10, 5),
        warmup_rounds=1 if writers.name == "ferroboard" else 0,
    )
