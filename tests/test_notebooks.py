"""The notebooks are committed without outputs and check their own results.

`make test` runs them (nbmake, `PIX2PIX_FAST=1`); these tests check the
files themselves: no outputs or execution counts (so diffs stay readable and
no stale results are shipped), a fast mode, and assertions for nbmake to
fail on.
"""

import glob
import json
import os

import nbformat
import pytest

NOTEBOOKS = sorted(
    glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "*.ipynb"))
)


def code_cells(path):
    with open(path) as f:
        nb = json.load(f)
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell):
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def test_the_issue_notebooks_exist():
    assert {os.path.basename(p) for p in NOTEBOOKS} >= {
        "quickstart.ipynb",
        "data_augmentation.ipynb",
        "subclassing.ipynb",
        "evaluation.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_has_no_outputs(path):
    nb, cells = code_cells(path)
    assert len(cells) >= 4
    for i, cell in enumerate(cells):
        assert cell["outputs"] == [], f"code cell {i} has outputs"
        assert cell["execution_count"] is None, f"code cell {i} was run"
        assert "execution" not in cell.get("metadata", {})
    assert "widgets" not in nb["metadata"]
    nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_has_a_fast_mode_and_assertions(path):
    _, cells = code_cells(path)
    code = "\n".join(source(c) for c in cells)
    assert 'os.environ.get("PIX2PIX_FAST") == "1"' in code
    asserting = [c for c in cells if "assert" in source(c)]
    assert len(asserting) >= 3, "nbmake can only fail on what is asserted"
