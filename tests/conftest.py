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


def tiny_pix2pix(size=32, filters=8, in_channels=3, out_channels=3, **kw):
    """A Pix2Pix with 32×32 networks of 8 base filters (fast on CPU)."""
    return pk.Pix2Pix(
        generator=pk.UNetGenerator(
            image_size=size,
            in_channels=in_channels,
            out_channels=out_channels,
            filters=filters,
            max_filters=4 * filters,
        ),
        discriminator=pk.PatchDiscriminator(
            image_size=size,
            in_channels=in_channels,
            out_channels=out_channels,
            filters=filters,
            max_filters=4 * filters,
            n_layers=2,
        ),
        image_size=size,
        **kw,
    )


def tiny_arrays(n=8, size=32, in_channels=3, out_channels=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, size, size, in_channels)).astype("float32")
    y = np.tanh(x[..., :1] * 2.0).repeat(out_channels, axis=-1).astype("float32")
    return x, y


def tiny_dataset(n=8, size=32, batch_size=2, **kw):
    x, y = tiny_arrays(n, size, **kw)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


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
