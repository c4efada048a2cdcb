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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_embeddings_and_hparams_never_sync_and_match_the_cpu_path(tmp_path):
    """add_embedding and add_hparams of CUDA tensors under torch's sync debug mode
    "error" (any host sync raises), then the files against the same calls with CPU
    tensors (docs/gpu.md)."""
    import os

    cpu = {
        "mat": torch.randn(50, 8),
        "images": torch.rand(50, 3, 6, 6),
        "labels": torch.arange(50) % 5,
        "loss": torch.tensor(0.125),
    }
    cuda = {k: v.cuda() for k, v in cpu.items()}  # copied before the sync check starts
    torch.cuda.synchronize()

    def log(w: ferroboard.SummaryWriter, v: dict) -> None:
        w.add_embedding(v["mat"], metadata=v["labels"], label_img=v["images"])
        w.add_embedding(v["mat"], global_step=1, tag="bin", tensor_format="binary")
        w.add_hparams({"lr": 0.1}, {"loss": v["loss"], "acc": 0.5}, run_name="hp")

    with ferroboard.SummaryWriter(str(tmp_path / "cpu")) as w:
        log(w, cpu)
    with ferroboard.SummaryWriter(str(tmp_path / "cuda")) as w:
        torch.cuda.set_sync_debug_mode("error")
        try:
            log(w, cuda)
            w.poll()
        finally:
            torch.cuda.set_sync_debug_mode("default")

    def files(root):
        out = {}
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                if "tfevents" not in name:
                    path = os.path.join(dirpath, name)
                    with open(path, "rb") as f:
                        out[os.path.relpath(path, root)] = f.read()
        return out

    ours, theirs = files(tmp_path / "cuda"), files(tmp_path / "cpu")
    assert sorted(ours) == sorted(theirs) and len(ours) == 5  # 3 + 1 files, the config
    assert all(ours[name] == theirs[name] for name in theirs)
    cpu_hp = summary_values(events_of(tmp_path / "cpu", "hp"))
    cuda_hp = summary_values(events_of(tmp_path / "cuda", "hp"))
    assert [v.SerializeToString() for v in cuda_hp] == [v.SerializeToString() for v in cpu_hp]
