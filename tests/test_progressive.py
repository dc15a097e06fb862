"""Tests of progressive growing: networks, grow(), FadeIn, stabilize(),
train_progressive(), saving and the docs page (16 → 32 → 64 pixels)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from tests._helpers import run_page
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset

FILTERS = 8
MIN_FILTERS = 2
# Stage widths: max(8 // 2**(s + 1), 2) = 4, 2, 2.
W = [4, 2, 2]


def progressive_pix2pix(size=16, stage=0, alpha=None):
    return pk.Pix2Pix(
        generator=pk.ProgressiveUNetGenerator(
            image_size=size,
            stage=stage,
            alpha=alpha,
            filters=FILTERS,
            max_filters=4 * FILTERS,
            min_filters=MIN_FILTERS,
        ),
        discriminator=pk.ProgressivePatchDiscriminator(
            image_size=size,
            stage=stage,
            alpha=alpha,
            n_layers=2,
            filters=FILTERS,
            max_filters=4 * FILTERS,
            min_filters=MIN_FILTERS,
        ),
    )


def compiled(model):
    # The XLA optimizer update (jit_optimizer="auto") takes longer to
    # compile than these tiny models take to train.
    model.compile(jit_optimizer=False)
    return model


def layer_weights(network):
    return {
        layer.name: layer.get_weights() for layer in network.layers if layer.weights
    }


def downsample(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def upsample(x):
    return np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)


def np_(x):
    return keras.ops.convert_to_numpy(x)


def scramble(network, seed, skip=()):
    """Random weights of order 1 (the N(0, 0.02) init gives outputs near 0,
    which would make any closed-form check trivially pass)."""
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if layer.name in skip or isinstance(layer, pk.models.Fade):
            continue
        for w in layer.weights:
            if "moving_variance" in w.path:
                value = rng.uniform(0.5, 2.0, w.shape)
            else:
                value = rng.normal(0.0, 0.5, w.shape)
            w.assign(value.astype(w.dtype))


# --------------------------------------------------------------------------
# (a) grow() keeps every weight and adds exactly the new layers


def _g_new_params(w_out, w_in, in_ch=3, out_ch=3):
    """Params of a generator stage at width `w_out` around one of `w_in`."""
    return (
        (in_ch * w_out + w_out)  # from_rgb: 1x1 conv + bias
        + (16 * w_out * w_in + 4 * w_in)  # grow_down: 4x4 conv, BN
        + (16 * 2 * w_in * w_out + 4 * w_out)  # grow_up on [x, skip], BN
        + (w_out * out_ch + out_ch)  # to_rgb
    )


def _d_new_params(v_out, v_in, channels=6):
    return (channels * v_out + v_out) + (16 * v_out * v_in + 4 * v_in)


def test_grow_copies_every_weight_and_adds_the_new_layers():
    model = compiled(progressive_pix2pix())
    grown = pk.grow(model)

    g, d = grown.generator, grown.discriminator
    assert (g.image_size, g.stage, g.alpha) == ((32, 32), 1, 0.0)
    assert (d.image_size, d.stage, d.alpha) == ((32, 32), 1, 0.0)
    for old, new in ((model.generator, g), (model.discriminator, d)):
        before, after = layer_weights(old), layer_weights(new)
        assert set(before) <= set(after)
        for name, values in before.items():
            assert len(values) == len(after[name]), name
            for a, b in zip(values, after[name]):
                assert np.array_equal(a, b), name

    new_g = {l.name for l in g.layers} - {l.name for l in model.generator.layers}
    assert new_g == {
        "generator_from_rgb1",
        "generator_from_rgb1_act",
        "generator_grow1_down_conv",
        "generator_grow1_down_norm",
        "generator_grow1_down_act",
        "generator_grow1_skip",
        "generator_grow1_up_conv",
        "generator_grow1_up_norm",
        "generator_grow1_up_act",
        "generator_to_rgb1",
        "generator_fade1",
        "generator_fade1_down",
        "generator_fade1_up",
    }
    shapes = {
        name: tuple(g.get_layer(name).weights[0].shape)
        for name in (
            "generator_from_rgb1",
            "generator_grow1_down_conv",
            "generator_grow1_up_conv",
            "generator_to_rgb1",
        )
    }
    assert shapes == {
        "generator_from_rgb1": (1, 1, 3, W[1]),
        "generator_grow1_down_conv": (4, 4, W[1], W[0]),
        # Conv2DTranspose kernels are (h, w, out, in); in = up + skip.
        "generator_grow1_up_conv": (4, 4, W[1], 2 * W[0]),
        "generator_to_rgb1": (1, 1, W[1], 3),
    }
    new_d = {l.name for l in d.layers} - {l.name for l in model.discriminator.layers}
    assert new_d == {
        "discriminator_from_rgb1",
        "discriminator_from_rgb1_act",
        "discriminator_grow1_conv",
        "discriminator_grow1_norm",
        "discriminator_grow1_act",
        "discriminator_fade1",
        "discriminator_fade1_down",
    }
    assert tuple(d.get_layer("discriminator_grow1_conv").kernel.shape) == (
        4,
        4,
        W[1],
        W[0],
    )

    # The alpha weight of each Fade layer counts as one parameter.
    g_added = _g_new_params(W[1], W[0]) + 1
    d_added = _d_new_params(W[1], W[0]) + 1
    assert (g_added, d_added) == (426, 159)
    assert g.count_params() - model.generator.count_params() == g_added
    assert d.count_params() - model.discriminator.count_params() == d_added

    # Logit grid and trainability: same grid, twice the patch in pixels.
    x = np.zeros((1, 32, 32, 3), "float32")
    assert tuple(d([x, x]).shape) == (1, 2, 2, 1)
    # Feature matching: from_rgb1, the blended grow1 features, the three
    # PatchGAN LeakyReLUs, then the logits.
    assert [tuple(f.shape[1:]) for f in d.features([x, x])[0]] == [
        (32, 32, W[1]),
        (16, 16, W[0]),
        (8, 8, 8),
        (4, 4, 16),
        (3, 3, 32),
        (2, 2, 1),
    ]
    assert (model.discriminator.receptive_field, d.receptive_field) == (34, 70)
    assert not g.get_layer("generator_fade1").trainable_weights
    # Fresh optimizers of the same configuration; every setting carried.
    assert grown.g_optimizer is not model.g_optimizer
    assert int(grown.g_optimizer.iterations) == 0
    for key in ("g_optimizer", "d_optimizer"):
        assert getattr(grown, key).get_config() == getattr(model, key).get_config()

    def settings(m):
        return {
            k: v
            for k, v in m.get_compile_config().items()
            if k not in ("g_optimizer", "d_optimizer")
        }

    assert settings(model)["jit_optimizer"] is False
    assert settings(grown) == settings(model)


def test_growing_a_faded_model_drops_only_the_old_fade_branch():
    model = progressive_pix2pix(size=32, stage=1, alpha=1.0)
    grown = pk.grow(model)  # not compiled: grows all the same
    assert grown.g_optimizer is None
    assert grown.generator.image_size == (64, 64)

    for old, new, dropped, removed, added in (
        (
            model.generator,
            grown.generator,
            {"generator_from_rgb0", "generator_to_rgb0", "generator_fade1"},
            (3 * W[0] + W[0]) + (W[0] * 3 + 3) + 1,
            _g_new_params(W[2], W[1]) + 1,
        ),
        (
            model.discriminator,
            grown.discriminator,
            {"discriminator_from_rgb0", "discriminator_fade1"},
            (6 * W[0] + W[0]) + 1,
            _d_new_params(W[2], W[1]) + 1,
        ),
    ):
        before, after = layer_weights(old), layer_weights(new)
        assert set(before) - set(after) == dropped
        for name in set(before) - dropped:
            for a, b in zip(before[name], after[name]):
                assert np.array_equal(a, b), name
        assert sum(w.size for name in dropped for w in before[name]) == removed
        assert new.count_params() - old.count_params() == added - removed


# --------------------------------------------------------------------------
# (b) the fade-in in closed form


def test_fade_in_is_the_old_model_at_alpha_0_and_the_new_one_at_1():
    model = progressive_pix2pix()
    for i, net in enumerate((model.generator, model.discriminator)):
        scramble(net, i)
    grown = pk.grow(model)
    for i, (old, new) in enumerate(
        ((model.generator, grown.generator), (model.discriminator, grown.discriminator))
    ):
        scramble(new, 10 + i, skip={l.name for l in old.layers})
    x, y = tiny_arrays(2, size=32, seed=1)
    old_g = np_(model.generator(downsample(x), training=False))
    old_d = np_(model.discriminator([downsample(x), downsample(y)], training=False))

    g0 = np_(grown.generator(x, training=False))
    d0 = np_(grown.discriminator([x, y], training=False))
    assert np.std(old_g) > 0.1 and np.std(old_d) > 0.1  # not trivial
    assert np.max(np.abs(g0 - upsample(old_g))) < 1e-6
    assert np.max(np.abs(d0 - old_d)) < 1e-6

    pk.set_alpha(grown, 1.0)
    new = pk.stabilize(grown)  # the new path alone, same weights
    assert new.generator.alpha is None and new.discriminator.alpha is None
    g1 = np_(grown.generator(x, training=False))
    d1 = np_(grown.discriminator([x, y], training=False))
    np.testing.assert_array_equal(g1, np_(new.generator(x, training=False)))
    np.testing.assert_array_equal(d1, np_(new.discriminator([x, y], training=False)))
    assert np.max(np.abs(g1 - g0)) > 0.1  # the paths do differ

    # In between, each of the two blends is linear in alpha (the inner
    # network then sees blended features, so the output as a whole is not).
    g = grown.generator
    probe = keras.Model(
        g.input,
        [
            g.get_layer("generator_grow1_down_act").output,
            g.get_layer("generator_from_rgb0_act").output,
            g.get_layer("generator_down0_conv").input,  # the blended features
            g.get_layer("generator_to_rgb1").output,
            g.get_layer("generator_fade1_up").output,
            g.output,
        ],
    )
    grown.generator.alpha = 0.25  # the networks' own setters
    grown.discriminator.alpha = 0.25
    new_in, old_in, mixed_in, new_out, old_out, out = (
        np_(t) for t in probe(x, training=False)
    )
    np.testing.assert_allclose(mixed_in, 0.25 * new_in + 0.75 * old_in, atol=1e-6)
    np.testing.assert_allclose(out, 0.25 * new_out + 0.75 * old_out, atol=1e-6)
    assert pk.get_alpha(grown) == grown.discriminator.alpha == 0.25


# --------------------------------------------------------------------------
# (c) FadeIn


def test_fade_in_callback_moves_alpha_linearly_per_step():
    grown = compiled(pk.grow(progressive_pix2pix()))
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(
            (grown.generator.alpha, grown.discriminator.alpha)
        )
    )
    history = grown.fit(
        tiny_dataset(n=12, size=32, batch_size=2),
        epochs=1,
        callbacks=[pk.FadeIn(fade_steps=4), record],
        verbose=0,
    )
    assert seen == [(a, a) for a in (0.0, 0.25, 0.5, 0.75, 1.0, 1.0)]
    assert history.history["alpha"] == [1.0]
    assert int(grown.g_optimizer.iterations) == 6

    # stabilize() drops the faded-out branch and keeps the Adam state of
    # every other variable (iterations, moments), matched by path.
    stable = pk.stabilize(grown)
    x, y = tiny_arrays(2, size=32, seed=5)
    np.testing.assert_array_equal(np_(stable(x)), np_(grown(x)))
    for key, dropped in (("g_optimizer", 4), ("d_optimizer", 2)):
        old = {v.path: np_(v) for v in getattr(grown, key).variables}
        new = {v.path: np_(v) for v in getattr(stable, key).variables}
        assert len(old) - len(new) == 2 * dropped  # momentum + velocity
        assert set(new) < set(old)
        for path, value in new.items():
            assert np.array_equal(value, old[path]), path
        moments = [v for p, v in new.items() if p.endswith("_momentum")]
        assert all(np.any(v != 0) for v in moments)
    assert int(stable.g_optimizer.iterations) == 6
    assert [pk.FadeIn(3).alpha(t) for t in (0, 1, 3, 7)] == [
        0.0,
        pytest.approx(1 / 3),
        1.0,
        1.0,
    ]


# --------------------------------------------------------------------------
# (d) train_progressive


def test_train_progressive_three_stages():
    model = compiled(progressive_pix2pix())
    datasets = {
        s: tiny_dataset(n=8, size=s, batch_size=2) for s in (16, 32, 64)
    }  # 4 steps per epoch
    sizes = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: sizes.append(
            (epoch, record.model.generator.image_size[0])
        )
    )
    final, stages = pk.train_progressive(
        model,
        datasets,
        epochs=[2, 1, 2],
        fade_steps=[3, 6],
        callbacks=[record],
        verbose=0,
    )
    assert [s["image_size"] for s in stages] == [(16, 16), (32, 32), (64, 64)]
    assert [(s["g_steps"], s["d_steps"]) for s in stages] == [(8, 8), (4, 4), (8, 8)]
    assert [s["fade_steps"] for s in stages] == [0, 3, 6]
    assert "alpha" not in stages[0]["history"]
    assert stages[1]["history"]["alpha"] == [1.0]
    assert stages[2]["history"]["alpha"] == [pytest.approx(4 / 6), 1.0]
    assert [len(s["history"]["g_loss"]) for s in stages] == [2, 1, 2]
    # One epoch numbering across stages.
    assert sizes == [(0, 16), (1, 16), (2, 32), (3, 64), (4, 64)]

    assert (
        final.generator.image_size
        == (64, 64)
        == (4 * model.generator.image_size[0],) * 2
    )
    assert final.generator.stage == final.discriminator.stage == 2
    assert pk.get_alpha(final) is None  # stabilized
    # stabilize() kept the last stage's optimizer state.
    assert int(final.g_optimizer.iterations) == 8
    x, _ = tiny_arrays(2, size=64)
    out = np_(final(x))
    assert out.shape == (2, 64, 64, 3) and np.abs(out).max() <= 1.0


# --------------------------------------------------------------------------
# (e) save / load / export in the middle of a fade-in


def test_save_load_and_export_mid_fade(tmp_path):
    grown = compiled(pk.grow(progressive_pix2pix()))
    # As after 2 of 4 FadeIn steps (the fit itself is tested above).
    grown.g_optimizer.iterations.assign(2)
    pk.set_alpha(grown, 0.5)
    path = str(tmp_path / "mid_fade.keras")
    grown.save(path)

    loaded = pk.Pix2Pix.load(path)
    g, d = loaded.generator, loaded.discriminator
    assert isinstance(g, pk.ProgressiveUNetGenerator)
    assert isinstance(d, pk.ProgressivePatchDiscriminator)
    assert (g.alpha, d.alpha) == (0.5, 0.5)
    config = g.get_config()
    assert (tuple(config["image_size"]), config["stage"], config["alpha"]) == (
        (32, 32),
        1,
        0.5,
    )
    assert d.get_config()["alpha"] == 0.5
    assert int(loaded.g_optimizer.iterations) == 2

    x, y = tiny_arrays(2, size=32, seed=3)
    want = np_(grown(x))
    np.testing.assert_allclose(np_(loaded(x)), want, atol=1e-6)
    np.testing.assert_allclose(
        np_(d([x, y])), np_(grown.discriminator([x, y])), atol=1e-6
    )
    # FadeIn resumes from the saved optimizer step: 2 of 4 steps.
    fade = pk.FadeIn(fade_steps=4)
    fade.set_model(loaded)
    assert fade._update() == 0.5

    directory = loaded.export(str(tmp_path / "served"))
    served = tf.saved_model.load(directory)
    np.testing.assert_allclose(np_(served.serve(tf.constant(x))), want, atol=1e-5)


# --------------------------------------------------------------------------
# (f) bad arguments


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*stage = 4"):
        pk.ProgressiveUNetGenerator(image_size=18, stage=2)
    with pytest.raises(ValueError, match="None at stage 0"):
        pk.ProgressivePatchDiscriminator(image_size=16, alpha=0.5)
    with pytest.raises(ValueError, match="alpha"):
        pk.ProgressiveUNetGenerator(image_size=32, stage=1, alpha=1.5)
    with pytest.raises(ValueError, match="fade_steps"):
        pk.FadeIn(0)

    model = compiled(progressive_pix2pix())
    ds = {s: tiny_dataset(n=4, size=s) for s in (8, 16, 32, 48, 64)}
    for sizes, match in (
        ((16, 48), "twice the one before"),  # x3: not a doubling
        ((16, 64), "twice the one before"),  # x4: skips a stage
        ((16, 8), "twice the one before"),  # not increasing
        ((32, 64), "first size .* model's size"),
    ):
        with pytest.raises(ValueError, match=match):
            pk.train_progressive(
                model, {s: ds[s] for s in sizes}, epochs=1, fade_steps=1
            )
    with pytest.raises(ValueError, match="yields \\(16, 16\\) images"):
        pk.train_progressive(model, {16: ds[16], 32: ds[16]}, epochs=1, fade_steps=1)
    with pytest.raises(ValueError, match="longer than the stage"):
        pk.train_progressive(  # 2 batches x 2 epochs < 5 steps
            model, {16: ds[16], 32: ds[32]}, epochs=2, fade_steps=5
        )
    with pytest.raises(ValueError, match="list of 2 ints"):
        pk.train_progressive(
            model, {16: ds[16], 32: ds[32]}, epochs=[1, 1, 1], fade_steps=1
        )
    with pytest.raises(ValueError, match="needs a compiled model"):
        pk.train_progressive(
            progressive_pix2pix(), {16: ds[16]}, epochs=1, fade_steps=1
        )

    fading = progressive_pix2pix(size=32, stage=1, alpha=0.5)
    with pytest.raises(ValueError, match="still fading in stage 1"):
        pk.grow(fading)
    with pytest.raises(ValueError, match="not finished"):
        pk.stabilize(fading)
    plain = pk.Pix2Pix(
        generator=pk.UNetGenerator(image_size=16, filters=8),
        discriminator=pk.PatchDiscriminator(image_size=16, filters=8, n_layers=1),
    )
    with pytest.raises(ValueError, match="ProgressiveUNetGenerator"):
        pk.grow(plain)
    with pytest.raises(ValueError, match="no Fade layer"):
        pk.set_alpha(model, 0.5)
    model_x, model_y = tiny_arrays(2, size=16)
    with pytest.raises(ValueError, match="fading in a new stage"):
        model.fit(model_x, model_y, epochs=1, verbose=0, callbacks=[pk.FadeIn(2)])


def test_config_round_trip_at_every_stage():
    for stage, alpha in ((0, None), (1, 0.25), (2, None)):
        size = 16 * 2**stage
        model = progressive_pix2pix(size=size, stage=stage, alpha=alpha)
        for net in (model.generator, model.discriminator):
            config = net.get_config()
            clone = type(net).from_config(config)
            assert clone.get_config() == config
            assert clone.count_params() == net.count_params()
        with pytest.raises(ValueError, match="Unknown key"):
            type(model.generator).from_config(
                {**model.generator.get_config(), "stages": 1}
            )


# --------------------------------------------------------------------------
# docs/progressive.md


def test_docs_page_runs(tmp_path, monkeypatch):
    blocks, ns = run_page("progressive.md", tmp_path, monkeypatch)
    assert len(blocks) == 2
    assert [s["image_size"] for s in ns["stages"]] == [(16, 16), (32, 32), (64, 64)]
    assert [s["g_steps"] for s in ns["stages"]] == [12, 12, 12]
    assert ns["stages"][2]["history"]["alpha"] == [pytest.approx(2 / 3), 1.0]
    assert ns["model"].generator.image_size == (64, 64)
    assert ns["gap"] < 1e-6
    assert ns["restored"].generator.alpha == 0.5
    assert ns["restored"].discriminator.alpha == 0.5
    assert (tmp_path / "progressive_64.keras").is_file()
    assert (tmp_path / "mid_fade.keras").is_file()
