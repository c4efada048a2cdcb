"""Device check of ferroboard's GPU path (docs/gpu.md): one unattended run, under 8 minutes.

On one GPU, with a ~1B-parameter synthetic model (20 residual MLP blocks of width 2048:
320 parameter tensors, 1.008e9 parameters, fp32 weights, bf16 autocast, fused AdamW):

  0  reference ceilings: pinned device-to-host GB/s, device-to-device TB/s
  1  A1: training steps without logging (the baseline)
  2  T: torch's writer (a CUDA scalar and two 16.8M-parameter histograms per step): the
     negative control, which both sync detectors must catch
  3  F-scalar: 5 CUDA scalars and a float per step
  4  F-hist: add_histogram of every parameter every step (eager device reduction)
  5  F-hist-batched: add_histograms of every parameter every step
  6  F-hist/10: add_histograms every 10th step
  12 F-media: every step, CUDA tensors through add_image, add_images,
     add_image_with_boxes, add_video, add_audio, add_tensor, add_pr_curve, add_mesh and
     add_scalars (benches/gpu_check_more.py)
  13 F-hist-fused: add_histograms of every parameter every step with the fused Triton
     kernel (skipped without Triton)
  7  A2: the baseline again (noise = |A1 - A2| / A1)
  8  sync audit: phases 3-5, 12 and 13 under torch.cuda.set_sync_debug_mode("warn") and under the
     profiler (synchronizing CUDA API calls counted), against the baseline's counts
  9  parity: CUDA tensors through ferroboard against torch's writer (on host copies) and
     against ferroboard's host path, bucket for bucket
  10 completeness: every event on disk after flush(), in call order; host buffers not
     grown after warm-up
  14 media checks: every media event on disk after flush(), and each kind of CUDA input
     equal to the host path's event, byte for byte
  15 fused parity: the kernel against the eager reduction on every parameter and on
     adversarial values, bucket for bucket
  11 capture: a CUDA graph captured and replayed while GPU values are pending; logging
     inside a capture raises (or is skipped, by option); a later capture still works

Writes OUT/gpu_check.json and prints a Markdown table last. `--device cpu` runs every
phase that does not need CUDA on a tiny model (CPU tensors routed through the GPU path),
which the test suite does (tests/test_gpu_check.py). Run it on a GPU machine with
`benches/gpu_check.sh`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import traceback
import warnings
from typing import Any, Callable, Optional

import numpy as np

START = time.perf_counter()
#: Phases are skipped once this much time has gone (the whole run must end in 8 min).
BUDGET_S = 420.0

SYNC_CALLS = (
    "cudaStreamSynchronize",
    "cudaDeviceSynchronize",
    "cudaEventSynchronize",
    "cudaMemcpy",  # the synchronous one; cudaMemcpyAsync is not counted
    "cuStreamSynchronize",
    "cuCtxSynchronize",
    "cuEventSynchronize",
    "cuMemcpyDtoH_v2",
)


def log(message: str) -> None:
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


class Check:
    """The run's results, phase by phase; written as JSON after every phase."""

    def __init__(self, out: str, args: argparse.Namespace) -> None:
        self.out = out
        self.data: dict[str, Any] = {"args": vars(args), "phases": {}, "verdicts": {}}

    def phase(self, name: str, fn: Callable[[], dict]) -> dict:
        if time.perf_counter() - START > BUDGET_S:
            result: dict = {"status": "skipped", "why": "time budget spent"}
        else:
            log(f"phase {name} ...")
            t0 = time.perf_counter()
            try:
                result = fn()
                result.setdefault("status", "ok")
            except Exception as exc:  # noqa: BLE001 - recorded, the other phases still run
                result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                result["traceback"] = traceback.format_exc()[-4000:]
                log(result["traceback"])
            result["seconds"] = round(time.perf_counter() - t0, 2)
        self.data["phases"][name] = result
        log(f"phase {name}: {json.dumps(_short(result))}")
        self.save()
        return result

    def save(self) -> None:
        with open(os.path.join(self.out, "gpu_check.json"), "w") as f:
            json.dump(self.data, f, indent=1, default=str)


def _short(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("traceback", "per_tensor", "cases")}


# -- reading the files back ---------------------------------------------------------------


def _events(logdir: str) -> list:
    """Every event under `logdir` (one run), files in name order (creation order),
    read with ferroboard's strict reader and decoded with TensorBoard's protos."""
    from ferroboard._core import read_records
    from tensorboard.compat.proto.event_pb2 import Event

    files = sorted(f for f in os.listdir(logdir) if "tfevents" in f)
    out = []
    for name in files:
        records, status = read_records(os.path.join(logdir, name))
        if status != "clean":
            raise RuntimeError(f"{name}: {status}")
        out.extend(Event.FromString(r) for r in records)
    return out


def read_tags(logdir: str) -> list[tuple[str, int]]:
    """(tag, step) of every summary value, in file order."""
    return [(v.tag, e.step) for e in _events(logdir) for v in e.summary.value]


def read_histograms(logdir: str) -> dict[str, dict]:
    out = {}
    for e in _events(logdir):
        for v in e.summary.value:
            if v.HasField("histo"):
                h = v.histo
                out[v.tag] = {
                    "min": h.min,
                    "max": h.max,
                    "num": h.num,
                    "sum": h.sum,
                    "sum_squares": h.sum_squares,
                    "bucket": list(h.bucket),
                    "bucket_limit": list(h.bucket_limit),
                }
    return out


# -- the workload --------------------------------------------------------------------------


class Workload:
    def __init__(self, torch: Any, device: str, tiny: bool) -> None:
        self.torch = torch
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        width, hidden, blocks, tokens = (32, 128, 2, 64) if tiny else (2048, 8192, 20, 16384)
        nn = torch.nn
        layers = []
        # Made on the device: initializing 1e9 parameters on the host takes many seconds.
        with self.device:
            self._build(nn, layers, blocks, width, hidden)
        self.model = nn.ModuleList(layers)
        self.params = dict(self.model.named_parameters())
        fused = {"fused": True} if self.cuda else {}
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, **fused)
        gen = torch.Generator(device=self.device).manual_seed(0)
        self.x = torch.randn(tokens, width, device=self.device, generator=gen)
        self.target = torch.randn(tokens, width, device=self.device, generator=gen)

    @staticmethod
    def _build(nn: Any, layers: list, blocks: int, width: int, hidden: int) -> None:
        for _ in range(blocks):
            layers.append(
                nn.ModuleDict(
                    {
                        "ln1": nn.LayerNorm(width),
                        "q": nn.Linear(width, width),
                        "k": nn.Linear(width, width),
                        "v": nn.Linear(width, width),
                        "o": nn.Linear(width, width),
                        "ln2": nn.LayerNorm(width),
                        "up": nn.Linear(width, hidden),
                        "down": nn.Linear(hidden, width),
                    }
                )
            )

    def forward(self) -> Any:
        torch = self.torch
        h = self.x
        dtype = torch.bfloat16
        with torch.autocast(self.device.type, dtype=dtype, enabled=True):
            for block in self.model:
                a = block["ln1"](h)
                a = block["o"](torch.tanh(block["q"](a)) * block["k"](a) + block["v"](a))
                h = h + a
                m = block["down"](torch.relu(block["up"](block["ln2"](h))))
                h = h + m
            return ((h.float() - self.target) ** 2).mean()

    def step(self) -> Any:
        loss = self.forward()
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def timed(self, steps: int, log_fn: Optional[Callable[[int, Any], None]] = None) -> dict:
        """`steps` training steps with `log_fn(step, loss)` after each; the device is
        synchronized only before and after the window."""
        torch = self.torch
        self.sync()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        logging_events = []
        t0 = time.perf_counter()
        host_logging = 0.0
        for i in range(steps):
            loss = self.step()
            if log_fn is not None:
                if self.cuda:
                    a, b = (
                        torch.cuda.Event(enable_timing=True),
                        torch.cuda.Event(enable_timing=True),
                    )
                    a.record()
                h0 = time.perf_counter()
                log_fn(i, loss)
                host_logging += time.perf_counter() - h0
                if self.cuda:
                    b.record()
                    logging_events.append((a, b))
        if self.cuda:
            end.record()
        wall_enqueue = time.perf_counter() - t0
        self.sync()
        wall = time.perf_counter() - t0
        out = {
            "steps": steps,
            "wall_s_per_step": wall / steps,
            "enqueue_s_per_step": wall_enqueue / steps,
            "host_logging_s_per_step": host_logging / steps,
        }
        if self.cuda:
            out["device_s_per_step"] = start.elapsed_time(end) / 1000 / steps
            out["logging_device_s_per_step"] = (
                sum(a.elapsed_time(b) for a, b in logging_events) / 1000 / steps
            )
            out["peak_memory_bytes"] = torch.cuda.max_memory_allocated()
        return out


def step_time(result: dict) -> float:
    return result.get("device_s_per_step", result["wall_s_per_step"])


# -- sync detection ------------------------------------------------------------------------


@contextlib.contextmanager
def sync_debug(torch: Any, cuda: bool):
    """Collects the warnings of torch.cuda.set_sync_debug_mode('warn')."""
    caught: list = []
    if not cuda:
        yield caught
        return
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield caught
        finally:
            torch.cuda.set_sync_debug_mode("default")
    caught.extend(str(r.message) for r in records if "synchroniz" in str(r.message).lower())


def profiled_syncs(torch: Any, cuda: bool, run: Callable[[], None]) -> dict:
    """Synchronizing CUDA API calls made inside `run` (the profiler's own stop is outside
    the marked window and not counted)."""
    if not cuda:
        return {"calls": None}
    from torch.profiler import ProfilerActivity, profile, record_function

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        with record_function("ferroboard_window"):
            run()
    events = prof.events()
    window = [e for e in events if e.name == "ferroboard_window"]
    if not window:
        return {"calls": None, "why": "window not found"}
    w0 = window[0].time_range.start
    w1 = window[0].time_range.end
    counts: dict[str, int] = {}
    for e in events:
        if e.name in SYNC_CALLS and w0 <= e.time_range.start <= w1:
            counts[e.name] = counts.get(e.name, 0) + 1
    return {"calls": sum(counts.values()), "by_name": counts}


# -- phases --------------------------------------------------------------------------------


def reference_ceilings(torch: Any, cuda: bool) -> dict:
    if not cuda:
        return {"status": "skipped", "why": "no CUDA"}
    n = 64 << 20  # 256 MB of float32
    src = torch.empty(n, device="cuda").uniform_()
    host = torch.empty(n, pin_memory=True)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(5):
        host.copy_(src, non_blocking=True)
    torch.cuda.synchronize()
    d2h = 5 * n * 4 / (time.perf_counter() - t0) / 1e9
    dst = torch.empty_like(src)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    torch.cuda.synchronize()
    d2d = 10 * 2 * n * 4 / (time.perf_counter() - t0) / 1e12
    del src, host, dst
    return {"pinned_d2h_GBps": round(d2h, 1), "d2d_TBps": round(d2d, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (dry run)")
    parser.add_argument("--out", default=os.environ.get("OUT") or tempfile.mkdtemp())
    parser.add_argument("--steps", type=int, default=0, help="timed steps (10; 2 on CPU)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    check = Check(args.out, args)

    import ferroboard
    import gpu_check_more
    import torch
    from ferroboard import _device_path

    cuda = args.device == "cuda"
    tiny = not cuda
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "ferroboard": ferroboard.__file__,
    }
    if cuda:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --device cpu for a dry run", file=sys.stderr)
            return 2
        info["gpu"] = torch.cuda.get_device_name(0)
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        _device_path._route_cpu = True  # CPU tensors take the GPU path (dry run)
    check.data["info"] = info
    log(f"info: {info}")

    steps = args.steps or (10 if cuda else 2)
    logroot = tempfile.mkdtemp(prefix="ferroboard-gpu-check-")
    check.phase("0-ceilings", lambda: reference_ceilings(torch, cuda))

    work = Workload(torch, args.device, tiny)
    names = list(work.params)
    check.data["model"] = {
        "tensors": len(names),
        "parameters": sum(t.numel() for t in work.params.values()),
    }
    log(f"model: {check.data['model']}")
    for _ in range(3):
        work.step()
    work.sync()

    results: dict[str, dict] = {}

    def timed(name: str, steps_n: int, log_fn: Optional[Callable] = None, warm: int = 3) -> dict:
        def run() -> dict:
            if log_fn is not None:
                for i in range(warm):
                    work.step()
                    log_fn(i, work.forward())
            r = work.timed(steps_n, log_fn)
            results[name] = r
            return r

        return check.phase(name, run)

    timed("1-A1-baseline", steps)

    # 2: torch's writer, the negative control.
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    big = [
        n for n in names if work.params[n].numel() == max(t.numel() for t in work.params.values())
    ][:2]

    def torch_logging(writer: Any) -> Callable:
        def log_fn(i: int, loss: Any) -> None:
            writer.add_scalar("loss", loss, i)
            for n in big:
                writer.add_histogram(n, work.params[n], i)

        return log_fn

    def negative_control() -> dict:
        writer = TorchWriter(os.path.join(logroot, "torch"))
        log_fn = torch_logging(writer)
        r = work.timed(3, log_fn)
        with sync_debug(torch, cuda) as caught:
            work.timed(2, log_fn)
        prof = profiled_syncs(torch, cuda, lambda: [log_fn(i, work.step()) for i in range(2)])
        writer.close()
        per_tensor = (r["host_logging_s_per_step"]) / (len(big) + 1)
        return {
            **r,
            "sync_warnings_per_step": len(caught) / 2 if cuda else None,
            "profiler_syncs_per_step": None if prof["calls"] is None else prof["calls"] / 2,
            "profiler_by_name": prof.get("by_name"),
            "s_per_tensor": per_tensor,
            "extrapolated_s_per_step_all_tensors": per_tensor * len(names),
        }

    check.phase("2-T-torch-writer", negative_control)

    writer = ferroboard.SummaryWriter(os.path.join(logroot, "ferro"))
    expected: list[tuple[str, int]] = []  # (tag, step) in call order

    def log_scalars(i: int, loss: Any) -> None:
        for k in range(5):
            writer.add_scalar(f"s/cuda{k}", loss * (k + 1), i)
            expected.append((f"s/cuda{k}", i))
        writer.add_scalar("s/float", 0.5, i)
        expected.append(("s/float", i))

    def log_hist_each(i: int, loss: Any) -> None:
        log_scalars(i, loss)
        for n in names:
            writer.add_histogram(f"each/{n}", work.params[n], i)
            expected.append((f"each/{n}", i))

    def log_hist_batched(i: int, loss: Any) -> None:
        log_scalars(i, loss)
        writer.add_histograms({f"batched/{n}": work.params[n] for n in names}, i)
        expected.extend((f"batched/{n}", i) for n in names)

    def log_hist_every10(i: int, loss: Any) -> None:
        log_scalars(i, loss)
        if i % 10 == 0:
            writer.add_histograms({f"every10/{n}": work.params[n] for n in names}, i)
            expected.extend((f"every10/{n}", i) for n in names)

    buffers_after_warmup: dict[str, int] = {}
    media = gpu_check_more.MediaLogging(
        torch, ferroboard, work.device, os.path.join(logroot, "media")
    )
    fused_on = gpu_check_more.fused_usable(torch, work.device)
    switch = gpu_check_more.FusedSwitch()

    def log_media(i: int, loss: Any) -> None:
        log_scalars(i, loss)
        media.log(i, loss)

    @switch.wrap
    def log_hist_fused(i: int, loss: Any) -> None:
        log_scalars(i, loss)
        writer.add_histograms({f"fused/{n}": work.params[n] for n in names}, i)
        expected.extend((f"fused/{n}", i) for n in names)

    def fused_phase() -> dict:
        if not fused_on:
            return {"status": "skipped", "why": "no Triton (or on CPU, no TRITON_INTERPRET=1)"}
        before = switch.launches
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            r = timed_run(steps, log_hist_fused)
        r["launches"] = switch.launches - before
        r["warnings"] = [str(w.message) for w in records][:3]
        if r["launches"] == 0:
            r["status"] = "fail"  # the kernel failed: the eager path ran instead
        results["13-F-hist-fused"] = r
        return r

    def timed_run(steps_n: int, log_fn: Callable, warm: int = 3) -> dict:
        for i in range(warm):  # Triton compiles the kernel in the first of these
            work.step()
            log_fn(i, work.forward())
        return work.timed(steps_n, log_fn)

    timed("3-F-scalar", steps, log_scalars)
    timed("4-F-hist", steps, log_hist_each)
    timed("5-F-hist-batched", steps, log_hist_batched)
    timed("6-F-hist-every10", 2 * steps, log_hist_every10, warm=0)
    timed("12-F-media", steps, log_media)
    check.phase("13-F-hist-fused", fused_phase)
    # Every buffer size of the workload has been used: later phases must reuse them.
    buffers_after_warmup["bytes"] = _device_path.BUFFERS.allocated_bytes
    timed("7-A2-baseline", steps)

    def audit() -> dict:
        out: dict[str, Any] = {}
        for name, fn in (
            ("baseline", None),
            ("scalar", log_scalars),
            ("hist", log_hist_each),
            ("batched", log_hist_batched),
            ("media", log_media),
            ("fused", log_hist_fused if fused_on else None),
        ):
            if name == "fused" and not fused_on:
                continue

            def run(fn: Any = fn) -> None:
                for i in range(3):
                    loss = work.step()
                    if fn is not None:
                        fn(100 + i, loss)

            work.sync()
            with sync_debug(torch, cuda) as caught:
                run()
            work.sync()
            prof = profiled_syncs(torch, cuda, run)
            work.sync()
            out[name] = {
                "sync_warnings": len(caught) if cuda else None,
                "warning_samples": caught[:3],
                "profiler_syncs": prof["calls"],
                "profiler_by_name": prof.get("by_name"),
            }
        return out

    check.phase("8-sync-audit", audit)
    buffers_after_warmup["after_audit"] = _device_path.BUFFERS.allocated_bytes
    check.phase("9-parity", lambda: parity(torch, ferroboard, work, logroot, cuda))

    def media_checks() -> dict:
        done = media.completeness()
        same = gpu_check_more.media_parity(torch, ferroboard, work.device, logroot)
        ok = done["complete"] and done["pending_after_flush"] == 0 and same["status"] == "ok"
        return {**done, **same, "status": "ok" if ok else "fail"}

    check.phase("14-media-checks", media_checks)

    def fused_checks() -> dict:
        if not fused_on:
            return {"status": "skipped", "why": "no Triton (or on CPU, no TRITON_INTERPRET=1)"}
        return gpu_check_more.fused_parity(torch, ferroboard, work.params, logroot, switch)

    check.phase("15-fused-parity", fused_checks)

    def completeness() -> dict:
        t0 = time.perf_counter()
        writer.flush()
        flush_s = time.perf_counter() - t0
        pending_after = writer.poll()
        on_disk = read_tags(os.path.join(logroot, "ferro"))
        writer.close()
        wanted = [(t, s) for t, s in expected]
        in_order = on_disk[: len(wanted)] == wanted
        return {
            "expected_events": len(wanted),
            "on_disk": len(on_disk),
            "in_call_order": in_order,
            "pending_after_flush": pending_after,
            "flush_s": flush_s,
            "host_buffer_bytes_after_warmup": buffers_after_warmup.get("bytes"),
            "host_buffer_bytes_after_audit": buffers_after_warmup.get("after_audit"),
            "host_buffers_stable": buffers_after_warmup.get("bytes")
            == buffers_after_warmup.get("after_audit"),
            "status": "ok" if in_order and len(on_disk) == len(wanted) else "fail",
        }

    check.phase("10-completeness", completeness)
    check.phase("11-capture", lambda: capture(torch, ferroboard, work, logroot, cuda))
    verdicts(check, results, cuda)
    check.save()
    print(table(check))
    return 0


# -- parity ---------------------------------------------------------------------------------


def parity(torch: Any, ferroboard: Any, work: Workload, logroot: str, cuda: bool) -> dict:
    from ferroboard import _device_histogram
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    dev = work.device
    edges = np.array(ferroboard.SummaryWriter(os.path.join(logroot, "edges")).default_bins)
    e32 = edges.astype(np.float32)
    edge_values = np.concatenate(
        [e32, np.nextafter(e32, np.float32(np.inf)), _device_histogram.ceil32(edges)]
    )
    gen = torch.Generator().manual_seed(1)
    names = list(work.params)
    mags = 10.0 ** (torch.rand(20000, generator=gen, dtype=torch.float64) * 34 - 15)
    wide = torch.where(torch.rand(20000, generator=gen) < 0.5, -mags, mags)
    cases: dict[str, tuple[Any, Any, bool]] = {
        # name: (tensor on the device, bins, compare with torch's writer)
        "param-first": (work.params[names[0]].detach(), "tensorflow", True),
        "param-large": (work.params[names[-2]].detach(), "tensorflow", True),
        "bf16": ((torch.randn(100000, generator=gen) * 3).bfloat16(), "tensorflow", True),
        "f16": (torch.randn(50000, generator=gen).half(), "tensorflow", True),
        "zeros": (torch.zeros(100000), "tensorflow", True),
        "ones": (torch.ones(4096), "tensorflow", True),
        "nan-inf": (
            torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), 0.0]),
            "tensorflow",
            False,
        ),
        "int64": (torch.randint(-(2**40), 2**40, (30000,), generator=gen), "tensorflow", True),
        "edge-values": (
            torch.from_numpy(edge_values[np.abs(edge_values) < 9e19]),
            "tensorflow",
            True,
        ),
        "edge-values-specials": (
            torch.from_numpy(np.concatenate([edge_values, [np.nan, np.inf]]).astype(np.float32)),
            "tensorflow",
            False,
        ),
        "explicit-edges": (
            torch.randn(100000, generator=gen),
            [-2.0, -0.1, 0.1, 0.1, 1 / 3, 2.0],
            True,
        ),
        "int-bins": (torch.randn(100000, generator=gen), 30, True),
        "wide-cancelling": (wide, "tensorflow", True),
    }
    on_device = {k: (t.to(dev), b, c) for k, (t, b, c) in cases.items()}
    fdir, hdir, tdir = (
        os.path.join(logroot, d) for d in ("parity-ferro", "parity-host", "parity-torch")
    )
    with ferroboard.SummaryWriter(fdir) as w:
        for k, (t, b, _) in on_device.items():
            w.add_histogram(k, t, 0, bins=b)
    with ferroboard.SummaryWriter(hdir) as w:
        for k, (t, b, _) in on_device.items():
            host = t.cpu()
            w.add_histogram(
                k, host.float().numpy() if host.dtype == torch.bfloat16 else host.numpy(), 0, bins=b
            )
    with TorchWriter(tdir) as w:
        for k, (t, b, c) in on_device.items():
            if c:
                host = t.cpu()
                w.add_histogram(
                    k, host.float() if host.dtype == torch.bfloat16 else host, 0, bins=b
                )
    ferro, host, ref = read_histograms(fdir), read_histograms(hdir), read_histograms(tdir)
    report: dict[str, Any] = {}
    ok = True
    for k, (_, _, c) in cases.items():
        row: dict[str, Any] = {}
        for oracle_name, oracle in (("host", host), ("torch", ref if c else None)):
            if oracle is None:
                continue
            a, b = ferro[k], oracle[k]
            exact = (
                a["bucket"] == b["bucket"]
                and a["bucket_limit"] == b["bucket_limit"]
                and _same(a["min"], b["min"])
                and _same(a["max"], b["max"])
                and a["num"] == b["num"]
            )
            rel_sum = _rel(a["sum"], b["sum"])
            rel_sq = _rel(a["sum_squares"], b["sum_squares"])
            # The parity suite's tolerance: 1e-9 of the sum, or of num * max|x| where
            # the sum cancels (summation orders differ; docs/gpu.md).
            extreme = max(abs(b["min"]), abs(b["max"])) if b["num"] else 0.0
            sums_ok = _close(a["sum"], b["sum"], b["num"] * extreme) and _close(
                a["sum_squares"], b["sum_squares"], b["num"] * extreme * extreme
            )
            row[oracle_name] = {
                "exact": exact,
                "sums_ok": sums_ok,
                "sum_rel": rel_sum,
                "sum_squares_rel": rel_sq,
            }
            ok = ok and exact and sums_ok
        report[k] = row
    return {"status": "ok" if ok else "fail", "cases": report}


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _close(a: float, b: float, scale: float) -> bool:
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return _same(a, b)
    bound = max(abs(a), abs(b), scale if math.isfinite(scale) else 0.0)
    return abs(a - b) <= 1e-9 * bound


def _rel(a: float, b: float) -> float:
    if _same(a, b):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(b), 1e-300)


# -- capture --------------------------------------------------------------------------------


def capture(torch: Any, ferroboard: Any, work: Workload, logroot: str, cuda: bool) -> dict:
    if not cuda:
        return {"status": "skipped", "why": "no CUDA"}
    out: dict[str, Any] = {}
    w = ferroboard.SummaryWriter(os.path.join(logroot, "capture"))
    names = list(work.params)
    # (a) entries pending while a graph is captured and replayed.
    w.add_histograms({n: work.params[n] for n in names[:8]}, 0)
    w.add_scalar("pending", work.params[names[0]].sum(), 0)
    static_x = torch.randn(4096, device="cuda")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            static_x * 2 + 1
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        static_y = static_x * 2 + 1
    g.replay()
    torch.cuda.synchronize()
    out["capture_with_pending"] = bool(torch.allclose(static_y, static_x * 2 + 1))
    # (b) logging inside a capture raises, and the capture still ends cleanly.
    g2 = torch.cuda.CUDAGraph()
    raised = None
    try:
        with torch.cuda.graph(g2):
            y2 = static_x * 3
            try:
                w.add_scalar("inside", y2.sum(), 1)
            except RuntimeError as exc:
                raised = str(exc)
    except Exception as exc:  # noqa: BLE001 - the capture itself failed
        out["capture_b_error"] = f"{type(exc).__name__}: {exc}"
    out["raised_inside_capture"] = raised is not None and "captured" in raised
    g2.replay()
    # (c) skip policy, then a later capture.
    w2 = ferroboard.SummaryWriter(os.path.join(logroot, "capture-skip"), on_cuda_capture="skip")
    g3 = torch.cuda.CUDAGraph()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        with torch.cuda.graph(g3):
            y3 = static_x * 4
            w2.add_scalar("skipped", y3.sum(), 1)
    out["skip_warned"] = any("skipped" in str(r.message) for r in records)
    g3.replay()
    torch.cuda.synchronize()
    out["later_capture_ok"] = bool(torch.allclose(y3, static_x * 4))
    w.add_scalar("after", static_y.sum(), 2)
    w.close()
    w2.close()
    tags = [t for t, _ in read_tags(os.path.join(logroot, "capture"))]
    out["events_written"] = tags
    out["status"] = (
        "ok"
        if out["capture_with_pending"]
        and out["raised_inside_capture"]
        and out["skip_warned"]
        and out["later_capture_ok"]
        and "pending" in tags
        and "after" in tags
        and "inside" not in tags
        else "fail"
    )
    return out


# -- verdicts and table ---------------------------------------------------------------------


def verdicts(check: Check, results: dict, cuda: bool) -> None:
    phases = check.data["phases"]
    v = check.data["verdicts"]
    a1, a2 = results.get("1-A1-baseline"), results.get("7-A2-baseline")
    if a1 and a2:
        base = (step_time(a1) + step_time(a2)) / 2
        noise = abs(step_time(a1) - step_time(a2)) / step_time(a1)
        v["noise"] = noise
        for name, limit in (
            ("3-F-scalar", 0.005),
            ("4-F-hist", None),
            ("5-F-hist-batched", 0.02),
            ("6-F-hist-every10", 0.01),
            ("12-F-media", None),
            ("13-F-hist-fused", 0.02),
        ):
            r = results.get(name)
            if r is None:
                continue
            overhead = step_time(r) / base - 1
            v[f"overhead {name}"] = {
                "overhead": overhead,
                "limit": limit,
                "pass": None if limit is None else overhead <= limit + noise,
            }
    t = phases.get("2-T-torch-writer", {})
    if cuda:
        detector_valid = (t.get("sync_warnings_per_step") or 0) >= 1 and (
            t.get("profiler_syncs_per_step") or 0
        ) >= 1
        v["detectors valid (negative control)"] = detector_valid
        audit = phases.get("8-sync-audit", {})
        base_calls = (audit.get("baseline") or {}).get("profiler_syncs") or 0
        for k in ("scalar", "hist", "batched", "media", "fused"):
            if k not in audit:
                continue
            a = audit[k]
            v[f"no host sync: {k}"] = (
                detector_valid
                and a.get("sync_warnings") == 0
                and a.get("profiler_syncs") is not None
                and a["profiler_syncs"] - base_calls <= 0
            )
    for name in ("9-parity", "10-completeness", "11-capture", "14-media-checks", "15-fused-parity"):
        v[name] = phases.get(name, {}).get("status")


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{100 * x:+.2f} %" if pct else f"{x:.4g}"
    return str(x)


def table(check: Check) -> str:
    phases = check.data["phases"]
    lines = [
        "",
        f"### ferroboard GPU check ({check.data.get('info', {}).get('gpu', 'CPU dry run')})",
        "",
        "| phase | status | step (s) | host logging (s/step) | device logging (s/step) | "
        "syncs (warnings / profiler) |",
        "|---|---|---|---|---|---|",
    ]
    audit = phases.get("8-sync-audit", {})
    audit_key = {
        "3-F-scalar": "scalar",
        "4-F-hist": "hist",
        "5-F-hist-batched": "batched",
        "12-F-media": "media",
        "13-F-hist-fused": "fused",
    }
    for name, r in phases.items():
        if name in (
            "8-sync-audit",
            "9-parity",
            "10-completeness",
            "11-capture",
            "0-ceilings",
            "14-media-checks",
            "15-fused-parity",
        ):
            continue
        syncs = "—"
        if name == "2-T-torch-writer":
            warned, profiled = r.get("sync_warnings_per_step"), r.get("profiler_syncs_per_step")
            syncs = f"{_fmt(warned)} / {_fmt(profiled)} per step"
        elif name in audit_key and audit_key[name] in audit:
            a = audit[audit_key[name]]
            syncs = f"{_fmt(a.get('sync_warnings'))} / {_fmt(a.get('profiler_syncs'))} in 3 steps"
        step = r.get("device_s_per_step", r.get("wall_s_per_step"))
        lines.append(
            f"| {name} | {r.get('status')} | {_fmt(step)} | "
            f"{_fmt(r.get('host_logging_s_per_step'))} | "
            f"{_fmt(r.get('logging_device_s_per_step'))} | {syncs} |"
        )
    lines += ["", "| verdict | value |", "|---|---|"]
    for k, val in check.data["verdicts"].items():
        if isinstance(val, dict):
            limit = "reported" if val["limit"] is None else _fmt(val["limit"], pct=True)
            text = f"{_fmt(val['overhead'], pct=True)} (limit {limit}) → {val['pass']}"
        elif k == "noise":
            text = _fmt(val, pct=True)
        else:
            text = _fmt(val)
        lines.append(f"| {k} | {text} |")
    c = phases.get("0-ceilings", {})
    if c.get("status") == "ok":
        lines.append(f"| pinned D2H / D2D | {c['pinned_d2h_GBps']} GB/s / {c['d2d_TBps']} TB/s |")
    t = phases.get("2-T-torch-writer", {})
    if "extrapolated_s_per_step_all_tensors" in t:
        lines.append(
            f"| torch's writer, all {check.data['model']['tensors']} tensors (extrapolated) | "
            f"{t['extrapolated_s_per_step_all_tensors']:.1f} s/step |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
