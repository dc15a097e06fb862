"""The notebooks are committed with their outputs, from the current code.

tools/make_notebooks.py writes every notebook from its cell lists and runs
it (normal mode), so GitHub and the documentation site show the figures and
numbers. These tests check the committed files: every code cell run once,
in order, without errors; at least one figure; a size limit; the cells equal
to what the tool writes now (so the outputs come from the current cells);
the Colab badge and install cell; and the numbers the notebooks print,
which replace the assertions a tutorial should not be full of.

`make test` also runs the notebooks in fast mode (nbmake, `PIX2PIX_FAST=1`),
on a copy: the committed outputs stay as they are.
"""

import glob
import importlib.util
import json
import os
import re

import nbformat
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
NAMES = [os.path.basename(p)[: -len(".ipynb")] for p in NOTEBOOKS]
MAX_BYTES = 1_500_000


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "make_notebooks", os.path.join(ROOT, "tools", "make_notebooks.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(name):
    return nbformat.read(os.path.join(ROOT, "notebooks", name + ".ipynb"), as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def printed(nb):
    """Everything the notebook printed to stdout, in order."""
    return "".join(
        o.text
        for c in code_cells(nb)
        for o in c.outputs
        if o.output_type == "stream" and o.name == "stdout"
    )


def test_the_notebooks_exist_and_the_tool_writes_them_all():
    assert set(NAMES) == {
        "quickstart",
        "data_augmentation",
        "subclassing",
        "evaluation",
        "multimodal_and_tiling",
    }
    assert set(load_tool().NOTEBOOKS) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_was_run_in_order_without_errors(name):
    path = os.path.join(ROOT, "notebooks", name + ".ipynb")
    assert os.path.getsize(path) < MAX_BYTES
    with open(path) as f:
        nb = nbformat.reads(f.read(), as_version=4)
    nbformat.validate(nb)
    cells = code_cells(nb)
    assert len(cells) >= 4
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    outputs = [o for c in cells for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    stderr = "".join(
        o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"
    )
    assert "Traceback" not in stderr
    assert not re.search(r"\d+/\d+ \S*━", stderr + printed(nb)), (
        "progress bars: use verbose=0 or 2"
    )
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "no figure"
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize("name", NAMES)
def test_notebook_cells_are_what_the_tool_writes(name):
    """Outputs of other cells would be stale: regenerate with
    `python tools/make_notebooks.py <name>`."""
    expected = load_tool().build(name)
    committed = read(name)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_in_colab_and_installs_the_package(name):
    nb = read(name)
    first, install = nb.cells[0], nb.cells[1]
    assert first.cell_type == "markdown"
    assert (
        "https://colab.research.google.com/github/pix2pix-keras/"
        f"pix2pix-keras/blob/main/notebooks/{name}.ipynb"
    ) in first.source
    assert install.cell_type == "code"
    # Installs only where the package is missing (Colab), never in the
    # test suite, which runs offline.
    assert re.search(
        r"try:\n    import pix2pix_keras\nexcept ImportError:\n"
        r"    %pip install -q pix2pix-keras$",
        install.source,
    )
    with open(os.path.join(ROOT, "setup.cfg")) as f:
        assert "url = https://github.com/pix2pix-keras/pix2pix-keras\n" in f.read()


@pytest.mark.parametrize("name", NAMES)
def test_notebook_has_a_fast_mode_and_few_assertions(name):
    code = "\n".join(c.source for c in code_cells(read(name)))
    assert 'os.environ.get("PIX2PIX_FAST") == "1"' in code
    assert len(re.findall(r"^\s*assert\b", code, flags=re.M)) <= 1
    assert "np.testing" not in code


# What the notebooks print, checked here rather than asserted in the cells.
PRINTED = {
    "quickstart": [
        r"max difference after reload: 0\.0\n",
        r"optimizer steps: 192 192\n",
        r"served vs predict: \d",
    ],
    "data_augmentation": [
        r"48 files in the bundled training folder",
        r"folders  gives the same tensors as stems: True",
        r"ab       gives the same tensors as stems: True",
        r"argmax of one-hot == ids: True\ncolour == palette\[ids\]: True",
        r"resize_and_crop  eval  \(256, 256\)",
        r"scale_width      eval  \(384, 256\)",
        r"none             train \(384, 256\)\nnone             eval  \(384, 256\)",
        r"24 augmented pairs, 0 batches where one-hot source and ids disagree",
        r"source == target for 6 of 6 augmented identical pairs",
        r"ValueError: broken/cmp_b0001\.jpg: corrupt or truncated image",
        r"3 pairs left",
    ],
    "subclassing": [
        r"7 residual blocks add [\d,]+ parameters",
        r"ResidualUNet\n",
        r"ResidualPix2Pix ResidualUNet\nmax difference after loading: 0\.0\n"
        r"optimizer steps: 192\n",
        r"optimizer steps after one more epoch: 216\n",
        r"Could not locate class 'Unregistered'",
        r"with custom_objects: Unregistered",
    ],
    "evaluation": [
        r"same model input as the plain loader: True",
        r"largest difference to scikit-image's SSIM: \d\.\d+e-0[5-9]",
        r"best: \[\d, \d\] worst: \[\d, \d\]",
        # The FID proxy (fixed random weights): no download, no error.
        r"FID proxy \d+(\.\d+)?   KID proxy \d",
        r"FID of the real photos against themselves: 0\.00e\+00\n",
        r"mIoU of the label maps read back by their colours: 1\.0\n",
    ],
    "multimodal_and_tiling": [
        r"the same code gives the same output: True",
        r"sum of the weights: min 1\.0 max 1\.0",
        r"margin 26: \d\.\de-0[6-9], no margin",
    ],
}


@pytest.mark.parametrize("name", NAMES)
def test_notebook_printed_the_expected_results(name):
    text = printed(read(name))
    missing = [p for p in PRINTED[name] if not re.search(p, text)]
    assert missing == [], text


def test_evaluation_scores_agree():
    """`Pix2Pix.evaluate`, `pk.evaluate` and the functions give the same
    scores in the evaluation notebook's outputs."""
    text = printed(read("evaluation"))
    means = re.search(r" mean (\S+) +(\S+) +(\S+)\n", text).groups()
    l1, psnr, ssim = (float(v) for v in means)
    report = json.loads(
        re.search(r"^(\{'num_images'.*\})$", text, flags=re.M)
        .group(1)
        .replace("'", '"')
    )
    assert report["num_images"] == 6
    assert report["l1"] == pytest.approx(l1, abs=1e-3)
    assert report["psnr"] == pytest.approx(psnr, abs=1e-2)
    assert report["ssim"] == pytest.approx(ssim, abs=1e-3)
    # The FID section and pk.evaluate score with the same extractor, and
    # nothing printed says a download failed.
    fid, kid = (
        float(v)
        for v in re.search(r"FID proxy (\S+)   KID proxy (\S+) ", text).groups()
    )
    full = json.loads(
        re.search(r"^(\{'num_images'.*'fid'.*\})$", text, flags=re.M)
        .group(1)
        .replace("'", '"')
    )
    assert full["fid"] == pytest.approx(fid, rel=5e-3)  # printed to 3 digits
    assert full["kid"] == pytest.approx(kid, rel=5e-3)
    assert full["fid"] > 1.0
    assert "Could not" not in text and "download" not in text.lower()
