"""The documentation's figures (tools/make_figures.py): every figure the docs
show exists and is a reasonable image, the script's --help names them all,
and the architecture figure can be drawn for a tiny model."""

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tools", "make_figures.py")
DOCS = os.path.join(ROOT, "docs")


def _script():
    spec = importlib.util.spec_from_file_location("make_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _doc_images():
    """{image path relative to docs/: [pages that show it]}."""
    found = {}
    for name in sorted(os.listdir(DOCS)):
        if name.endswith(".md"):
            with open(os.path.join(DOCS, name), encoding="utf-8") as f:
                for ref in re.findall(r"!\[[^\]]*\]\((images/[^)\s]+)\)", f.read()):
                    found.setdefault(ref, []).append(name)
    return found


def test_every_figure_is_shown_in_the_docs():
    shown = _doc_images()
    for name, filename in _script().FIGURES.items():
        assert f"images/{filename}" in shown, f"{name}: {filename} not in docs"


@pytest.mark.parametrize("ref", sorted(_doc_images()))
def test_doc_images_exist_and_are_reasonable(ref):
    from PIL import Image

    path = os.path.join(DOCS, ref)
    assert os.path.isfile(path), f"{ref} is referenced in the docs but missing"
    assert os.path.getsize(path) < 300 * 1024, f"{ref} is over 300 KB"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format in ("PNG", "JPEG")
        width, height = im.size
    assert 300 <= width <= 2000 and 150 <= height <= 2000, (ref, im.size)


def test_help_lists_every_figure():
    result = subprocess.run(
        [sys.executable, SCRIPT, "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    text = " ".join(result.stdout.split())
    for name in _script().FIGURES:
        assert name in text, f"--help does not mention {name}"
    assert "--only" in text and "--model" in text and "--run" in text


def test_architecture_figure_of_a_tiny_model(tmp_path):
    from PIL import Image

    out = str(tmp_path / "architecture.png")
    assert _script().architecture(out, image_size=32, dpi=40) == out
    with Image.open(out) as im:
        width, height = im.size
        assert im.format == "PNG"
    # 13 × 10.5 inches at 40 dpi, cropped to the drawing ("tight").
    assert 400 <= width <= 13 * 40 + 10 and 300 <= height <= 10.5 * 40 + 10


def test_code_diversity_of_the_bicycle_figure():
    code_diversity = _script().code_diversity
    photos = np.zeros((2, 4, 4, 3), "float32")
    same = np.full((2, 3, 4, 4, 3), 0.5, "float32")
    assert code_diversity(same, photos) == (0.0, 0.5)
    # Three codes at -1, 0 and 1: pairs at L1 1, 2 and 1 (mean 4/3); the
    # outputs are 1, 0 and 1 from the photo (mean 2/3).
    levels = np.array([-1.0, 0.0, 1.0], "float32")[None, :, None, None, None]
    spread = np.broadcast_to(levels, (2, 3, 4, 4, 3))
    pairwise, to_photo = code_diversity(spread, photos)
    assert pairwise == pytest.approx(4 / 3)
    assert to_photo == pytest.approx(2 / 3)


def test_bicycle_figure_from_a_saved_model(tmp_path, capsys):
    """`--bicycle-model` draws the figure with a saved BicycleGAN (no
    training): 4 rows of label map, 5 codes and photo."""
    from PIL import Image

    from tests.test_bicycle import tiny_bicycle

    script = _script()
    model = tiny_bicycle()
    saved = str(tmp_path / "bicycle.keras")
    model.save(saved)
    out = str(tmp_path / "bicycle.jpg")
    assert script.bicycle(out, image_size=32, model_path=saved, dpi=40) == out
    printed = capsys.readouterr().out
    assert "trained" not in printed  # nothing was trained
    pairwise, to_photo = map(
        float, re.search(r"two codes ([\d.]+), .* photo ([\d.]+)", printed).groups()
    )
    x_val, y_val = script._sample_pairs("val", 32, n=4)
    samples = model.sample(x_val, n=5, seed=1)
    assert (pairwise, to_photo) == pytest.approx(
        script.code_diversity(samples, y_val), abs=5e-4
    )
    with Image.open(out) as im:
        assert im.format == "JPEG"
        width, height = im.size
    # 7 columns × 1.5 inches by 4 rows × 1.5 inches at 40 dpi, cropped.
    assert 300 <= width <= 7 * 1.5 * 40 + 10 and 150 <= height <= 6.5 * 40 + 10


def test_figure_pairs_come_from_a_given_folder():
    import pix2pix_keras as pk

    script = _script()
    bundled = script._sample_pairs("val", 32)
    folder = script._sample_pairs("train", 32, directory=pk.sample_data_dir("val"))
    assert bundled[0].shape == (6, 32, 32, 3)
    for a, b in zip(bundled, folder):
        np.testing.assert_array_equal(a, b)


def test_bicycle_model_refuses_the_training_options(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--only",
            "bicycle",
            "--out",
            str(tmp_path),
            "--bicycle-model",
            str(tmp_path / "m.keras"),
            "--bicycle-data",
            str(tmp_path),
            "--bicycle-epochs",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--bicycle-data, --bicycle-epochs only apply" in result.stderr
    assert os.listdir(tmp_path) == []  # nothing drawn, nothing written
