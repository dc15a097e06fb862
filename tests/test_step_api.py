"""The training step's structure: short, built from small overridable parts.

The numbers of the step are tested elsewhere (test_pix2pix, test_nan_guard,
test_jit_optimizer, test_distribute, test_bicycle); this module checks the
shape that makes the step easy to read and to change.
"""

import glob
import inspect
import os

import keras
import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras.models import training
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix

MODELS = os.path.join(os.path.dirname(__file__), "..", "pix2pix_keras", "models")


def _lines(obj):
    return len(inspect.getsource(obj).splitlines())


def test_the_step_fits_on_one_screen():
    # train_step and gan_step are read together: about 40 lines of code
    # plus their docstrings.
    assert _lines(pk.Pix2Pix.train_step) <= 20
    assert _lines(pk.Pix2Pix.gan_step) <= 40
    assert _lines(pk.BicycleGAN.train_step) <= 45


def test_no_module_over_800_lines():
    package = os.path.dirname(MODELS)
    for path in glob.glob(os.path.join(package, "**", "*.py"), recursive=True):
        with open(path) as f:
            assert len(f.read().splitlines()) <= 800, path
    assert _lines(pk.Pix2Pix) < 600


def test_train_function_wrappers_come_off_by_tag():
    model = keras.Model()
    model.train_function = base = lambda it: {"base": it}
    training.wrap_train_function(model, lambda f: lambda it: {**f(it), "a": 1}, "a")
    training.wrap_train_function(model, lambda f: lambda it: {**f(it), "b": 2}, "b")
    assert model.train_function(0) == {"base": 0, "a": 1, "b": 2}
    training.unwrap_train_function(model, "a")  # not the outermost: stays
    assert model.train_function(0) == {"base": 0, "a": 1, "b": 2}
    training.unwrap_train_function(model, "b")
    assert model.train_function(0) == {"base": 0, "a": 1}
    training.unwrap_train_function(model, "a")
    assert model.train_function is base


class _CountingUpdates(pk.Pix2Pix):
    """Records the update lists the step hands to `apply_updates`."""

    def apply_updates(self, updates, values, checks=None):
        self.seen.append(
            {
                side: [type(opt).__name__ for opt, _, _ in triples]
                for side, triples in updates.items()
            }
        )
        return super().apply_updates(updates, values, checks)


@pytest.mark.parametrize("d_every", [1, 2])
def test_the_step_hands_over_optimizer_triples(d_every):
    base = tiny_pix2pix()
    model = _CountingUpdates(
        generator=base.generator, discriminator=base.discriminator, image_size=32
    )
    model.seen = []
    model.compile(d_every=d_every, run_eagerly=True)
    model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
    assert model.seen[0] == {"g": ["Adam"], "d": ["Adam"]}
    if d_every == 2:
        assert model.seen[1] == {"g": ["Adam"]}
    assert int(model.d_optimizer.iterations) == 2 // d_every


def test_a_generator_loss_override_is_trained_and_logged():
    class Extra(pk.Pix2Pix):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.trackers["g_extra"] = keras.metrics.Mean(name="g_extra")

        def generator_loss(self, source, target, fake, fake_view, real_view=None):
            values = super().generator_loss(source, target, fake, fake_view, real_view)
            values["g_extra"] = keras.ops.mean(keras.ops.square(fake))
            values["g_loss"] = values["g_loss"] + values["g_extra"]
            return values

    base = tiny_pix2pix()
    model = Extra(
        generator=base.generator, discriminator=base.discriminator, image_size=32
    )
    model.compile(d_every=2)
    history = model.fit(tiny_dataset(n=4), epochs=1, verbose=0).history
    assert np.isfinite(history["g_extra"][0])
    assert history["g_loss"][0] > history["g_gan"][0]
