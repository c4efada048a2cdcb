"""The prepared GPU check (benches/gpu_check.py) runs here in its CPU dry-run mode.

It will run once, unattended, on a machine with a GPU and no network; every phase that
does not need CUDA is exercised here on a tiny model (CPU tensors routed through the GPU
path), so a typo cannot waste that run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

from procs import child_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(ROOT, "benches", "gpu_check.py")


def test_gpu_check_dry_run_on_cpu(tmp_path):
    env = child_env()
    fused = importlib.util.find_spec("triton") is not None
    if fused:  # the fused kernel's phases run in Triton's interpreter
        env["TRITON_INTERPRET"] = "1"
    proc = subprocess.run(
        [sys.executable, CHECK, "--device", "cpu", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    phases = result["phases"]
    for name in (
        "1-A1-baseline",
        "2-T-torch-writer",
        "3-F-scalar",
        "4-F-hist",
        "5-F-hist-batched",
        "6-F-hist-every10",
        "7-A2-baseline",
        "8-sync-audit",
        "9-parity",
        "10-completeness",
        "12-F-media",
        "14-media-checks",
    ):
        assert phases[name]["status"] == "ok", (name, phases[name])
    media = phases["14-media-checks"]
    assert media["complete"] and media["events_on_disk"] == media["events_expected"] > 50
    assert len(media["equal_events"]) == 8 and all(media["equal_events"].values())
    if fused:
        assert phases["13-F-hist-fused"]["status"] == "ok"
        assert phases["13-F-hist-fused"]["launches"] >= 2
        cases = phases["15-fused-parity"]["cases"]
        assert phases["15-fused-parity"]["status"] == "ok"
        assert all(c["histograms"] > 30 and not c["mismatched"] for c in cases.values())
    assert phases["11-capture"]["status"] == "skipped"  # needs CUDA
    cases = phases["9-parity"]["cases"]
    assert len(cases) >= 12 and all(row["host"]["exact"] for row in cases.values())
    done = phases["10-completeness"]
    assert done["in_call_order"] and done["on_disk"] == done["expected_events"] > 300
    assert result["verdicts"]["9-parity"] == "ok"
    # The table comes last, for whoever reads the log.
    assert "| verdict | value |" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("| torch's writer")
