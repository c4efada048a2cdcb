"""CUDA tensors in the non-media methods (media: test_media_inputs.py).

Skipped without a CUDA device; a machine with one runs it.
"""

from __future__ import annotations

import ferroboard
import pytest
import torch
from eventfiles import diff_messages, events_of, summary_values


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_in_scalars_histograms_and_tensors(tmp_path):
    """Every event of a CUDA tensor equals the CPU tensor's (histograms reduced on the
    device: sums to the parity tolerance, docs/gpu.md; everything else exactly)."""
    values = torch.randn(10_000) * 3
    predictions = torch.rand(10_000)
    dtypes = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64)
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        for device in ("cpu", "cuda"):
            w.add_scalar("s", values[0].to(device), 0, walltime=1.0)
            for dtype in dtypes:
                w.add_histogram(f"h/{dtype}", values.to(dtype).to(device), 0, walltime=1.0)
            w.add_histogram("h/bins", values.to(device), 0, bins=30, walltime=1.0)
            w.add_tensor("t", values[:10].to(device), 0, walltime=1.0)
            w.add_pr_curve("pr", (values > 0).to(device), predictions.to(device), 0)
    written = summary_values(events_of(tmp_path))
    half = len(written) // 2
    assert half == 4 + len(dtypes)
    for cpu, cuda in zip(written[:half], written[half:]):
        assert not diff_messages(cuda, cpu), (cpu.tag, diff_messages(cuda, cpu))
        if not cpu.HasField("histo"):
            assert cpu.SerializeToString() == cuda.SerializeToString(), cpu.tag


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_scalars_and_histograms_never_sync(tmp_path):
    """torch's sync debug mode turns any host sync into an error: none may happen in
    add_scalar, add_histogram, add_histograms or poll of CUDA tensors (docs/gpu.md)."""
    t = torch.randn(100_000, device="cuda")
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        torch.cuda.set_sync_debug_mode("error")
        try:
            for step in range(3):
                w.add_scalar("s", t.sum(), step)
                w.add_histogram("h", t, step)
                w.add_histograms({"a": t, "b": t.half(), "c": t.to(torch.bfloat16)}, step)
                w.add_histogram("edges", t, step, bins=[-1.0, 0.0, 1.0])
                w.poll()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    tags = [v.tag for v in summary_values(events_of(tmp_path))]
    assert tags == ["s", "h", "a", "b", "c", "edges"] * 3
