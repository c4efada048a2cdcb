"""The prepared GPU check (benches/gpu_check.py) runs here in its CPU dry-run mode.

It will run once, unattended, on a machine with a GPU and no network; every phase that
does not need CUDA is exercised here on a tiny model (CPU tensors routed through the GPU
path), so a typo cannot waste that run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from procs import child_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(ROOT, "benches", "gpu_check.py")


def test_gpu_check_dry_run_on_cpu(tmp_path):
    proc = subprocess.run(
        [sys.executable, CHECK, "--device", "cpu", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=child_env(),
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
    ):
        assert phases[name]["status"] == "ok", (name, phases[name])
    assert phases["11-capture"]["status"] == "skipped"  # needs CUDA
    cases = phases["9-parity"]["cases"]
    assert len(cases) >= 12 and all(row["host"]["exact"] for row in cases.values())
    done = phases["10-completeness"]
    assert done["in_call_order"] and done["on_disk"] == done["expected_events"] > 300
    assert result["verdicts"]["9-parity"] == "ok"
    # The table comes last, for whoever reads the log.
    assert "| verdict | value |" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("| torch's writer")
