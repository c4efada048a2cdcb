"""Every third-party module that tests, benchmarks and examples import is a listed requirement.

A reused virtual environment can hide a missing requirement (CI stayed green while a fresh
machine failed at collection on matplotlib); this test reads the imports themselves.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("tests", "benches", "examples")
# Files run with TensorFlow's folder on their path (requirements-tensorflow.txt): their
# imports are checked against that file and that folder instead of the environment.
TENSORFLOW_CHILDREN = {"tests/tbparse_media_child.py"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_normalize(re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]))
    return names


def _dev_requirements() -> set[str]:
    return _requirement_names((ROOT / "requirements-dev.txt").read_text().splitlines())


def _test_extra() -> set[str]:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _requirement_names(project["optional-dependencies"]["test"]) | _requirement_names(
        project["dependencies"]
    )


def _tensorflow_requirements() -> set[str]:
    lines = (ROOT / "requirements-tensorflow.txt").read_text().splitlines()
    return _requirement_names(lines) | _dev_requirements()


def _local_modules() -> set[str]:
    local = {"ferroboard"}
    for folder in SCANNED:
        local |= {p.stem for p in (ROOT / folder).glob("*.py")}
    return local


def _imports() -> dict[str, list[str]]:
    """Top-level module name → files (relative) that import it, absolute imports only."""
    found: dict[str, list[str]] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], []).append(str(path.relative_to(ROOT)))
    return found


def _third_party(tensorflow_children: bool = False) -> dict[str, list[str]]:
    """Third-party modules → files importing them, of the TensorFlow children or of the rest."""
    local = _local_modules()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    found = {}
    for module, files in _imports().items():
        files = [f for f in files if (f in TENSORFLOW_CHILDREN) == tensorflow_children]
        if files and module not in stdlib | local:
            found[module] = files
    return found


def _tensorflow_site() -> str:
    return os.environ.get("FERROBOARD_TENSORFLOW_SITE") or os.path.join(
        sys.prefix, "tensorflow-site"
    )


def _providers(extra_path: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Top-level module → normalized names of the distributions that install it."""
    providers: dict[str, set[str]] = {
        m: {_normalize(d) for d in dists}
        for m, dists in importlib.metadata.packages_distributions().items()
    }
    for dist in importlib.metadata.distributions(path=list(extra_path)):
        tops = (dist.read_text("top_level.txt") or "").split()
        tops += [f.parts[0] for f in dist.files or [] if len(f.parts) > 1]
        for top in tops:
            providers.setdefault(top, set()).add(_normalize(dist.metadata["Name"]))
    return providers


def _unprovided(
    required: set[str], tensorflow_children: bool = False, extra_path: tuple[str, ...] = ()
) -> list[str]:
    providers = _providers(extra_path)
    missing = []
    for module, files in sorted(_third_party(tensorflow_children).items()):
        dists = providers.get(module, set())
        if not dists & required:
            what = ", ".join(sorted(dists)) or "no installed distribution"
            missing.append(f"{module} (provided by: {what}; imported in {', '.join(files)})")
    return missing


def test_scan_finds_the_known_third_party_imports():
    """The scanner itself works: it sees imports at any depth (inside functions, try)."""
    modules = _third_party()
    for module in ("numpy", "torch", "tensorboard", "matplotlib", "pytest", "PIL"):
        assert module in modules, sorted(modules)
    assert "eventfiles" not in modules and "os" not in modules


def test_every_imported_module_is_in_requirements_dev():
    missing = _unprovided(_dev_requirements())
    assert not missing, "not in requirements-dev.txt:\n" + "\n".join(missing)


def test_every_imported_module_is_in_the_test_extra():
    missing = _unprovided(_test_extra())
    assert not missing, "not in pyproject's [project.optional-dependencies] test:\n" + "\n".join(
        missing
    )


def test_tensorflow_children_import_only_what_their_folder_provides():
    """The tbparse child runs with scripts/venv.sh's TensorFlow folder on its path."""
    site = _tensorflow_site()
    assert os.path.isdir(os.path.join(site, "tensorflow")), f"run scripts/test.sh: no {site}"
    assert "tensorflow" in _third_party(tensorflow_children=True)
    missing = _unprovided(_tensorflow_requirements(), True, (site,))
    assert not missing, "not in requirements-tensorflow.txt:\n" + "\n".join(missing)
