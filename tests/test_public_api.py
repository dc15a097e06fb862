"""The package's layout: every public module says what it exports.

A public module is one whose name (and whose packages' names) does not
start with `_`. Each defines `__all__`, every name in it exists, and the
lazy names of `pix2pix_keras` all resolve. No module grows over 800 lines.
"""

import importlib
import importlib.util
import os

import pytest

import pix2pix_keras as pk

PACKAGE = os.path.dirname(pk.__file__)
MAX_LINES = 800


def _modules(public_only=True):
    names = []
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(
            d for d in dirs if os.path.isfile(os.path.join(folder, d, "__init__.py"))
        )
        rel = os.path.relpath(folder, PACKAGE)
        parts = [] if rel == "." else rel.split(os.sep)
        for file in sorted(files):
            if not file.endswith(".py") or file == "__main__.py":
                continue
            stem = file[:-3]
            module = parts + ([] if stem == "__init__" else [stem])
            if public_only and any(p.startswith("_") for p in module):
                continue
            names.append(".".join(["pix2pix_keras", *module]))
    return names


PUBLIC_MODULES = _modules()


def test_the_walk_finds_the_modules():
    assert "pix2pix_keras" in PUBLIC_MODULES
    assert "pix2pix_keras.metrics.image" in PUBLIC_MODULES
    assert "pix2pix_keras.callbacks" in PUBLIC_MODULES
    assert "pix2pix_keras._compat" not in PUBLIC_MODULES


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_defines_all(name):
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list), name
    exported = module.__all__
    assert len(set(exported)) == len(exported), name
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"


def test_package_names_resolve():
    for name in pk.__all__:
        assert getattr(pk, name) is not None, name


@pytest.mark.parametrize("name", _modules(public_only=False))
def test_no_module_over_800_lines(name):
    spec = importlib.util.find_spec(name)
    with open(spec.origin, encoding="utf-8") as f:
        lines = len(f.read().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines"
