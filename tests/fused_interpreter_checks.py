"""The fused Triton kernel of `add_histograms` (docs/gpu.md), run on CPU tensors in
Triton's interpreter, against torch's writer and the eager device reduction, bucket for
bucket. Run by test_gpu_fused_histogram.py in a child pytest with `TRITON_INTERPRET=1`
set before Triton is imported (Triton's own helpers, such as `tl.sum`, are made for the
interpreter only when it is on at import).

The interpreter runs the kernel's program for each chunk with numpy: the same
comparisons, masks and reductions as on a GPU, but not the compiled code (a GPU check
is `benches/gpu_check.py`, which runs both paths and compares them).
"""

from __future__ import annotations

import os
from typing import Any

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import diff_events, events_of, summary_values
from ferroboard import _device_path, _fused_histogram
from test_gpu_path_parity import ADVERSARIAL, EXPLICIT, as_tensor
from test_parity_histograms import INPUTS, for_torch

pytest.importorskip("triton")


@pytest.fixture
def fused(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The kernel on, in the interpreter, with small chunks (several per tensor); counts
    the launches (the real function runs)."""
    assert os.environ.get("TRITON_INTERPRET") == "1", "run by test_gpu_fused_histogram.py"
    monkeypatch.setattr(_fused_histogram, "enabled", True)
    monkeypatch.setattr(_fused_histogram, "CHUNK", 4096)
    monkeypatch.setattr(_device_path, "_route_cpu", True)
    launches: list[int] = []
    launch = _fused_histogram.launch

    def counting(torch_: Any, values: list, *args: Any) -> Any:
        launches.append(len(values))
        return launch(torch_, values, *args)

    monkeypatch.setattr(_fused_histogram, "launch", counting)
    return launches


def _write(path: Any, values: dict, bins: Any, enabled: bool, **kwargs: Any) -> list:
    previous = _fused_histogram.enabled
    _fused_histogram.enabled = enabled
    try:
        with ferroboard.SummaryWriter(str(path)) as w:
            w.add_histograms(values, 1, bins=bins, walltime=5.0, **kwargs)
    finally:
        _fused_histogram.enabled = previous
    return events_of(path)


FLOATS = {name: make for name, make in ADVERSARIAL.items() if make().is_floating_point()}


@pytest.mark.parametrize("bins", ["tensorflow", *EXPLICIT.values()], ids=["default", *EXPLICIT])
def test_adversarial_values_equal_the_eager_reduction(tmp_path, fused, bins):
    """Every float32 rounding of every default edge and its neighbours, NaN, ±inf, zeros,
    float16, bfloat16 and float64, in one call: one launch per dtype."""
    values = {name: make() for name, make in FLOATS.items()}
    values["multi-chunk"] = torch.cat([torch.from_numpy(ADVERSARIAL_SHUFFLED)] * 3)
    fused_events = _write(tmp_path / "fused", values, bins, True)
    dtypes = {str(v.dtype) for v in values.values()}
    assert len(fused) == len(dtypes) and sum(fused) == len(values)
    eager_events = _write(tmp_path / "eager", values, bins, False)
    assert len(fused) == len(dtypes)  # the eager run launched nothing
    diffs = diff_events(fused_events, eager_events, compare_wall_time=True)
    assert not diffs, "\n".join(diffs[:20])
    for a, e in zip(summary_values(fused_events), summary_values(eager_events)):
        assert list(a.histo.bucket) == list(e.histo.bucket), a.tag  # exactly, not closely


ADVERSARIAL_SHUFFLED = np.random.default_rng(0).permutation(
    ADVERSARIAL["edges-f32-specials"]().numpy()
)


FLOAT_INPUTS = [
    name
    for name, make in INPUTS.items()
    if as_tensor(make()).is_floating_point() and not name.startswith("with-nan")
]


def _inside(name: str, edges: list) -> bool:
    values = as_tensor(INPUTS[name]()).detach().double().numpy()
    return bool(((values >= edges[0]) & (values <= edges[-1])).any())


@pytest.mark.parametrize("bins", ["tensorflow", [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0]])
def test_the_parity_suite_against_torch(parity, fused, bins):
    """Every float input of the histogram parity suite in one `add_histograms` call,
    against torch's writer called for each (bfloat16 not among them: torch converts it)."""
    # Explicit edges holding none of the values: torch raises (tested elsewhere).
    names = [n for n in FLOAT_INPUTS if bins == "tensorflow" or _inside(n, bins)]
    tensors = {name: as_tensor(INPUTS[name]()) for name in names}

    def torch_loop(w: Any) -> None:
        for name in names:
            w.add_histogram(name, for_torch(INPUTS[name]()), 1, bins=bins)

    parity.check(lambda w: w.add_histograms(tensors, 1, bins=bins), torch_loop)
    assert sum(fused) == len(names) > 20


def test_nan_anywhere_in_a_chunked_tensor(tmp_path, fused):
    t = torch.randn(10_000, generator=torch.Generator().manual_seed(1))
    t[9_000] = float("nan")  # in the third chunk; the minimum in the first
    t[5] = -100.0
    values = {"nan": t, "clean": t[:8192]}
    for bins in ("tensorflow", [-3.0, 0.0, 3.0]):
        fused_events = _write(tmp_path / f"f{len(bins)}", values, bins, True)
        eager_events = _write(tmp_path / f"e{len(bins)}", values, bins, False)
        assert not diff_events(fused_events, eager_events, compare_wall_time=True)
        histo = summary_values(fused_events)[1].histo
        assert histo.min == -100.0 and histo.num == 8192


def test_integers_take_the_eager_reduction(tmp_path, fused):
    values = {"f": torch.randn(100), "i": torch.arange(100)}
    fused_events = _write(tmp_path / "mixed", values, "tensorflow", True)
    assert fused == []  # a group with an integer tensor: eager
    assert not diff_events(
        fused_events,
        _write(tmp_path / "eager", values, "tensorflow", False),
        compare_wall_time=True,
    )


def test_without_triton_the_eager_reduction_runs(tmp_path, fused, monkeypatch):
    monkeypatch.setattr(_fused_histogram, "_kernel", lambda: None)
    assert not _fused_histogram.usable(torch.device("cpu"))
    _write(tmp_path, {"f": torch.randn(100)}, "tensorflow", True)
    assert fused == []
    assert summary_values(events_of(tmp_path))[0].histo.num == 100


def test_a_failing_kernel_falls_back_with_one_warning(tmp_path, fused, monkeypatch):
    def broken(*_args: Any) -> Any:
        raise RuntimeError("no kernel image is available for execution on the device")

    monkeypatch.setattr(_fused_histogram, "launch", broken)
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        with pytest.warns(RuntimeWarning, match="fused histogram kernel failed.*no kernel image"):
            w.add_histograms({"f": torch.randn(100)}, 1)
        assert _fused_histogram.enabled is False  # from now on
        w.add_histograms({"g": torch.randn(10)}, 2)
    assert [v.histo.num for v in summary_values(events_of(tmp_path))] == [100, 10]
