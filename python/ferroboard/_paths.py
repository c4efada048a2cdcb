"""Directories named after data stay inside the writer's log dir.

`add_scalars` keys, `add_hparams` run names and `add_embedding` tags often come from
data (class names, dataset labels). torch joins them to the log dir as they are, so
``"../../x"`` or an absolute run name writes wherever it points. Here every such path is
checked twice before anything is created: lexically (no NUL, not absolute, no ``..``
component) and after resolving symlinks (it must still be inside the log dir's real
path, so a link inside the log dir that points out of it is refused too).
"""

from __future__ import annotations

import os

from .remote import is_remote

# "/" always (torch's own separator in add_scalars), plus the platform's ("\\" on Windows).
SEPARATORS = tuple(dict.fromkeys(s for s in ("/", os.sep, os.altsep) if s))


def one_component(name: str) -> str:
    """`name` with each path separator replaced by ``_``, as torch treats `main_tag`."""
    for sep in SEPARATORS:
        name = name.replace(sep, "_")
    return name


def check_no_nul(value: str, arg: str) -> None:
    if "\0" in value:
        raise ValueError(f"{arg} cannot contain NUL (it names a directory): {value!r}")


def check_relative(value: str, arg: str) -> None:
    """Rejects a name that is not a relative path staying below its base: NUL, an
    absolute path (or a Windows drive), or a ``..`` component."""
    check_no_nul(value, arg)
    if os.path.isabs(value) or value.startswith(SEPARATORS) or os.path.splitdrive(value)[0]:
        raise ValueError(
            f"{arg} must be a path relative to the log dir, got the absolute path {value!r}"
        )
    parts = [value]
    for sep in SEPARATORS:
        parts = [p for part in parts for p in part.split(sep)]
    if ".." in parts:
        raise ValueError(
            f"{arg} cannot contain a '..' component (it would leave the log dir): {value!r}"
        )


def join(logdir: str, relative: str) -> str:
    """`relative` below `logdir`: ``os.path.join``, or a ``/`` join for a URL log dir."""
    if is_remote(logdir):
        return logdir.rstrip("/") + "/" + relative
    return os.path.join(logdir, relative)


def inside(logdir: str, relative: str, arg: str, value: str) -> str:
    """``os.path.join(logdir, relative)`` after checking that it resolves inside `logdir`.

    `relative` is the path derived from `value`, the argument `arg` the caller gave.
    Symlinks are followed as far as the path exists; a link inside the log dir to a
    place outside it raises ValueError naming both paths. (The log dir itself may be a
    link: what counts is where it resolves to.) Below a URL log dir (an object prefix,
    which has no links) the lexical check is all there is.
    """
    check_relative(relative, arg)
    if is_remote(logdir):
        return join(logdir, relative)
    path = os.path.join(logdir, relative)
    root = os.path.realpath(logdir)
    real = os.path.realpath(path)
    if not _is_within(real, root):
        raise ValueError(
            f"{arg}={value!r}: {path!r} resolves to {real!r}, outside the log dir {root!r} "
            "(a symlink inside the log dir points out of it)"
        )
    return path


def _is_within(path: str, root: str) -> bool:
    path, root = os.path.normcase(path), os.path.normcase(root)
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives (Windows)
        return False
