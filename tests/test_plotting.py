"""Tests of pix2pix_keras.plotting: example grids and augmentation galleries."""

import os

import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import pix2pix_keras as pk
from pix2pix_keras.augment import Augment
from pix2pix_keras.callbacks import to_display
from pix2pix_keras.plotting import ids_to_display
from pix2pix_keras.plotting import show_augmentations
from pix2pix_keras.plotting import show_pairs
from tests.conftest import facades_val


def _batch(n=3, size=8, c_in=3, c_out=3, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.uniform(-1, 1, (n, size, size, c_in)).astype("float32")
    target = rng.uniform(-1, 1, (n, size, size, c_out)).astype("float32")
    return source, target


def _shown(fig, row, col, ncols):
    return np.asarray(fig.axes[row * ncols + col].get_images()[0].get_array())


def test_show_pairs_grid_and_pixels_equal_to_display():
    source, target = _batch(n=5)
    ds = tf.data.Dataset.from_tensor_slices((source, target)).batch(2)
    fig = show_pairs(ds, n=3, title="t")
    assert len(fig.axes) == 6
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (3, 2)
    assert [fig.axes[i].get_title() for i in (0, 1)] == ["source", "target"]
    assert fig.get_suptitle() == "t"
    # Rows 0-1 come from the first batch, row 2 from the second.
    for i in range(3):
        np.testing.assert_allclose(_shown(fig, i, 0, 2), to_display(source)[i])
        np.testing.assert_allclose(_shown(fig, i, 1, 2), to_display(target)[i])


def test_show_pairs_fewer_rows_when_data_ends_and_custom_columns():
    source, target = _batch(n=2)
    fig = show_pairs((source, target), n=4, columns=("target",))
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (2, 1)
    np.testing.assert_allclose(_shown(fig, 1, 0, 1), to_display(target)[1])


def test_show_pairs_saves_png_of_figsize_times_dpi(tmp_path):
    path = tmp_path / "sub" / "pairs.png"
    fig = show_pairs(_batch(n=2), n=2, path=str(path), figsize=(3, 4), dpi=50)
    image = matplotlib.image.imread(str(path))
    assert image.shape[:2] == (200, 150)
    assert fig.get_size_inches().tolist() == [3.0, 4.0]
    assert os.listdir(path.parent) == ["pairs.png"]  # no temporary left


def test_show_pairs_default_png_size(tmp_path):
    path = tmp_path / "pairs.png"
    show_pairs(_batch(n=3), n=3, path=str(path))
    # 2 inches per panel at 100 dpi: 2 columns x 3 rows.
    assert matplotlib.image.imread(str(path)).shape[:2] == (600, 400)


def test_show_pairs_one_hot_grey_and_ids_columns():
    source, target = _batch(n=2, c_in=13, c_out=1)
    ids = np.argmax(source, axis=-1).astype("int32")
    fig = show_pairs((source, target, ids), n=2, columns=("source", "target", "ids"))
    np.testing.assert_allclose(_shown(fig, 1, 0, 3), to_display(source)[1])
    grey = _shown(fig, 1, 1, 3)
    assert grey.shape == (8, 8, 3)
    np.testing.assert_allclose(grey, to_display(target)[1])
    np.testing.assert_allclose(_shown(fig, 0, 2, 3), ids_to_display(ids)[0])
    # Id k has the colour of one-hot channel k.
    onehot = np.eye(13, dtype="float32")[ids] * 2.0 - 1.0
    np.testing.assert_allclose(
        ids_to_display(ids), to_display(onehot), rtol=0, atol=1e-6
    )


def test_show_pairs_errors():
    with pytest.raises(ValueError, match="columns"):
        show_pairs(_batch(), columns=("photo",))
    with pytest.raises(ValueError, match="ids"):
        show_pairs(_batch(), columns=("ids",))
    with pytest.raises(ValueError, match="`n`"):
        show_pairs(_batch(), n=0)
    empty = tf.data.Dataset.from_tensor_slices(_batch()).take(0).batch(1)
    with pytest.raises(ValueError, match="no examples"):
        show_pairs(empty)


def test_show_pairs_on_sample_label_maps():
    ds = facades_val(
        batch_size=3, labels=pk.facades_labels("onehot"), with_label_ids=True
    )
    source, target, ids = next(iter(ds))
    fig = show_pairs(ds, n=2, columns=("source", "ids", "target"))
    assert source.shape == (3, 32, 32, 13)
    np.testing.assert_allclose(_shown(fig, 1, 0, 3), to_display(source)[1])
    np.testing.assert_allclose(_shown(fig, 1, 1, 3), ids_to_display(ids)[1])
    np.testing.assert_allclose(_shown(fig, 1, 2, 3), to_display(target)[1])


@pytest.fixture
def identical_pairs(tmp_path):
    """A `folders` layout in which every B image equals its A image."""
    rng = np.random.default_rng(0)
    for side in "AB":
        (tmp_path / side).mkdir()
    for k in range(3):
        smooth = rng.uniform(0, 255, (6, 5, 3))
        image = np.kron(smooth, np.ones((8, 8, 1))).astype("uint8")  # 48x40
        for side in "AB":
            Image.fromarray(image).save(tmp_path / side / f"p{k}.png")
    return str(tmp_path)


def test_show_augmentations_variants_differ_and_stay_aligned(identical_pairs):
    augment = Augment(elastic=True, elastic_alpha=60.0, elastic_sigma=3.0)
    fig = show_augmentations(
        identical_pairs,
        n_variants=4,
        index=1,
        image_size=32,
        load_size=40,
        augment=augment,
    )
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (4, 2)
    assert [fig.axes[2 * i].get_ylabel() for i in range(4)] == [
        "seed 0",
        "seed 1",
        "seed 2",
        "seed 3",
    ]
    rows = [(_shown(fig, i, 0, 2), _shown(fig, i, 1, 2)) for i in range(4)]
    for source, target in rows:
        np.testing.assert_array_equal(source, target)
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(rows[i][0] - rows[j][0]).max() > 0.1, (i, j)
    # Row `seed s` is pair `index` of the training pipeline with seed s.
    ds = pk.load_paired_dataset(
        identical_pairs,
        image_size=32,
        load_size=40,
        augment=augment,
        shuffle=False,
        seed=2,
        cache=False,
    )
    pair1 = list(ds.take(2))[1]
    np.testing.assert_allclose(rows[2][1], to_display(pair1[1])[0])


def test_show_augmentations_factory_and_seeds(identical_pairs, tmp_path):
    calls = []

    def factory(seed):
        calls.append(seed)
        return pk.load_paired_dataset(
            identical_pairs,
            image_size=32,
            load_size=40,
            shuffle=False,
            seed=seed,
            batch_size=2,
        )

    path = tmp_path / "aug.png"
    fig = show_augmentations(
        factory, n_variants=2, index=2, seeds=[7, 9], path=str(path), dpi=20
    )
    assert calls == [7, 9]
    assert fig.axes[2].get_ylabel() == "seed 9"
    assert matplotlib.image.imread(str(path)).shape[:2] == (80, 80)


def test_show_augmentations_errors(identical_pairs):
    with pytest.raises(ValueError, match="seeds"):
        show_augmentations(identical_pairs, n_variants=2, seeds=[1])
    with pytest.raises(ValueError, match="shuffle"):
        show_augmentations(identical_pairs, shuffle=True)
    with pytest.raises(ValueError, match="load_kwargs"):
        show_augmentations(lambda s: None, image_size=32)
    with pytest.raises(ValueError, match="past the end"):
        show_augmentations(
            identical_pairs, n_variants=1, index=3, image_size=32, load_size=40
        )
