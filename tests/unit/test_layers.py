"""The packages' imports go one way: contract <- simulator, contract <- pipeline, and harness on top of both."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.settings import REPO_ROOT

# What each package may import of the project's own packages; harness alone uses both sides.
ALLOWED = {
    "contract": set(),
    "simulator": {"contract"},
    "pipeline": {"contract"},
    "harness": {"contract", "simulator", "pipeline"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every absolute import in a module, those inside functions and TYPE_CHECKING included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    others = set(ALLOWED) - {package}
    wrong = {f"{path.relative_to(REPO_ROOT)} imports {sorted(imported_packages(path) & (others - ALLOWED[package]))}"
             for path in sorted((REPO_ROOT / package).rglob("*.py"))
             if imported_packages(path) & (others - ALLOWED[package])}
    assert not wrong, sorted(wrong)


def test_the_contract_constants_need_no_pyspark():
    assert "pyspark" not in set().union(*map(imported_packages, (REPO_ROOT / "contract").rglob("*.py")))
