"""Tests of the SavedModel export of the generator."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from tests._helpers import disk_full
from tests._helpers import max_abs_diff as _max_diff
from tests._helpers import to_numpy as _np
from tests.conftest import tiny_arrays
from tests.conftest import tiny_pix2pix
from tests.conftest import trained_tiny_pix2pix


@pytest.fixture(scope="module")
def trained():
    """A tiny model after one epoch (BN moving stats away from init)."""
    return trained_tiny_pix2pix()


@pytest.mark.parametrize("how", ["model.export", "export_generator"])
def test_export_serves_like_predict(trained, tmp_path, how):
    directory = os.fspath(tmp_path / "served")
    if how == "model.export":
        returned = trained.export(directory)
    else:
        returned = pk.export_generator(trained.generator, directory)
    assert returned == directory
    assert os.path.isfile(os.path.join(directory, "saved_model.pb"))
    x, _ = tiny_arrays(3, seed=2)
    want = trained.predict(x, verbose=0)

    served = tf.saved_model.load(directory)
    out = served.serve(tf.constant(x))
    assert tuple(out.shape) == (3, 32, 32, 3)
    assert _max_diff(out, want) < 1e-5

    layer = keras.layers.TFSMLayer(directory, call_endpoint="serve")
    out = layer(x)
    assert tuple(out.shape) == (3, 32, 32, 3)
    assert _max_diff(out, want) < 1e-5


def test_export_signature_is_shape_free_and_named_image(trained, tmp_path):
    directory = os.fspath(tmp_path / "served")
    pk.export_generator(trained.generator, directory)
    served = tf.saved_model.load(directory)

    signature = served.signatures["serving_default"]
    args, kwargs = signature.structured_input_signature
    assert args == ()
    assert list(kwargs) == ["image"]
    assert kwargs["image"].shape.as_list() == [None, None, None, 3]
    assert kwargs["image"].dtype == tf.float32

    for batch in (1, 3):
        x, _ = tiny_arrays(batch, seed=batch)
        out = signature(image=tf.constant(x))
        assert list(out) == ["output_0"]
        assert tuple(out["output_0"].shape) == (batch, 32, 32, 3)
        assert _max_diff(out["output_0"], trained.predict(x, verbose=0)) < 1e-5
        assert tuple(served.serve(tf.constant(x)).shape) == (batch, 32, 32, 3)

    # The U-Net is fully convolutional: a 32×32-trained model serves 64×64.
    big, _ = tiny_arrays(2, size=64, seed=4)
    out = served.serve(tf.constant(big))
    assert tuple(out.shape) == (2, 64, 64, 3)
    out = _np(out)
    assert out.min() >= -1.0 and out.max() <= 1.0
    # Same weights in a U-Net built for 64×64 give the same translation.
    config = {**trained.generator.get_config(), "image_size": (64, 64)}
    g64 = pk.UNetGenerator.from_config(config)
    g64.set_weights(trained.generator.get_weights())
    assert _max_diff(out, g64.predict(big, verbose=0)) < 1e-5
    layer_out = keras.layers.TFSMLayer(directory, call_endpoint="serve")(big)
    np.testing.assert_array_equal(_np(layer_out), out)


def test_export_over_existing_directory_replaces_it(trained, tmp_path):
    directory = os.fspath(tmp_path / "served")
    x, _ = tiny_arrays(2, seed=9)
    pk.export_generator(trained.generator, directory)
    with open(os.path.join(directory, "stale.txt"), "w") as f:
        f.write("from the first export")
    # Keep the loaded object alive while calling it (TF frees its variables).
    served = tf.saved_model.load(directory)
    first = _np(served.serve(tf.constant(x)))

    keras.utils.set_random_seed(1)
    other = tiny_pix2pix()  # different weights
    want = other.generator.predict(x, verbose=0)
    assert _max_diff(first, want) > 1e-3
    other.export(directory)

    assert sorted(os.listdir(tmp_path)) == ["served"]  # no .tmp leftovers
    assert not os.path.exists(os.path.join(directory, "stale.txt"))
    served = tf.saved_model.load(directory)
    assert _max_diff(served.serve(tf.constant(x)), want) < 1e-5


def test_interrupted_export_keeps_previous_export(trained, tmp_path):
    directory = os.fspath(tmp_path / "served")
    x, _ = tiny_arrays(2, seed=9)
    pk.export_generator(trained.generator, directory)
    before = sorted(os.listdir(directory))
    served = tf.saved_model.load(directory)
    want = _np(served.serve(tf.constant(x)))

    with disk_full("export", b"half a protobuf", into="saved_model.pb") as targets:
        trained.export(directory)
    assert len(targets) == 1 and targets[0] != directory
    assert os.path.dirname(targets[0]) == os.fspath(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["served"]
    assert sorted(os.listdir(directory)) == before
    served = tf.saved_model.load(directory)
    np.testing.assert_array_equal(_np(served.serve(tf.constant(x))), want)
