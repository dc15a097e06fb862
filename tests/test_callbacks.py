import keras
import matplotlib.image
import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras.callbacks import to_display
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix


def _fit(model, *callbacks, n=2, **fit_kw):
    """The history of `model.fit` on `n` tiny pairs (batches of 2)."""
    return model.fit(
        tiny_dataset(n=n), verbose=0, callbacks=list(callbacks), **fit_kw
    ).history


def test_halving_formula():
    cb = pk.LearningRateHalving(every=10)
    assert cb.learning_rate(2e-4, 0) == 2e-4
    assert cb.learning_rate(2e-4, 9) == 2e-4
    assert cb.learning_rate(2e-4, 10) == 1e-4
    assert cb.learning_rate(2e-4, 25) == 5e-5
    clamp = pk.LearningRateHalving(every=1, factor=0.1, min_lr=1e-6)
    assert clamp.learning_rate(1e-3, 5) == 1e-6


@pytest.mark.parametrize(
    "callback, factors",
    [
        (pk.LearningRateHalving(every=1), [1.0, 0.5, 0.25]),
        (pk.LinearDecay(n_epochs=2, n_epochs_decay=3), [1.0, 1.0, 0.75, 0.5, 0.25]),
    ],
    ids=["halving", "linear_decay"],
)
def test_lr_callback_in_fit_acts_on_both_optimizers_and_logs_them(callback, factors):
    model = tiny_pix2pix()
    model.compile(
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(4e-4, beta_1=0.5),
    )
    history = _fit(model, callback, epochs=len(factors))
    np.testing.assert_allclose(history["g_lr"], [1e-3 * f for f in factors], rtol=1e-6)
    np.testing.assert_allclose(history["d_lr"], [4e-4 * f for f in factors], rtol=1e-6)
    assert model.optimizer is None


@pytest.mark.parametrize(
    "callback, optimizer, message",
    [
        (pk.LearningRateHalving(), "g_optimizer", "g_optimizer"),
        (pk.LinearDecay(), "d_optimizer", "LinearDecay.*d_optimizer"),
    ],
    ids=["halving", "linear_decay"],
)
def test_lr_callback_rejects_schedules(callback, optimizer, message):
    model = tiny_pix2pix()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
    model.compile(**{optimizer: keras.optimizers.Adam(schedule)})
    with pytest.raises(ValueError, match=message):
        _fit(model, callback, epochs=1)


@pytest.mark.parametrize(
    "callback, kwargs, name",
    [
        (pk.LearningRateHalving, {"every": 0}, "every"),
        (pk.LearningRateHalving, {"every": 2.5}, "every"),
        (pk.LearningRateHalving, {"factor": 0.0}, "factor"),
        (pk.LearningRateHalving, {"factor": 1.5}, "factor"),
        (pk.LearningRateHalving, {"min_lr": -1.0}, "min_lr"),
        (pk.LinearDecay, {"n_epochs": -1}, "n_epochs"),
        (pk.LinearDecay, {"n_epochs": 2.5}, "n_epochs"),
        (pk.LinearDecay, {"n_epochs_decay": -3}, "n_epochs_decay"),
        (pk.LinearDecay, {"n_epochs_decay": 1.0}, "n_epochs_decay"),
        (pk.LambdaSchedule, {"end": -1.0}, "end"),
        (pk.LambdaSchedule, {"start": float("nan")}, "start"),
        (pk.LambdaSchedule, {"start_epoch": -1}, "start_epoch"),
        (pk.LambdaSchedule, {"start_epoch": 5, "end_epoch": 5}, "end_epoch"),
    ],
)
def test_schedule_callbacks_reject_bad_arguments(callback, kwargs, name):
    with pytest.raises(ValueError, match=name):
        callback(**kwargs)


def test_halving_resumes_from_absolute_epoch():
    model = tiny_pix2pix()
    model.compile()
    history = _fit(model, pk.LearningRateHalving(every=10), initial_epoch=20, epochs=21)
    # Epoch 20 is two periods in: 2e-4 / 4, whatever the current rate was.
    np.testing.assert_allclose(history["g_lr"], [5e-5], rtol=1e-6)
    np.testing.assert_allclose(history["d_lr"], [5e-5], rtol=1e-6)


def test_halving_needs_compiled_model():
    model = tiny_pix2pix()
    cb = pk.LearningRateHalving()
    cb.set_model(model)
    with pytest.raises(ValueError, match="compile"):
        cb.on_epoch_begin(0)


def _reference_lambda_rule(epoch, n_epochs, n_epochs_decay, epoch_count=1):
    # The reference's `linear` policy, as written there.
    return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)


def test_linear_decay_formula_at_the_boundaries():
    cb = pk.LinearDecay(n_epochs=100, n_epochs_decay=100)
    for epoch in (0, 98, 99, 100, 101, 150, 198, 199):
        assert cb.multiplier(epoch) == pytest.approx(
            _reference_lambda_rule(epoch, 100, 100), abs=1e-15
        )
    assert cb.learning_rate(2e-4, 0) == 2e-4
    assert cb.learning_rate(2e-4, 99) == 2e-4  # n_epochs - 1: still base
    # n_epochs: the first decayed epoch, base * 100 / 101.
    assert cb.learning_rate(2e-4, 100) == pytest.approx(2e-4 * 100 / 101)
    # n_epochs + n_epochs_decay - 1: the last epoch, base / 101.
    assert cb.learning_rate(2e-4, 199) == pytest.approx(2e-4 / 101)
    # After the decay: 0, never negative (the reference would go below 0).
    assert cb.learning_rate(2e-4, 200) == 0.0
    assert cb.learning_rate(2e-4, 250) == 0.0
    assert _reference_lambda_rule(250, 100, 100) < 0
    # No constant phase; no decay.
    assert pk.LinearDecay(0, 4).multiplier(0) == pytest.approx(0.8)
    assert pk.LinearDecay(5, 0).multiplier(4) == 1.0
    assert pk.LinearDecay(5, 0).multiplier(5) == 0.0
    assert cb.get_config() == {"n_epochs": 100, "n_epochs_decay": 100}


def test_linear_decay_resumes_from_absolute_epoch():
    def run(initial_epoch, epochs, model=None):
        if model is None:
            model = tiny_pix2pix()
            model.compile()
        return model, _fit(
            model,
            pk.LinearDecay(n_epochs=2, n_epochs_decay=3),
            initial_epoch=initial_epoch,
            epochs=epochs,
        )["g_lr"]

    _, whole = run(0, 5)
    # A fresh model started at epoch 3, and a model whose rate was changed.
    _, tail = run(3, 5)
    model, _ = run(0, 1)
    model.g_optimizer.learning_rate.assign(1.0)
    _, tail2 = run(3, 5, model)
    np.testing.assert_allclose(tail, whole[3:], rtol=1e-6)
    np.testing.assert_allclose(tail2, [1e-4, 5e-5], rtol=1e-6)


def test_linear_decay_warns_when_the_run_does_not_match():
    model = tiny_pix2pix()
    model.compile()
    for epochs, message in (
        (
            10,
            r"spans 5 epochs but fit\(\) runs 10: the rates are 0 from "
            r"epoch 6 on, so the last 5 epoch\(s\) learn nothing",
        ),
        (
            3,
            r"spans 5 epochs but fit\(\) runs 3: the decay is cut off "
            r"at 0.75 × the base rate",
        ),
    ):
        cb = pk.LinearDecay(n_epochs=2, n_epochs_decay=3)
        cb.set_model(model)
        cb.set_params({"epochs": epochs})
        with pytest.warns(UserWarning, match=message):
            cb.on_train_begin()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb.set_params({"epochs": 5})
        cb.on_train_begin()


def test_make_grid_layout():
    n, h, w = 3, 8, 10
    src = -np.ones((n, h, w, 3))
    gen = np.zeros((n, h, w, 3))
    tgt = np.ones((n, h, w, 3))
    grid = pk.make_grid(src, gen, tgt, padding=2)
    assert grid.shape == (n * h + (n - 1) * 2, 3 * w + 2 * 2, 3)
    # Columns: black source, mid-grey generated, white target; white padding.
    assert grid[0:h, 0:w].max() == 0.0
    np.testing.assert_allclose(grid[0:h, w + 2 : 2 * w + 2], 0.5)
    assert grid[0:h, 2 * w + 4 :].min() == 1.0
    assert grid[h : h + 2].min() == 1.0


def test_to_display_channels():
    grey = to_display(np.full((1, 2, 2, 1), 0.0))
    assert grey.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(grey, 0.5)
    onehot = np.zeros((1, 2, 2, 12), "float32")
    onehot[0, 0, 0, 3] = 1.0
    onehot[0, 1, 1, 3] = 1.0
    shown = to_display(onehot)
    assert shown.shape == (1, 2, 2, 3)
    # Same class, same colour; different classes, different colours.
    np.testing.assert_array_equal(shown[0, 0, 0], shown[0, 1, 1])
    assert np.abs(shown[0, 0, 0] - shown[0, 0, 1]).sum() > 0


def test_make_grid_rejects_mismatched_columns():
    with pytest.raises(ValueError, match="same number"):
        pk.make_grid(
            np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3)), np.zeros((3, 8, 8, 3))
        )


def test_sample_grid_png_changes_after_training(tmp_path):
    model = tiny_pix2pix()
    model.compile(
        g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-3)
    )
    x, y = tiny_arrays(n=4)
    cb = pk.SampleGrid((x[:3], y[:3]), tmp_path, every=2)
    cb.set_model(model)
    before = cb.render()
    model.fit(tiny_dataset(n=4), epochs=4, verbose=0, callbacks=[cb])
    assert [p.rsplit("/", 1)[-1] for p in cb.paths] == [
        "samples_epoch0002.png",
        "samples_epoch0004.png",
    ]
    png = matplotlib.image.imread(tmp_path / "samples_latest.png")
    assert png.shape[:2] == (3 * 32 + 2 * 2, 3 * 32 + 2 * 2)
    png = png[..., :3]
    w = 32
    # Source and target columns are the inputs; only the generated one moves.
    np.testing.assert_allclose(png[:, :w], before[:, :w], atol=1 / 255)
    np.testing.assert_allclose(
        png[:, 2 * w + 4 :], before[:, 2 * w + 4 :], atol=1 / 255
    )
    change = np.abs(png[:, w + 2 : 2 * w + 2] - before[:, w + 2 : 2 * w + 2]).mean()
    assert change > 0.01


def test_sample_grid_takes_a_dataset(tmp_path):
    cb = pk.SampleGrid(tiny_dataset(n=4, batch_size=3), tmp_path)
    assert cb.source.shape == (3, 32, 32, 3)
    assert cb.target.shape == (3, 32, 32, 3)


def test_sample_grid_rejects_bad_samples(tmp_path):
    with pytest.raises(ValueError, match="samples"):
        pk.SampleGrid(np.zeros((2, 8, 8, 3)), tmp_path)
    with pytest.raises(ValueError, match="every"):
        pk.SampleGrid((np.zeros((2, 8, 8, 3)),) * 2, tmp_path, every=0)


def test_lambda_schedule_values_and_logs():
    cb = pk.LambdaSchedule(end=10.0, start_epoch=1, end_epoch=3)
    assert [cb.value(e, 100.0) for e in range(5)] == [100.0, 100.0, 55.0, 10.0, 10.0]
    model = tiny_pix2pix()
    model.compile(lambda_l1=100.0)
    h = _fit(model, cb, epochs=4)
    np.testing.assert_allclose(h["lambda_l1"], [100, 100, 55, 10])
    # The step really uses the scheduled weight.
    np.testing.assert_allclose(
        h["g_loss"][2], h["g_gan"][2] + 55.0 * h["g_l1"][2], rtol=1e-5
    )
    np.testing.assert_allclose(
        h["g_loss"][3], h["g_gan"][3] + 10.0 * h["g_l1"][3], rtol=1e-5
    )


def test_lambda_schedule_survives_save_and_load(tmp_path):
    model = tiny_pix2pix()
    model.compile(lambda_l1=80.0)
    cb = pk.LambdaSchedule(end=20.0, start_epoch=0, end_epoch=4)
    _fit(model, cb, epochs=2)
    assert float(model.l1_weight) == 65.0  # epoch 1: 80 + (20 - 80) / 4
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert float(loaded.l1_weight) == 65.0 and loaded.lambda_l1 == 80.0
    history = _fit(
        loaded,
        pk.LambdaSchedule(end=20.0, start_epoch=0, end_epoch=4),
        initial_epoch=2,
        epochs=3,
    )
    assert history["lambda_l1"] == [50.0]  # epoch 2: 80 - 60 / 2
