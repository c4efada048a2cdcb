"""Reads images and audio with tbparse in a process where TensorFlow may load.

tbparse decodes PNG and WAV with TensorFlow (`tf.image.decode_image`,
`tf.audio.decode_wav`) and refuses images and audio without it. The test process keeps
TensorFlow out (tests/conftest.py), so this child does the tbparse side:

    python tbparse_media_child.py SPEC.json OUT.pickle

SPEC is a list of [log_dir, kind, extra_columns or null, pivot]; OUT gets the list of
DataFrames in the same order.
"""

from __future__ import annotations

import json
import pickle
import sys


def main() -> None:
    import tbparse
    import tensorflow  # noqa: F401  # fail here, by name, if TensorFlow is missing

    spec_path, out_path = sys.argv[1:3]
    with open(spec_path) as f:
        spec = json.load(f)
    frames = []
    for log_dir, kind, extra, pivot in spec:
        reader = tbparse.SummaryReader(
            log_dir, extra_columns=None if extra is None else set(extra), pivot=pivot
        )
        frames.append(getattr(reader, kind))
    with open(out_path, "wb") as f:
        pickle.dump(frames, f)


if __name__ == "__main__":
    main()
