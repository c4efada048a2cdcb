"""Phases of benches/gpu_check.py for media, `add_scalars` and the fused histogram kernel.

- media logging: every step, CUDA tensors through `add_image`, `add_images`,
  `add_image_with_boxes`, `add_video`, `add_audio`, `add_tensor`, `add_pr_curve`,
  `add_mesh` and `add_scalars` (values computed from the loss on the device, so nothing
  is ready at the call); checked afterwards: every event on disk after `flush()`, and each
  kind equal to the host path (the same tensors copied to the host), event for event;
- fused histograms: `add_histograms` of every parameter every step with the Triton kernel
  (`_fused_histogram`), and its parity with the eager reduction on the model's parameters
  and on adversarial values (every float32 rounding of the default edges, NaN, ±inf,
  float16, bfloat16), bucket for bucket.

On CPU (the dry run) the fused phases need Triton's interpreter (`TRITON_INTERPRET=1`
before Triton is imported); without it they are skipped.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np


class MediaLogging:
    """The media of one step, made on the device from the loss (no value is known at the
    call), logged to its own writer."""

    def __init__(self, torch: Any, ferroboard: Any, device: Any, logdir: str) -> None:
        self.torch = torch
        self.logdir = logdir
        self.writer = ferroboard.SummaryWriter(logdir)
        gen = torch.Generator(device=device).manual_seed(3)

        def rand(*shape: int) -> Any:
            return torch.rand(shape, device=device, generator=gen)

        self.image = rand(3, 128, 128)
        self.images = rand(8, 3, 32, 32)
        self.boxes = torch.tensor(
            [[4.0, 4.0, 60.0, 40.0], [10.0, 50.0, 90.0, 120.0]], device=device
        )
        self.video = rand(1, 8, 3, 32, 32)
        self.audio = rand(8000) * 2 - 1
        self.labels = (rand(10000) > 0.5).to(torch.int64)
        self.predictions = rand(10000)
        self.vertices = rand(1, 500, 3)
        self.colors = (rand(1, 500, 3) * 255).to(torch.uint8)
        self.events = 0

    def log(self, step: int, loss: Any) -> None:
        w, torch = self.writer, self.torch
        scale = torch.sigmoid(loss.detach().float())  # a device value: not ready at the call
        w.add_image("media/image", self.image * scale, step)
        w.add_images("media/images", self.images * scale, step)
        w.add_image_with_boxes("media/boxed", self.image * scale, self.boxes, step)
        w.add_video("media/video", self.video * scale, step, fps=4)
        w.add_audio("media/audio", self.audio * scale, step, sample_rate=8000)
        w.add_tensor("media/tensor", self.predictions[:256] * scale, step)
        w.add_pr_curve("media/pr", self.labels, self.predictions * scale, step)
        w.add_mesh("media/mesh", self.vertices * scale, colors=self.colors, global_step=step)
        w.add_scalars("media/scalars", {"loss": loss.detach(), "scale": scale}, step)
        self.events += 9

    def completeness(self) -> dict:
        self.writer.flush()
        pending = self.writer.poll()
        self.writer.close()
        from gpu_check import _events

        on_disk = sum(1 for e in _events(self.logdir) if e.HasField("summary"))
        scalars = 0
        for run in ("media_scalars_loss", "media_scalars_scale"):
            path = os.path.join(self.logdir, run)
            if os.path.isdir(path):
                scalars += sum(1 for e in _events(path) if e.HasField("summary"))
        expected_main = self.events // 9 * 8
        expected_scalars = self.events // 9 * 2
        return {
            "events_expected": expected_main + expected_scalars,
            "events_on_disk": on_disk + scalars,
            "pending_after_flush": pending,
            "complete": on_disk == expected_main and scalars == expected_scalars,
        }


def media_parity(torch: Any, ferroboard: Any, device: Any, logroot: str) -> dict:
    """Each kind with CUDA tensors against the host path on the same values."""
    gen = torch.Generator().manual_seed(5)

    def make() -> dict:
        return {
            "image": torch.rand((3, 40, 30), generator=gen),
            "images": torch.rand((5, 3, 16, 16), generator=gen),
            "boxes": torch.tensor([[2.0, 3.0, 20.0, 25.0]]),
            "video": torch.rand((2, 4, 3, 16, 16), generator=gen),
            "audio": torch.rand(2000, generator=gen) * 2 - 1,
            "tensor": torch.randn((4, 5), generator=gen).bfloat16(),
            "labels": torch.randint(0, 2, (3000,), generator=gen),
            "predictions": torch.rand(3000, generator=gen),
            "vertices": torch.rand((1, 50, 3), generator=gen),
            "faces": torch.randint(0, 50, (1, 30, 3), generator=gen, dtype=torch.int32),
        }

    def log(w: Any, v: dict) -> None:
        wall = 1.7e9
        w.add_image("image", v["image"], 1, wall)
        w.add_images("images", v["images"], 1, wall)
        w.add_image_with_boxes("boxed", v["image"], v["boxes"], 1, wall, labels=["a"])
        w.add_video("video", v["video"], 1, fps=5, walltime=wall)
        w.add_audio("audio", v["audio"], 1, sample_rate=16000, walltime=wall)
        w.add_tensor("tensor", v["tensor"], 1, wall)
        w.add_pr_curve("pr", v["labels"], v["predictions"], 1, walltime=wall)
        w.add_mesh("mesh", v["vertices"], faces=v["faces"], global_step=1, walltime=wall)

    values = make()
    on_device = {k: t.to(device) for k, t in values.items()}
    dirs = {name: os.path.join(logroot, f"media-parity-{name}") for name in ("device", "host")}
    from ferroboard import _device_path

    with ferroboard.SummaryWriter(dirs["device"]) as w:
        log(w, on_device)
    routed = _device_path._route_cpu
    _device_path._route_cpu = False  # the dry run routes CPU tensors; the host path here
    try:
        with ferroboard.SummaryWriter(dirs["host"]) as w:
            log(w, values)
    finally:
        _device_path._route_cpu = routed
    from gpu_check import _events

    device_events = [e for e in _events(dirs["device"]) if e.HasField("summary")]
    host_events = [e for e in _events(dirs["host"]) if e.HasField("summary")]
    cases = {}
    for d, h in zip(device_events, host_events):
        tag = h.summary.value[0].tag
        cases[tag] = d.SerializeToString(deterministic=True) == h.SerializeToString(
            deterministic=True
        )
    ok = len(device_events) == len(host_events) == 8 and all(cases.values())
    return {"status": "ok" if ok else "fail", "equal_events": cases}


def fused_usable(torch: Any, device: Any) -> bool:
    from ferroboard import _fused_histogram

    previous = _fused_histogram.enabled
    _fused_histogram.enabled = True
    try:
        return _fused_histogram.usable(device)
    finally:
        _fused_histogram.enabled = previous


class FusedSwitch:
    """Turns the kernel on around a call and counts its launches."""

    def __init__(self) -> None:
        from ferroboard import _fused_histogram

        self.module = _fused_histogram
        self.launches = 0
        launch = _fused_histogram.launch

        def counting(*args: Any) -> Any:
            result = launch(*args)
            self.launches += 1  # launched: a failure falls back to the eager path
            return result

        _fused_histogram.launch = counting

    def wrap(self, fn: Callable) -> Callable:
        def call(*args: Any) -> Any:
            previous = self.module.enabled
            self.module.enabled = True
            try:
                return fn(*args)
            finally:
                self.module.enabled = previous

        return call


def fused_parity(torch: Any, ferroboard: Any, params: dict, logroot: str, switch: Any) -> dict:
    """The kernel against the eager reduction, on the device, bucket for bucket."""
    from ferroboard import _device_histogram
    from gpu_check import _close, _same, read_histograms

    device = next(iter(params.values())).device
    edges = np.array(ferroboard.SummaryWriter(os.path.join(logroot, "edges2")).default_bins)
    e32 = edges.astype(np.float32)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3e38], np.float32)
    adversarial = np.concatenate(
        [
            e32,
            np.nextafter(e32, np.float32(np.inf)),
            np.nextafter(e32, np.float32(-np.inf)),
            _device_histogram.ceil32(edges),
            specials,
        ]
    )
    gen = torch.Generator().manual_seed(7)
    values = {f"param/{n}": p.detach() for n, p in params.items()}
    values["adv/f32"] = torch.from_numpy(adversarial).to(device)
    values["adv/f64"] = torch.from_numpy(adversarial.astype(np.float64)).to(device)
    values["adv/f16"] = torch.from_numpy(adversarial).half().to(device)
    values["adv/bf16"] = torch.from_numpy(adversarial).bfloat16().to(device)
    big = 3_000_000 if device.type == "cuda" else 100_000  # the interpreter is slow
    values["adv/big-f32"] = (torch.randn(big, generator=gen) * 1e3).to(device)
    out: dict[str, Any] = {"cases": {}}
    ok = True
    # Explicit edges with float32 values only: each (dtype, edge count) is one more
    # compilation of the kernel (seconds each), and the default edges cover the dtypes.
    explicit = {k: v for k, v in values.items() if v.dtype == torch.float32}
    for bins_name, bins, group in (
        ("default", "tensorflow", values),
        ("explicit", [-2.0, -0.1, 0.1, 1 / 3, 2.0], explicit),
    ):
        dirs = {k: os.path.join(logroot, f"fused-{bins_name}-{k}") for k in ("fused", "eager")}
        before = switch.launches
        with ferroboard.SummaryWriter(dirs["fused"]) as w:
            switch.wrap(w.add_histograms)(group, 0, bins)
        launched = switch.launches - before
        with ferroboard.SummaryWriter(dirs["eager"]) as w:
            w.add_histograms(group, 0, bins=bins)
        fused, eager = read_histograms(dirs["fused"]), read_histograms(dirs["eager"])
        mismatched = []
        for tag, e in eager.items():
            a = fused.get(tag)
            extreme = max(abs(e["min"]), abs(e["max"])) if e["num"] else 0.0
            good = (
                a is not None
                and a["bucket"] == e["bucket"]
                and a["bucket_limit"] == e["bucket_limit"]
                and _same(a["min"], e["min"])
                and _same(a["max"], e["max"])
                and a["num"] == e["num"]
                and _close(a["sum"], e["sum"], e["num"] * extreme)
                and _close(a["sum_squares"], e["sum_squares"], e["num"] * extreme * extreme)
            )
            if not good:
                mismatched.append(tag)
        out["cases"][bins_name] = {
            "histograms": len(eager),
            "launches": launched,
            "mismatched": mismatched[:20],
        }
        ok = ok and not mismatched and launched >= 1 and len(fused) == len(eager)
    out["status"] = "ok" if ok else "fail"
    return out
