"""Imports point one way (docs/model.md section 1): physics <- model <- adapters <- app; only the UI layer
imports streamlit; ``lsip/viz`` builds figures and views only (no PySCF, no reference cache or driver).

The scan reads every module's AST (no imports are executed), so it also sees imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: package directory -> top-level modules it must never import
RULES: dict[str, tuple[str, ...]] = {
    "lsip/physics": ("ase", "pyscf", "streamlit", "lsip.model", "lsip.reference", "lsip.ui", "lsip.viz"),
    "lsip/model": ("streamlit", "pyscf", "lsip.ui"),
    "lsip/reference": ("streamlit", "lsip.ui", "lsip.viz"),
    # figure and view builders only (issue 12.6): no PySCF, no reference cache or driver, no grids; the numbers
    # they draw come from the layers that compute them (lsip.reference.density, lsip.reference.transfer, ...)
    "lsip/viz": ("streamlit", "pyscf", "lsip.ui", "lsip.reference"),
}
#: package directory -> modules inside a forbidden one that it may still import: the data types and constants
#: the views draw (a ChargeFlow, a PlaneSlice, density labels), from modules that import no PySCF at load time
ALLOWED: dict[str, tuple[str, ...]] = {
    "lsip/viz": ("lsip.reference.flows", "lsip.reference.density"),
}
#: the only places allowed to import streamlit (tests use streamlit.testing for AppTest)
STREAMLIT_ALLOWED = ("lsip/ui/", "app.py", "app_pages/", "tests/", "benchmarks/bench_app.py")


def module_name(path: Path) -> str:
    """Dotted module name of a file under ROOT (``lsip/model/x.py`` -> ``lsip.model.x``)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of every module imported by ``source`` (relative imports resolved against ``module``).

    Calls ``importlib.import_module("x")`` / ``__import__("x")`` with a literal name count as imports too.
    """
    names: set[str] = set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def violations(names: set[str], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    """The imported names equal to, or inside, one of the forbidden modules, except those equal to or inside an
    ``allowed`` module, or a package above one (``from lsip.reference import flows`` also names ``lsip.reference``).
    """
    def ok(n: str) -> bool:
        return any(n == a or n.startswith(a + ".") or a.startswith(n + ".") for a in allowed)

    return sorted(n for n in names for f in forbidden if (n == f or n.startswith(f + ".")) and not ok(n))


def python_files(*dirs: str) -> list[Path]:
    """Every ``.py`` file under the given directories of ROOT (skipping caches and the venv)."""
    files: list[Path] = []
    for d in dirs:
        base = ROOT / d
        if base.is_file():
            files.append(base)
        elif base.is_dir():
            files += [p for p in base.rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files)


def _imports_of(path: Path) -> set[str]:
    return imported_modules(path.read_text(), module_name(path), path.name == "__init__.py")


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_point_one_way(package):
    files = python_files(package)
    assert files, f"no modules found under {package}"
    bad = {str(p.relative_to(ROOT)): violations(_imports_of(p), RULES[package], ALLOWED.get(package, ()))
           for p in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_only_the_ui_layer_imports_streamlit():
    files = python_files("lsip", "app.py", "app_pages", "benchmarks", "scripts")
    bad = {}
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(STREAMLIT_ALLOWED):
            continue
        found = violations(_imports_of(path), ("streamlit", "py3Dmol.ipython"))
        if found:
            bad[rel] = found
    assert bad == {}
    assert any(p.relative_to(ROOT).as_posix() == "lsip/ui/common.py" for p in files)


def test_scanner_catches_violations():
    src = (
        "import os\n"
        "from ..model import encoder\n"
        "def f():\n    import streamlit as st\n"
        "def g():\n    import importlib\n    importlib.import_module('pyscf.dft')\n"
    )
    names = imported_modules(src, "lsip.physics.fake")
    assert "lsip.model.encoder" in names
    assert violations(names, RULES["lsip/physics"]) == ["lsip.model", "lsip.model.encoder", "pyscf.dft", "streamlit"]
    assert imported_modules("from . import x", "lsip.physics", is_package=True) == {"lsip.physics", "lsip.physics.x"}
    assert violations({"streamlit_extras", "os"}, ("streamlit",)) == []
    viz_src = (
        "from lsip.reference import flows\n"
        "from lsip.reference.density import KIND_LABELS\n"
        "def f():\n    from lsip.reference.cache import ReferenceCache\n"
        "    from lsip.reference import driver\n    from pyscf.dft import gen_grid\n"
    )
    viz = imported_modules(viz_src, "lsip.viz.fake")
    assert violations(viz, RULES["lsip/viz"], ALLOWED["lsip/viz"]) == [
        "lsip.reference.cache", "lsip.reference.cache.ReferenceCache", "lsip.reference.driver", "pyscf.dft",
        "pyscf.dft.gen_grid"]
