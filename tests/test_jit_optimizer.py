"""`compile(jit_optimizer=...)`: optimizer updates through XLA."""

import os

import keras
import numpy as np
import pytest

from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix


def _xla(model):
    return model.__dict__.get("_xla_updates") is not None


def test_auto_turns_it_on_for_a_plain_single_device_step():
    model = tiny_pix2pix()
    model.compile()
    assert model.jit_optimizer == "auto" and _xla(model)
    model.compile(jit_compile=True)  # the whole step is XLA already
    assert not _xla(model)
    model.compile(run_eagerly=True)
    assert not _xla(model)
    model.compile(jit_optimizer=False)
    assert not _xla(model)


def test_same_updates_as_without_xla():
    """Two steps each way from the same weights: the same result to 1e-6."""
    results = {}
    for flag in (False, True):
        keras.utils.set_random_seed(0)
        model = tiny_pix2pix()
        model.compile(jit_optimizer=flag)
        assert _xla(model) is flag
        model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
        results[flag] = model.get_weights()
        assert int(model.g_optimizer.iterations) == 2
        assert int(model.d_optimizer.iterations) == 2
    for a, b in zip(results[False], results[True]):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_d_every_skips_d_update_under_xla_updates():
    model = tiny_pix2pix()
    model.compile(d_every=2, jit_optimizer=True)
    model.fit(tiny_dataset(n=8), epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 4
    assert int(model.d_optimizer.iterations) == 2


def test_setting_is_saved(tmp_path):
    model = tiny_pix2pix()
    model.compile(jit_optimizer=False)
    path = os.fspath(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.jit_optimizer is False and not _xla(loaded)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_bad_values_are_refused(value):
    with pytest.raises(ValueError, match="jit_optimizer"):
        tiny_pix2pix().compile(jit_optimizer=value)
