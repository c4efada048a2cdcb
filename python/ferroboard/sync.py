"""``python -m ferroboard.sync STAGING_DIR``: upload what a remote writer left behind.

A writer to ``s3://...`` stages its records locally and uploads them as it goes. When the
process was killed, or ``close()`` gave up after ``close_timeout`` (it raises OSError
naming the staging directory), the segments not yet in the store stay in the staging
directory next to a file naming their URL. This command uploads them under their object
names (cut to whole records) and removes the directory; running it twice is harmless.
STAGING_DIR is one writer's directory or the staging root that holds them
(``$FERROBOARD_STAGING_DIR``, else ``<tempdir>/ferroboard-<uid>``). Credentials come from
the environment, as for the writer; ``--option KEY=VALUE`` passes storage options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Optional

from . import _core


def sync(staging_dir: str, storage_options: Optional[Mapping[str, str]] = None) -> dict:
    """Uploads the leftovers under `staging_dir`; returns counts of directories
    completed, objects and bytes uploaded. Raises OSError if an upload fails (the
    directory is kept, so it can be run again)."""
    options = list((storage_options or {}).items())
    dirs, objects, nbytes = _core.sync_staging(staging_dir, options)
    return {"dirs": dirs, "objects": objects, "bytes": nbytes}


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ferroboard.sync", description=__doc__)
    parser.add_argument("staging_dir")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="storage option"
    )
    args = parser.parse_args(argv)
    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--option needs KEY=VALUE, got {item!r}")
        options[key] = value
    try:
        done = sync(args.staging_dir, options)
    except (OSError, ValueError) as exc:
        print(f"ferroboard.sync: {exc}", file=sys.stderr)
        return 1
    print(
        f"ferroboard.sync: {done['dirs']} staging dir(s) completed, "
        f"{done['objects']} object(s), {done['bytes']} bytes uploaded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
