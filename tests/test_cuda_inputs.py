"""CUDA tensors in the non-media methods (media: test_media_inputs.py).

Skipped without a CUDA device; a machine with one runs it.
"""

from __future__ import annotations

import ferroboard
import pytest
import torch
from eventfiles import events_of, summary_values


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_in_scalars_histograms_and_tensors(tmp_path):
    """CUDA tensors are copied to the host: every event equals the CPU tensor's."""
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
        assert cpu.SerializeToString() == cuda.SerializeToString(), cpu.tag
