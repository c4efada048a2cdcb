"""How the demo says that a section was left out for lack of an optional package."""

from __future__ import annotations


def skipped(section: str, package: str) -> None:
    """One printed line per skipped section: what is missing and how to get it."""
    print(
        f"skipped {section}: the optional package {package!r} is not installed "
        f"(pip install {package})"
    )
