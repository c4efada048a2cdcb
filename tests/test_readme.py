"""Every Python block of README.md runs as written, in a fresh interpreter and an empty
directory, and leaves event files that TensorBoard's loader reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from procs import child_env, describe_run
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[tuple[str, str]]:
    """(section heading + index, code) of each ```python block."""
    blocks = []
    heading = "top"
    counts: dict[str, int] = {}
    lines = README.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip() == "```python":
            end = lines.index("```", i + 1)
            counts[heading] = counts.get(heading, 0) + 1
            blocks.append((f"{heading} #{counts[heading]}", "\n".join(lines[i + 1 : end])))
            i = end
        i += 1
    return blocks


BLOCKS = _python_blocks()


def test_the_readme_has_the_blocks_users_copy():
    headings = [name for name, _ in BLOCKS]
    assert headings[0].startswith("ferroboard"), headings  # the first example, at the top
    for section in ("Plain scripts", "patch()", "PyTorch Lightning", "transformers"):
        assert any(section in name for name in headings), (section, headings)


@pytest.mark.parametrize("code", [code for _, code in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_readme_block_runs_as_written(code, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env=child_env(),
    )
    assert proc.returncode == 0, describe_run(proc)
    event_files = list(tmp_path.rglob("events.out.tfevents.*"))
    assert event_files, "the block wrote no event file\n" + describe_run(proc)
    multiplexer = EventMultiplexer().AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    tags = multiplexer.Runs()
    assert any(
        run_tags.get(kind) for run_tags in tags.values() for kind in ("scalars", "tensors")
    ), tags
    assert re.search(r"ferroboard", code), "a README block that does not use ferroboard"
