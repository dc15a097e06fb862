"""`FIDMonitor`, the `random_inception_v3` extractor, and `pix2pix train
--fid-every`."""

import csv
import math
import os

import keras
import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras import metrics
from pix2pix_keras.cli import main
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix
from tests.test_cli_options import tiny_argv


def _pooling_extractor():
    """Per-channel mean and max: 6 features that need no weights."""
    inputs = keras.Input((None, None, 3))
    mean = keras.layers.GlobalAveragePooling2D()(inputs)
    peak = keras.layers.GlobalMaxPooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Concatenate()([mean, peak]))


def test_random_inception_is_fixed_by_its_seed_alone():
    keras.utils.set_random_seed(1)
    a = metrics.random_inception_extractor(seed=0, input_size=75)
    keras.utils.set_random_seed(2)
    b = metrics.random_inception_extractor(seed=0, input_size=75)
    c = metrics.random_inception_extractor(seed=1, input_size=75)
    kernels = [w for w in a.weights if len(w.shape) == 4]
    assert len(kernels) == 94  # InceptionV3's convolutions
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())
    # He normal: the kernel's standard deviation is sqrt(2 / fan_in).
    k = kernels[0].numpy()
    assert k.std() == pytest.approx(math.sqrt(2 / np.prod(k.shape[:3])), rel=0.1)
    assert not np.array_equal(kernels[0].numpy(), c.weights[0].numpy())
    x = np.random.default_rng(0).uniform(-1, 1, (4, 75, 75, 3))
    fa = a(x.astype("float32")).numpy()
    assert fa.shape == (4, 2048)
    assert np.all(np.isfinite(fa)) and fa.std() > 1e-3
    np.testing.assert_array_equal(fa, b(x.astype("float32")).numpy())


def test_random_inception_is_a_named_extractor():
    fid = pk.FrechetInceptionDistance("random_inception_v3", input_size=75)
    x, y = tiny_arrays(n=4, size=32)
    fid.update_state(real=y, fake=y)
    assert abs(fid.result()) < 1e-6
    fid.update_state(fake=x)  # 4 copies of y and 4 noise images
    assert fid.result() > 1.0


def test_monitor_logs_the_fid_of_the_generator_outputs():
    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    model.compile()
    source, target = tiny_arrays(n=6, size=32, seed=3)
    monitor = pk.FIDMonitor(
        (source, target), extractor=_pooling_extractor(), every=2, input_size=None
    )
    history = model.fit(tiny_dataset(), epochs=3, verbose=0, callbacks=[monitor])
    logged = history.history["val_fid"]
    # Every 2nd epoch and the last one; NaN in between keeps one column.
    assert math.isnan(logged[0])
    assert sorted(monitor.history) == [1, 2]
    assert logged[1] == monitor.history[1]
    # The last value is the FID of what the generator gives now.
    reference = pk.FrechetInceptionDistance(_pooling_extractor(), input_size=None)
    reference.update_state(real=target, fake=model.generator.predict(source, verbose=0))
    assert logged[2] == pytest.approx(reference.result(), rel=1e-5)
    assert logged[2] > 0


def test_monitor_reads_a_dataset_and_names_its_key():
    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    model.compile()
    val = tiny_dataset(n=4, batch_size=3)  # batches of 3 and 1
    monitor = pk.FIDMonitor(
        val, extractor=_pooling_extractor(), name="fid_proxy", input_size=None
    )
    history = model.fit(tiny_dataset(), epochs=1, verbose=0, callbacks=[monitor])
    assert monitor._source.shape == (4, 32, 32, 3)
    assert np.isfinite(history.history["val_fid_proxy"][0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(every=0), "`every` must be an int >= 1"),
        (dict(name=""), "`name` must be a non-empty str"),
        (dict(batch_size=1.5), "`batch_size` must be an int >= 1"),
    ],
)
def test_monitor_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pk.FIDMonitor(tiny_arrays(n=4), **kwargs)


def test_monitor_needs_two_pairs():
    model = tiny_pix2pix()
    model.compile()
    x, y = tiny_arrays(n=1)
    monitor = pk.FIDMonitor((x, y), extractor=_pooling_extractor(), input_size=None)
    with pytest.raises(ValueError, match="at least 2 .source, target. pairs"):
        model.fit(tiny_dataset(), epochs=1, verbose=0, callbacks=[monitor])


def test_cli_fid_every_needs_val(tmp_path, capsys):
    assert main(tiny_argv(tmp_path / "run", "--fid-every", "1")) == 2
    err = capsys.readouterr().err
    assert "`fid_every` 1 needs validation pairs" in err
    assert not os.path.exists(tmp_path / "run")


def test_cli_fid_every_logs_the_proxy_and_draws_it(tmp_path):
    run = tmp_path / "run"
    argv = tiny_argv(
        run, "--val", pk.sample_data_dir("val"), "--fid-every", "1", "--epochs", "2"
    )
    assert main(argv) == 0
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    values = [float(r["val_fid_proxy"]) for r in rows]
    assert len(values) == 2 and all(v > 0 for v in values)
    assert "val_fid" not in rows[0]
    titles = pk.cli.plot_training_curves(run / "metrics.csv", tmp_path / "curves.png")
    assert titles[-1] == "fid_proxy (validation)"
