"""The package's public API (issue 12.6): importable from ``lsip``, lazily, with a docstring example that runs."""

from __future__ import annotations

import doctest
import subprocess
import sys

import lsip


def test_every_public_name_resolves():
    for name in lsip.__all__:
        assert getattr(lsip, name) is not None, name
    assert issubclass(lsip.StructureError, lsip.LSIPError)


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = lsip.nope


def test_docstring_example_prints_real_output():
    result = doctest.testmod(lsip, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0


def test_import_is_cheap():
    """``import lsip`` loads neither torch nor pyscf (the CLI's --help stays fast)."""
    code = "import sys, lsip; print('torch' in sys.modules, 'pyscf' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.split()
    assert out == ["False", "False"]
