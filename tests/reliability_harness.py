"""Oracles and tools for the reliability tests (tests/test_reliability*.py).

Three independent oracles read every file a reliability test leaves behind:

1. `parse_records`: a strict TFRecord parser written here in pure Python (its own
   CRC-32C), sharing no code with ferroboard or TensorBoard. It reports whole records,
   then "clean", "torn_tail" (the file ends inside a record: what a killed writer may
   leave) or "corrupt@OFFSET" (a bad checksum: never acceptable).
2. TensorBoard's `EventAccumulator`, the Python reader of `tensorboard --load_fast=false`.
3. rustboard, the Rust data server of `tensorboard --load_fast=true` (package
   tensorboard_data_server), run with `--checksum` and read over gRPC.

Scenarios run in child interpreters (`procs.run_child`) so a crash or hang fails one
test. Setting FERROBOARD_RELIABILITY_WRITER=torch runs the same child scripts against
torch's SummaryWriter instead: that is how the anchor results in each test's docstring
were recorded (most fail). Fault-injection tests use a second build of the core made
with the cargo feature `fault-injection` (see `faulty_core`), which honours the
FERROBOARD_FAULTS variable; the core that users install never reads it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
WRITER_ENV = "FERROBOARD_RELIABILITY_WRITER"

#: Child-script lines that import the SummaryWriter under test.
IMPORT_WRITER = """
if os.environ.get("FERROBOARD_RELIABILITY_WRITER") == "torch":
    from torch.utils.tensorboard import SummaryWriter
else:
    from ferroboard import SummaryWriter
"""


def anchor() -> str:
    """Which writer the child scripts use: "ferroboard" (default) or "torch"."""
    return os.environ.get(WRITER_ENV, "ferroboard")


def ferroboard_only(reason: str) -> Any:
    """Skips a test when the anchor runs: it uses an API torch does not have."""
    return pytest.mark.skipif(anchor() != "ferroboard", reason=f"ferroboard only: {reason}")


# -- oracle 1: an independent strict TFRecord parser ------------------------------------------


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def parse_records(data: bytes) -> tuple[list[bytes], str]:
    """Whole records of `data`, and "clean", "torn_tail" or "corrupt@OFFSET"."""
    records = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 12:
            return records, "torn_tail"
        header = data[offset : offset + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[offset + 8 : offset + 12])
        if masked_crc32c(header) != header_crc:
            return records, f"corrupt@{offset}"
        end = offset + 12 + length + 4
        if end > len(data):
            return records, "torn_tail"
        payload = data[offset + 12 : offset + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[end - 4 : end])
        if masked_crc32c(payload) != payload_crc:
            return records, f"corrupt@{offset}"
        records.append(payload)
        offset = end
    return records, "clean"


def check_file(path: Any, torn_tail_ok: bool = False, header: bool = True) -> list:
    """Decoded events of one file (header first), after the strict checks.

    The file must parse cleanly (or end in one torn record if `torn_tail_ok`), every
    record must decode as a TensorBoard `Event` (which checks UTF-8 in string fields),
    wall times must be finite, and the first record must be the `brain.Event:2` header.
    """
    import math

    from tensorboard.compat.proto.event_pb2 import Event

    with open(path, "rb") as f:
        data = f.read()
    records, status = parse_records(data)
    allowed = ("clean", "torn_tail") if torn_tail_ok else ("clean",)
    assert status in allowed, f"{path}: strict parser: {status}"
    events = [Event.FromString(r) for r in records]
    for e in events:
        assert math.isfinite(e.wall_time), f"{path}: non-finite wall_time in {e}"
    if header:
        assert events, f"{path}: empty file (no header record)"
        assert events[0].file_version == "brain.Event:2", f"{path}: first record {events[0]}"
    return events


def event_files(root: Any) -> list[str]:
    """Every event file under `root`, sorted by path (TensorBoard's order within a run)."""
    out = []
    for dirpath, _, names in os.walk(os.fspath(root)):
        out += [os.path.join(dirpath, n) for n in names if "tfevents" in n]
    return sorted(out)


def scalars_of(events: list) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every simple_value in `events`, in file order."""
    out = []
    for e in events:
        if e.HasField("summary"):
            for v in e.summary.value:
                if v.WhichOneof("value") == "simple_value":
                    out.append((v.tag, e.step, v.simple_value))
    return out


def all_scalars(root: Any, torn_tail_ok: bool = False) -> list[tuple[str, int, float]]:
    """Scalars of every event file under `root`, files in name order."""
    out = []
    for path in event_files(root):
        out += scalars_of(check_file(path, torn_tail_ok=torn_tail_ok))
    return out


# -- oracle 2: TensorBoard's EventAccumulator -------------------------------------------------


def accumulator_scalars(run_dir: Any) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] as TensorBoard's Python reader loads one run directory."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(os.fspath(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


# -- oracle 3: rustboard ---------------------------------------------------------------------


def rustboard_binary() -> Optional[str]:
    try:
        import tensorboard_data_server
    except ImportError:
        return None
    path = tensorboard_data_server.server_binary()
    return path if path and os.path.exists(path) else None


class Rustboard:
    """TensorBoard's Rust data server on a log directory, read over gRPC on loopback.

    `reload` is "once" or seconds between reloads (a live TensorBoard). Use as a context
    manager; the server dies with its stdin.
    """

    def __init__(self, logdir: Any, reload: str = "once") -> None:
        binary = rustboard_binary()
        if binary is None:
            pytest.skip("tensorboard_data_server (rustboard) is not installed")
        self._dir = tempfile.mkdtemp(prefix="rustboard-")
        port_file = os.path.join(self._dir, "port")
        self.proc = subprocess.Popen(
            [
                binary,
                "--logdir",
                os.fspath(logdir),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                port_file,
                "--reload",
                reload,
                "--die-after-stdin",
                "--checksum",
                "--samples-per-plugin",
                "scalars=all",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        port = ""
        while time.monotonic() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    port = f.read().strip()
                if port:
                    break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if not port:
            self.close()
            raise AssertionError("rustboard did not start")
        import grpc
        from tensorboard.data.proto import data_provider_pb2_grpc

        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._stub = data_provider_pb2_grpc.TensorBoardDataProviderStub(self._channel)

    def scalars(self) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """run -> tag -> [(step, value)] as rustboard serves them now."""
        from tensorboard.data.proto import data_provider_pb2 as dp

        request = dp.ReadScalarsRequest(
            plugin_filter=dp.PluginFilter(plugin_name="scalars"),
            downsample=dp.Downsample(num_points=10**9),
        )
        response = self._stub.ReadScalars(request, timeout=10)
        return {
            run.run_name: {
                tag.tag_name: list(zip(tag.data.step, tag.data.value)) for tag in run.tags
            }
            for run in response.runs
        }

    def wait_for(
        self, done: Callable[[dict], bool], timeout: float = 15.0
    ) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """Polls `scalars()` until `done(result)`; returns the last result either way."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self.scalars()
            except Exception:  # noqa: BLE001 - the server may still be starting
                got = {}
            if done(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def close(self) -> None:
        if getattr(self, "_channel", None) is not None:
            self._channel.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Rustboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rustboard_counts(root: Any, runs_expected: dict[str, int], timeout: float = 20.0) -> dict:
    """Loads `root` once with rustboard and returns run -> scalar point count, waiting until
    the counts reach `runs_expected` (or the timeout)."""

    def counts(got: dict) -> dict[str, int]:
        return {run: sum(len(v) for v in tags.values()) for run, tags in got.items()}

    with Rustboard(root) as rb:
        got = rb.wait_for(lambda g: counts(g) == runs_expected, timeout=timeout)
    return counts(got)


# -- the fault-injection build of the core ----------------------------------------------------

_FAULTY_LOCK = threading.Lock()
_FAULTY_DIR: Optional[str] = None


def faulty_core() -> str:
    """A PYTHONPATH entry holding ferroboard with a core built with `fault-injection`.

    Built once per test session (an incremental debug build: ~30 s the first time, a few
    seconds after), into a temporary package next to a copy of the Python sources.
    Skips when cargo is missing; fails when the build fails.
    """
    global _FAULTY_DIR
    if anchor() != "ferroboard":
        pytest.skip("fault injection needs ferroboard's test build")
    with _FAULTY_LOCK:
        if _FAULTY_DIR is not None:
            return _FAULTY_DIR
        cargo = shutil.which("cargo")
        if cargo is None:
            pytest.skip("cargo is not installed: no fault-injection build")
        proc = subprocess.run(
            [
                cargo,
                "build",
                "--lib",
                "--quiet",
                "--features",
                "fault-injection,extension-module",
                "--message-format=json",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"fault-injection build failed:\n{proc.stderr[-4000:]}"
        library = None
        for line in proc.stdout.splitlines():
            msg = json.loads(line)
            if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "_core":
                library = next((f for f in msg["filenames"] if f.endswith(".so")), None)
        assert library, "the fault-injection build produced no shared library"
        root = tempfile.mkdtemp(prefix="ferroboard-faulty-")
        package = os.path.join(root, "ferroboard")
        shutil.copytree(
            REPO / "python" / "ferroboard",
            package,
            ignore=shutil.ignore_patterns("*.so", "__pycache__"),
        )
        import sysconfig

        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        shutil.copy2(library, os.path.join(package, "_core" + suffix))
        check = subprocess.run(
            [sys.executable, "-c", "import ferroboard._core as c; assert c.FAULT_INJECTION"],
            env={**os.environ, "PYTHONPATH": root},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, f"fault-injection build does not load:\n{check.stderr}"
        _FAULTY_DIR = root
        return root


def fault_env(spec: str) -> dict:
    """Environment for a child that runs the fault-injection core with plan `spec`."""
    tests = os.path.dirname(os.path.abspath(__file__))
    return {"PYTHONPATH": os.pathsep.join([faulty_core(), tests]), "FERROBOARD_FAULTS": spec}


# -- processes --------------------------------------------------------------------------------


def open_fds_to(path_prefix: str) -> int:
    """How many of this process's descriptors point under `path_prefix` (Linux)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(path_prefix):
                n += 1
        except OSError:
            pass
    return n


def kill_quietly(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        pass
