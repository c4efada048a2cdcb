"""SummaryReader's images and audio against tbparse's, on logs of all three writers.

tbparse needs TensorFlow to decode PNG and WAV. scripts/venv.sh installs it into a folder
outside the environment's path (requirements-tensorflow.txt says why), and only the child
process that runs tbparse here (tbparse_media_child.py) puts that folder on its path.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import ferroboard
import numpy as np
import pytest
from frames import assert_frames_identical
from reader_logs import WRITERS, write_runs

KINDS = ("images", "audio")
EXTRAS = {
    "images": [None, ("height", "width", "wall_time", "dir_name", "file_name")],
    "audio": [None, ("content_type", "length_frames", "sample_rate", "wall_time", "dir_name")],
}
CASES = [
    (writer, kind, extra, pivot)
    for writer in WRITERS
    for kind in KINDS
    for extra in EXTRAS[kind]
    for pivot in (False, True)
]
CHILD = Path(__file__).resolve().parent / "tbparse_media_child.py"


def tensorflow_site() -> Path:
    """Where scripts/venv.sh installed TensorFlow (it exports the path)."""
    site = os.environ.get("FERROBOARD_TENSORFLOW_SITE") or str(Path(sys.prefix) / "tensorflow-site")
    assert Path(site, "tensorflow").is_dir(), (
        f"TensorFlow is not installed in {site}: run scripts/test.sh, which installs "
        "requirements-tensorflow.txt there"
    )
    return Path(site)


@pytest.fixture(scope="module")
def tbparse_frames(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Case of CASES -> (log dir, tbparse's DataFrame), one child process for all."""
    root = tmp_path_factory.mktemp("media")
    dirs = {w: write_runs(root / w, w) for w in WRITERS}
    spec = [[str(dirs[w]), kind, extra and list(extra), pivot] for w, kind, extra, pivot in CASES]
    spec_path, out_path = root / "spec.json", root / "frames.pickle"
    spec_path.write_text(json.dumps(spec))
    paths = [str(tensorflow_site()), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(spec_path), str(out_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out_path, "rb") as f:
        frames = pickle.load(f)
    return {case: (dirs[case[0]], frame) for case, frame in zip(CASES, frames)}


def _id(case: tuple) -> str:
    writer, kind, extra, pivot = case
    return f"{writer}-{kind}-{'extra' if extra else 'plain'}-{'wide' if pivot else 'long'}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_media_equal_tbparse(tbparse_frames: dict, case: tuple) -> None:
    writer, kind, extra, pivot = case
    log_dir, expected = tbparse_frames[case]
    if writer == "tensorboardX" and kind == "audio":
        assert expected.empty  # tensorboardX's add_audio needs soundfile: the logs hold none
    else:
        assert len(expected) >= (1 if pivot else 2)  # wide: both runs' step 0 in one row
    ours = ferroboard.SummaryReader(
        log_dir, extra_columns=None if extra is None else set(extra), pivot=pivot
    )
    assert_frames_identical(getattr(ours, kind), expected)


def test_the_comparison_sees_one_changed_sample_or_dtype(tbparse_frames: dict) -> None:
    """The comparison looks inside the arrays of object columns: one pixel or audio
    sample changed by the smallest step, or an array of another dtype, makes it fail."""
    for kind in KINDS:
        _, expected = tbparse_frames[("ferroboard", kind, None, False)]
        value = expected.at[0, "value"]
        nudged = value.copy()
        flat = nudged.reshape(-1)
        step_up = flat.dtype.type(255 if flat.dtype == np.uint8 else 2)
        flat[0] = np.nextafter(flat[0], step_up) if flat.dtype.kind == "f" else flat[0] ^ 1
        for changed_value in (nudged, value.astype(np.float64)):
            changed = expected.copy()
            changed.at[0, "value"] = changed_value
            with pytest.raises(AssertionError):
                assert_frames_identical(changed, expected)
