"""Shared fixtures: fixed seeds and tiny 32×32 models and data."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk

SHARED_DATA = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "cmp_facade_base"
)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield


def tiny_pix2pix(
    size=32, filters=8, in_channels=3, out_channels=3, g_kw=None, d_kw=None, **kw
):
    """A Pix2Pix with 32×32 networks of 8 base filters (fast on CPU).

    Args:
        size: the image size.
        filters: the base filters of both networks (at most 4 times as
            many in a layer).
        in_channels: the source channels.
        out_channels: the target channels.
        g_kw: more arguments of the UNetGenerator.
        d_kw: more arguments of the PatchDiscriminator (2 layers unless
            `n_layers` is given).
        **kw: arguments of Pix2Pix.

    Returns:
        The Pix2Pix, not compiled.
    """
    shared = dict(
        image_size=size,
        in_channels=in_channels,
        out_channels=out_channels,
        filters=filters,
        max_filters=4 * filters,
    )
    return pk.Pix2Pix(
        generator=pk.UNetGenerator(**shared, **(g_kw or {})),
        discriminator=pk.PatchDiscriminator(
            **shared, **{"n_layers": 2, **(d_kw or {})}
        ),
        image_size=size,
        **kw,
    )


def trained_tiny_pix2pix(n=4, epochs=1):
    """A compiled tiny Pix2Pix trained from seed 0.

    Args:
        n: the number of training pairs (batches of 2).
        epochs: the number of epochs; after one, the batch-norm moving
            statistics are away from their initial values.

    Returns:
        The trained model.
    """
    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    model.compile()
    model.fit(tiny_dataset(n=n), epochs=epochs, verbose=0)
    return model


def tiny_arrays(n=8, size=32, in_channels=3, out_channels=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, size, size, in_channels)).astype("float32")
    y = np.tanh(x[..., :1] * 2.0).repeat(out_channels, axis=-1).astype("float32")
    return x, y


def tiny_dataset(n=8, size=32, batch_size=2, **kw):
    x, y = tiny_arrays(n, size, **kw)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def facades_val(image_size=32, **kw):
    """The bundled facades val pairs, label map → photo, neither shuffled
    nor augmented; `kw` goes to `load_paired_dataset`."""
    return pk.load_paired_dataset(
        pk.sample_data_dir("val"),
        direction="BtoA",
        image_size=image_size,
        training=False,
        **kw,
    )


@pytest.fixture
def tiny_model():
    return tiny_pix2pix()


@pytest.fixture
def tiny_ds():
    return tiny_dataset()


@pytest.fixture
def shared_data_dir():
    path = os.path.abspath(SHARED_DATA)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"The real data set is expected at {path} (../shared beside the repo)."
        )
    return path
