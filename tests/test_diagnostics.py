"""Diagnostics: the SPEC §8 rows fire on scripted loss histories."""

import math
import os
import types

import keras
import numpy as np
import pytest

from pix2pix_keras.callbacks import TROUBLESHOOTING
from pix2pix_keras.callbacks import Diagnostics
from pix2pix_keras.callbacks import troubleshooting_table
from tests.conftest import tiny_arrays
from tests.conftest import tiny_pix2pix

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs")
STEPS = 20  # batches per epoch of the scripted histories
WINDOW = 10


def stub(l1_weight=100.0, gan_loss="lsgan"):
    """Stands in for a compiled Pix2Pix: λ, the GAN loss, stop_training."""
    return types.SimpleNamespace(
        l1_weight=keras.Variable(l1_weight),
        gan_loss=gan_loss,
        stop_training=False,
    )


def diagnostics(model="stub", **kwargs):
    cb = Diagnostics(**{"window": WINDOW, "verbose": 0, **kwargs})
    cb.set_model(stub() if model == "stub" else model)
    return cb


def healthy(n, seed=0, start=0, l1_weight=100.0):
    """Per-batch logs of a healthy run from step `start`: L1 falls, D stays
    undecided."""
    rng = np.random.default_rng(seed)
    step = start + np.arange(n)
    cols = dict(
        g_l1=0.25 * np.exp(-step / 150) + 0.1 + rng.normal(0, 0.01, n),
        g_gan=0.6 + rng.normal(0, 0.1, n),
        d_loss=0.2 + rng.normal(0, 0.03, n),
        d_real=0.65 + rng.normal(0, 0.02, n),
        d_fake=0.35 + rng.normal(0, 0.02, n),
    )
    rows = [{k: float(v[i]) for k, v in cols.items()} for i in range(n)]
    return with_g_loss(rows, l1_weight)


def with_g_loss(rows, l1_weight=100.0):
    for row in rows:
        row["g_loss"] = row["g_gan"] + l1_weight * row["g_l1"]
    return rows


def running_means(rows):
    """Per-batch values -> the running epoch means that fit() logs."""
    out, totals = [], {}
    for i, row in enumerate(rows):
        totals = {k: totals.get(k, 0.0) + v for k, v in row.items()}
        out.append({k: v / (i + 1) for k, v in totals.items()})
    return out


def feed(cb, rows, steps=STEPS, running=True):
    """Drives `cb` as fit() would, `steps` batches per epoch."""
    cb.on_train_begin()
    for epoch, start in enumerate(range(0, len(rows), steps)):
        cb.on_epoch_begin(epoch)
        epoch_rows = rows[start : start + steps]
        logs = running_means(epoch_rows) if running else epoch_rows
        for batch, batch_logs in enumerate(logs):
            cb.on_train_batch_end(batch, dict(batch_logs))
            if cb.model is not None and cb.model.stop_training:
                return
        cb.on_epoch_end(epoch, dict(running_means(epoch_rows)[-1]))
        if cb.model is not None and cb.model.stop_training:
            return


def diagnosed(rows, model="stub", **kwargs):
    """A Diagnostics callback (`kwargs`) after it was fed `rows`."""
    cb = diagnostics(model, **kwargs)
    feed(cb, rows)
    return cb


def per_epoch(levels, **logs):
    """`STEPS` batch logs of each epoch, g_l1 at that epoch's level."""
    return with_g_loss(
        [dict(g_l1=level, **logs) for level in levels for _ in range(STEPS)]
    )


def fired(cb):
    return [(f["row"], f["step"]) for f in cb.findings]


# -- the table -----------------------------------------------------------


def test_table_has_the_spec_rows_and_the_docs_show_it():
    assert list(TROUBLESHOOTING) == [
        "blurry",
        "colour_distortion",
        "mode_collapse",
        "unstable",
        "non_finite",
    ]
    spec = {  # SPEC §8: symptom -> likely cause
        "blurry output": "L1 weight too high",
        "colour distortion": "generator capacity too small",
        "mode collapse": "discriminator too strong",
        "unstable training": "learning rate too high",
    }
    for row in TROUBLESHOOTING.values():
        assert spec.get(row["symptom"], row["cause"]) == row["cause"]
    table = troubleshooting_table()
    assert len(table.splitlines()) == 2 + 5
    with open(os.path.join(DOCS, "training_tips.md")) as f:
        assert table in f.read()


# -- one scripted history per row --------------------------------------------


def test_healthy_history_fires_nothing():
    cb = diagnosed(healthy(200))
    assert cb.findings == []
    assert cb.active == []
    assert len(cb.recent("g_l1")) == WINDOW


def collapse_rows(n, g_gan_start=0.7, g_gan_end=0.95):
    # D separates real from fake almost perfectly; G's GAN loss climbs.
    return with_g_loss(
        [
            dict(g_l1=0.2, g_gan=float(g), d_loss=0.003, d_real=0.95, d_fake=0.05)
            for g in np.linspace(g_gan_start, g_gan_end, n)
        ]
    )


def test_mode_collapse_fires_once_per_episode():
    rows = (
        healthy(40)
        + collapse_rows(40)
        + healthy(40, seed=1, start=80)
        + collapse_rows(40)
    )
    cb = diagnosed(rows)
    # The window mean of d_real passes 0.9 (and d_fake 0.1) with the 9th
    # collapsed batch: (9 × 0.95 + 0.65) / 10 = 0.92. It stays reported
    # for 40 batches, clears in the healthy stretch and fires again.
    assert fired(cb) == [("mode_collapse", 48), ("mode_collapse", 128)]
    first = cb.findings[0]
    assert first["epoch"] == 2 and first["batch"] == 8
    assert first["cause"] == "discriminator too strong"
    assert "d_every=2" in first["remedy"]
    assert first["values"]["d_real"] > 0.9
    assert first["values"]["d_fake"] < 0.1
    assert first["values"]["g_gan_fall"] < 0


def test_mode_collapse_needs_g_gan_not_falling():
    # D wins, but G's GAN loss falls: G is catching up, no finding.
    cb = diagnosed(healthy(40) + collapse_rows(40, g_gan_start=1.0, g_gan_end=0.5))
    assert fired(cb) == []


def test_mode_collapse_from_d_loss_floor_alone():
    # Without d_real / d_fake in the logs the D loss decides.
    rows = [
        {k: v for k, v in r.items() if k not in ("d_real", "d_fake")}
        for r in healthy(40) + collapse_rows(20)
    ]
    cb = diagnosed(rows)
    # Mean d_loss < 0.01 needs all ten window batches collapsed: step 49.
    assert fired(cb) == [("mode_collapse", 49)]
    assert set(cb.findings[0]["values"]) == {"d_loss", "g_gan_fall"}


def test_hinge_outputs_are_mapped_to_zero_one():
    rows = with_g_loss(
        [
            dict(g_l1=0.2, g_gan=0.5, d_loss=0.2, d_real=0.85, d_fake=-0.85)
            for _ in range(20)
        ]
    )
    hinge = diagnosed(rows, stub(gan_loss="hinge"))
    # (0.85 + 1) / 2 = 0.925 > 0.9 and (−0.85 + 1) / 2 = 0.075 < 0.1.
    assert fired(hinge) == [("mode_collapse", WINDOW - 1)]
    lsgan = diagnosed(rows, stub(gan_loss="lsgan"))  # a raw d_real of 0.85 < 0.9
    assert fired(lsgan) == []


def blurry_rows(n):
    # The L1 term is 20, the GAN term 0.1: D is fooled and G ignores it.
    return with_g_loss(
        [
            dict(g_l1=0.2 - 1e-4 * i, g_gan=0.1, d_loss=0.25, d_real=0.52, d_fake=0.48)
            for i in range(n)
        ]
    )


def test_blurry_uses_the_models_current_lambda():
    cb = diagnosed(blurry_rows(40), stub(l1_weight=100.0))
    # Share 100 × 0.2 / (20 + 0.1) = 0.995 > 0.99 from the first full window.
    assert fired(cb) == [("blurry", WINDOW - 1)]
    values = cb.findings[0]["values"]
    assert values["lambda_l1"] == 100.0
    assert values["l1_share"] == pytest.approx(0.995, abs=1e-3)
    assert "LambdaSchedule" in cb.findings[0]["remedy"]

    # The same L1 and GAN numbers after λ was lowered to 10: 2 / 2.1 = 0.95.
    lowered = diagnosed(blurry_rows(40), stub(l1_weight=10.0))
    assert fired(lowered) == []


def test_blurry_from_plain_logs_without_a_model():
    # No l1_weight to read: λ·g_l1 is taken as g_loss − g_gan.
    cb = diagnosed(blurry_rows(40), model=None)
    assert fired(cb) == [("blurry", WINDOW - 1)]
    assert "lambda_l1" not in cb.findings[0]["values"]


def test_colour_distortion_on_a_high_l1_plateau():
    levels = [0.6, 0.5, 0.4, 0.35, 0.35, 0.35, 0.35, 0.35]
    rows = per_epoch(levels, g_gan=1.0, d_loss=0.2, d_real=0.6, d_fake=0.4)
    cb = diagnosed(rows)
    # Epoch 6 is the first whose g_l1 (0.35 > 0.25) is no better than
    # three epochs before; it fires at the epoch's last batch.
    assert fired(cb) == [("colour_distortion", 7 * STEPS - 1)]
    finding = cb.findings[0]
    assert finding["epoch"] == 6
    assert finding["values"]["g_l1"] == pytest.approx(0.35)
    assert finding["values"]["g_l1_gain"] == pytest.approx(0.0, abs=1e-9)
    assert "depth" in finding["remedy"]


def test_colour_distortion_not_when_d_is_winning():
    rows = per_epoch([0.35] * 6, g_gan=1.0, d_loss=0.2, d_real=0.95, d_fake=0.05)
    cb = diagnosed(rows)
    # D wins outright: that is the mode_collapse row, not this one.
    assert [row for row, _ in fired(cb)] == ["mode_collapse"]


@pytest.mark.parametrize("key", ["d_loss", "g_gan"])
def test_unstable_on_a_loss_spike(key):
    rows = healthy(80)
    for step in (30, 35, 55):
        rows[step][key] = 2.0 if key == "d_loss" else 200.0
    rows = with_g_loss(rows)
    cb = diagnosed(rows)
    # 30 fires; 35 is within the 10 batches it stays active; 55 comes
    # after it cleared at step 45 and fires again.
    assert fired(cb) == [("unstable", 30), ("unstable", 55)]
    values = cb.findings[0]["values"]
    assert values["trigger"] == "spike"
    assert values["key"] == ("d_loss" if key == "d_loss" else "g_loss")
    assert values["value"] > 5 * values["median"]
    assert "global_clipnorm" in cb.findings[0]["remedy"]


def test_unstable_on_oscillating_epoch_losses():
    levels = [0.10, 0.15] * 4  # g_loss 10.6, 15.6, 10.6, ...: ±30-47 %
    rows = per_epoch(levels, g_gan=0.6, d_loss=0.2, d_real=0.6, d_fake=0.4)
    cb = diagnosed(rows)
    # Three swings in a row (patience=3) first at the end of epoch 3.
    assert fired(cb) == [("unstable", 4 * STEPS - 1)]
    values = cb.findings[0]["values"]
    assert values["trigger"] == "oscillation"
    assert values["key"] == "g_loss"
    assert values["swings"][0] == pytest.approx(5.0 / 10.6, abs=1e-4)

    calm = diagnosed(rows, oscillation=0.5)  # 47 % swings are now tolerated
    assert fired(calm) == []


@pytest.mark.parametrize(
    "key, value, step, keys",
    [("g_l1", math.nan, 23, {"g_l1", "g_loss"}), ("d_loss", math.inf, 5, {"d_loss"})],
)
def test_non_finite_stops_training_and_names_the_key(key, value, step, keys):
    rows = healthy(60)
    rows[step][key] = value
    rows = with_g_loss(rows)
    cb = diagnosed(rows)
    assert cb.model.stop_training is True
    assert fired(cb) == [("non_finite", step)]
    finding = cb.findings[0]
    assert set(finding["values"]) == keys
    assert finding["epoch"] == step // STEPS
    assert finding["batch"] == step % STEPS
    assert all(name in finding["message"] for name in keys)
    assert f"step {step}" in finding["message"]


def test_non_finite_without_stopping_is_reported_once_per_episode():
    rows = healthy(80)
    rows[23]["g_gan"] = math.nan
    rows[50]["g_gan"] = math.nan
    rows = with_g_loss(rows)
    cb = diagnosed(rows, stop_on_nan=False)
    # The running means stay NaN for the rest of each epoch: one finding
    # each time, cleared by the finite next epoch.
    assert fired(cb) == [("non_finite", 23), ("non_finite", 50)]
    assert cb.model.stop_training is False


# -- mechanics ---------------------------------------------------------------


def test_running_means_are_turned_back_into_batch_values():
    rows = healthy(30)
    cb = diagnosed(rows)
    expected = [r["g_l1"] for r in rows[-WINDOW:]]
    np.testing.assert_allclose(cb.recent("g_l1"), expected, rtol=1e-9)

    per_batch = diagnostics(running_means=False)
    feed(per_batch, rows, running=False)
    np.testing.assert_allclose(per_batch.recent("g_l1"), expected, rtol=1e-9)


def test_steps_per_execution_blocks_give_block_means():
    values = np.arange(1.0, 10.0)  # 9 batches in blocks of 3
    means = np.cumsum(values) / np.arange(1, 10)
    cb = diagnostics(window=4)
    cb.on_epoch_begin(0)
    for batch in (2, 5, 8):
        cb.on_train_batch_end(batch, {"g_l1": means[batch]})
    np.testing.assert_allclose(cb.recent("g_l1"), [2.0, 5.0, 8.0])
    assert cb._step == 9


def test_same_findings_with_per_batch_logs():
    rows = healthy(80)
    rows[30]["d_loss"] = 2.0
    a, b = diagnostics(), diagnostics(running_means=False)
    feed(a, rows)
    feed(b, rows, running=False)
    assert fired(a) == fired(b) == [("unstable", 30)]


def test_verbose_prints_each_finding_once(capsys):
    rows = healthy(40)
    rows[30]["d_loss"] = 2.0
    rows[32]["d_loss"] = 2.0
    diagnosed(rows, verbose=1)
    out = capsys.readouterr().out
    assert out.count("Diagnostics:") == 1
    assert "unstable training at step 30 (epoch 2) [unstable]" in out
    assert "learning rate too high" in out


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"window": 3}, "window"),
        ({"window": 10.0}, "window"),
        ({"patience": 1}, "patience"),
        ({"d_real_high": 1.0}, "d_real_high"),
        ({"d_fake_low": 0.95}, "d_fake_low"),
        ({"d_fake_low": 0}, "d_fake_low"),
        ({"d_loss_floor": -0.1}, "d_loss_floor"),
        ({"l1_share": 1.5}, "l1_share"),
        ({"l1_high": math.nan}, "l1_high"),
        ({"plateau": 1.0}, "plateau"),
        ({"spike_factor": 1.0}, "spike_factor"),
        ({"oscillation": 0.0}, "oscillation"),
        ({"oscillation": "0.2"}, "oscillation"),
        ({"running_means": 1}, "running_means"),
        ({"stop_on_nan": None}, "stop_on_nan"),
        ({"verbose": 2}, "verbose"),
    ],
)
def test_rejects_bad_thresholds(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        Diagnostics(**kwargs)


def test_thresholds_are_configurable():
    rows = healthy(40)
    rows[30]["d_loss"] = 0.9  # 4.5 × the median of about 0.2
    default = diagnosed(rows)
    assert fired(default) == []
    strict = diagnosed(rows, spike_factor=3.0)
    assert fired(strict) == [("unstable", 30)]


# -- in fit() ------------------------------------------------------------------


def test_in_fit_batch_values_average_to_the_epoch_logs():
    model = tiny_pix2pix()
    model.compile()
    x, y = tiny_arrays(n=8)
    cb = Diagnostics(window=4, verbose=0)
    history = model.fit(
        x, y, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[cb]
    )
    for key in ("g_l1", "g_gan", "d_loss", "d_real"):
        assert len(cb.recent(key)) == 4
        np.testing.assert_allclose(
            cb.recent(key).mean(), history.history[key][0], rtol=1e-5
        )
    assert cb._step == 4


def test_in_fit_nan_targets_stop_training(capsys):
    model = tiny_pix2pix()
    model.compile(on_nonfinite=None)  # the model's own guard would raise
    x, y = tiny_arrays(n=8)
    y[4:6] = np.nan  # the third batch of two
    cb = Diagnostics(window=4)
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    assert model.stop_training is True
    assert int(model.g_optimizer.iterations) == 3  # stopped after batch 2
    assert fired(cb) == [("non_finite", 2)]
    keys = set(cb.findings[0]["values"])
    assert {"g_l1", "g_loss", "d_loss", "d_real"} <= keys
    assert "g_l1=nan" in capsys.readouterr().out
