"""Object-store log directories: which URLs a writer accepts, and its storage options.

A log dir ``s3://bucket/prefix/run`` (or ``gs://``, ``az://``, ``abfs(s)://``,
``memory://``) is written by the Rust core to local staging segments and uploaded as whole
objects by one background thread per process (docs/storage.md). This module only checks
what the caller passes, before anything is created.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any, Optional

from . import _core
from .conversions import describe

#: Schemes the core can write to (object_store's names for S3, GCS and Azure).
SCHEMES = tuple(_core.STORE_SCHEMES)

#: Default bound of `close()` on a remote writer, in seconds.
DEFAULT_CLOSE_TIMEOUT: float = _core.DEFAULT_CLOSE_TIMEOUT

#: A URL's ``scheme://`` (RFC 3986 scheme). Two letters at least, so that a Windows drive
#: (``C:\\runs``, even ``C://runs``) stays a local path.
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://")


def url_scheme(log_dir: Any) -> Optional[str]:
    """The scheme of a URL log dir (lower case), or None for a local path."""
    try:
        path = os.fsdecode(log_dir)
    except TypeError:
        return None
    match = _URL_SCHEME.match(path)
    return match.group(1).lower() if match else None


def is_remote(log_dir: Any) -> bool:
    return url_scheme(log_dir) is not None


def check_scheme(log_dir: Any, arg: str = "log_dir") -> None:
    """Raises ValueError, before anything is created, for a URL whose scheme no store
    handles (written as a local path it would become a directory named ``hdfs:``)."""
    scheme = url_scheme(log_dir)
    if scheme is not None and scheme not in SCHEMES:
        supported = ", ".join(f"{s}://" for s in SCHEMES)
        raise ValueError(
            f"{arg}={os.fsdecode(log_dir)!r}: the scheme {scheme}:// is not supported; "
            f"use a local path or one of {supported}"
        )


def checked_storage_options(options: Any) -> Optional[dict]:
    """`storage_options`: None, or a mapping of str keys (object_store configuration keys
    such as ``"aws_region"`` or ``"endpoint"``) to str, int, float or bool values."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise TypeError(f"storage_options must be a dict or None, got {describe(options)}")
    out = {}
    for key, value in options.items():
        if not isinstance(key, str):
            raise TypeError(f"storage_options keys must be str, got {describe(key)}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise TypeError(
                f"storage_options[{key!r}] must be a str, int, float or bool, got {describe(value)}"
            )
        out[key] = value
    return out


def checked_close_timeout(value: Any) -> float:
    """`close_timeout`: seconds `close()` waits for the store, a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"close_timeout must be a number of seconds, got {describe(value)}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"close_timeout must be a positive number of seconds, got {value}")
    return value
