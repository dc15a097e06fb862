"""The generators' noise input (`latent_dim`, `latent_injection`)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset


def tiny_unet(**kw):
    return pk.UNetGenerator(image_size=32, filters=8, max_filters=32, **kw)


def tiny_resnet(**kw):
    # Batch norm: instance norm would erase the spatially constant z (see
    # test_resnet_refuses_instance_norm_with_noise).
    return pk.ResnetGenerator(image_size=32, filters=8, n_blocks=2, norm="batch", **kw)


def tiny_noisy_pix2pix(**kw):
    return pk.Pix2Pix(
        generator=tiny_unet(latent_dim=8, **kw),
        discriminator=pk.PatchDiscriminator(
            image_size=32, filters=8, max_filters=32, n_layers=2
        ),
        image_size=32,
    )


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _rel_diff(a, b):
    """mean |a - b| relative to mean |a|: untrained networks with batch norm
    at inference (moving statistics 0 and 1) or no norm output values of
    1e-5 to 1e-1, so absolute thresholds would mean little."""
    return float(np.abs(a - b).mean() / np.abs(a).mean())


def _codes(n, latent_dim, seed):
    return np.random.default_rng(seed).normal(size=(n, latent_dim)).astype("float32")


# The switch ------------------------------------------------------------


@pytest.mark.parametrize("make", [tiny_unet, tiny_resnet])
def test_latent_dim_zero_is_the_classic_network(make):
    classic = make()
    off = make(latent_dim=0, latent_injection="all")
    assert off.count_params() == classic.count_params()
    assert [l.name for l in off.layers] == [l.name for l in classic.layers]
    assert len(off.inputs) == 1 and off.latent_noise is None
    # Hard-coded, so a change to the classic graph shows up here too.
    assert (
        classic.count_params()
        == {"generator": 114_467, "resnet_generator": 51_571}[classic.name]
    )


@pytest.mark.parametrize("injection", ["input", "all"])
def test_parameters_added_by_the_noise_input(injection):
    # z adds latent_dim input channels to the first down conv ("input") or
    # to every down conv ("all"): 4×4 kernels without bias (batch norm
    # follows, or the first block, which has none: bias-free by default).
    g = tiny_unet(latent_dim=8, latent_injection=injection)
    extra = g.count_params() - tiny_unet().count_params()
    filters = [8, 16, 32, 32, 32]  # depth 5 at 32×32, capped at 32
    expected = 4 * 4 * 8 * (filters[0] if injection == "input" else sum(filters))
    assert extra == expected == {"input": 1_024, "all": 15_360}[injection]
    latent_layers = [l.name for l in g.layers if "latent" in l.name]
    if injection == "input":
        assert latent_layers == ["latent", "generator_latent0"]
    else:
        assert latent_layers == ["latent"] + [f"generator_latent{i}" for i in range(5)]
    assert [t.name for t in g.inputs] == ["image", "latent"]
    assert tuple(g.inputs[1].shape) == (None, 8)


def test_resnet_noise_input_parameters():
    # z adds 4 input channels to the c7s1-8 conv (7×7) and, with "all",
    # to the 3×3 stride-2 convs d16 and d32 (all bias-free before batch
    # norm).
    for injection, expected in (
        ("input", 49 * 4 * 8),
        ("all", 49 * 4 * 8 + 9 * 4 * (16 + 32)),
    ):
        g = tiny_resnet(latent_dim=4, latent_injection=injection)
        extra = g.count_params() - tiny_resnet().count_params()
        assert extra == expected


def test_resnet_refuses_instance_norm_with_noise():
    with pytest.raises(ValueError, match="instance norm removes"):
        pk.ResnetGenerator(image_size=32, filters=8, n_blocks=1, latent_dim=4)
    # Without it z counts (with instance norm it changed the output by
    # 1e-5 of its size: float rounding and the zero-padded borders).
    g = pk.ResnetGenerator(
        image_size=32, filters=8, n_blocks=1, norm="none", latent_dim=4
    )
    x, _ = tiny_arrays(n=2, size=32)
    a, b = _np(g([x, _codes(2, 4, 1)])), _np(g([x, _codes(2, 4, 2)]))
    assert _rel_diff(a, b) > 0.01


# Calling with and without z --------------------------------------------


@pytest.mark.parametrize("make", [tiny_unet, tiny_resnet])
@pytest.mark.parametrize("injection", ["input", "all"])
def test_same_code_same_output_other_code_other_output(make, injection):
    g = make(latent_dim=8, latent_injection=injection)
    x, _ = tiny_arrays(n=2, size=32)
    z1, z2 = _codes(2, 8, 1), _codes(2, 8, 2)
    a = _np(g([x, z1]))
    assert a.shape == (2, 32, 32, 3) and np.abs(a).max() <= 1.0
    np.testing.assert_array_equal(_np(g([x, z1])), a)
    np.testing.assert_array_equal(_np(g.translate(x, z1)), a)
    np.testing.assert_array_equal(_np(g({"image": x, "latent": z1})), a)
    # An array image with a tensor code (Keras alone refuses the mix).
    np.testing.assert_array_equal(_np(g([x, keras.ops.convert_to_tensor(z1)])), a)
    assert _rel_diff(a, _np(g([x, z2]))) > 0.01
    # Without z: a new N(0, I) code per call.
    b, c = _np(g(x)), _np(g(x))
    assert b.shape == (2, 32, 32, 3) and _rel_diff(b, c) > 0.01
    assert _rel_diff(b, _np(g([x, None]))) > 0.01
    z = _np(g.sample_latent(1000))
    assert z.shape == (1000, 8)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05


def test_symbolic_call_puts_the_sampler_in_the_outer_graph():
    g = tiny_unet(latent_dim=4)
    image = keras.Input((32, 32, 3))
    outer = keras.Model(image, g(image))
    assert any(isinstance(l, pk.LatentNoise) for l in outer.layers)
    x, _ = tiny_arrays(n=2, size=32)
    assert _np(outer(x)).shape == (2, 32, 32, 3)
    code = keras.Input((4,))
    explicit = keras.Model([image, code], g([image, code]))
    z = _codes(2, 4, 0)
    np.testing.assert_allclose(_np(explicit([x, z])), _np(g([x, z])), atol=1e-6)


def test_bad_arguments():
    for kw, arg in (
        (dict(latent_dim=-1), "latent_dim"),
        (dict(latent_dim=2.0), "latent_dim"),
        (dict(latent_dim=True), "latent_dim"),
        (dict(latent_dim=4, latent_injection="middle"), "latent_injection"),
    ):
        with pytest.raises(ValueError, match=f"`{arg}`"):
            tiny_unet(**kw)
        with pytest.raises(ValueError, match=f"`{arg}`"):
            tiny_resnet(**kw)
    x, _ = tiny_arrays(n=1, size=32)
    with pytest.raises(ValueError, match="latent_dim=0"):
        tiny_unet().translate(x, _codes(1, 4, 0))
    with pytest.raises(ValueError, match="latent_dim=0"):
        tiny_unet().sample_latent(2)
    with pytest.raises(ValueError, match="incompatible"):
        tiny_unet(latent_dim=4)([x, _codes(1, 3, 0)])


# Config, training, saving, export --------------------------------------


@pytest.mark.parametrize("make", [tiny_unet, tiny_resnet])
def test_config_round_trip(make):
    g = make(latent_dim=6, latent_injection="all")
    config = g.get_config()
    assert config["latent_dim"] == 6 and config["latent_injection"] == "all"
    g2 = type(g).from_config(json.loads(json.dumps(config)))
    assert json.dumps(g2.get_config()) == json.dumps(config)
    g2.set_weights(g.get_weights())
    x, _ = tiny_arrays(n=2, size=32)
    z = _codes(2, 6, 3)
    np.testing.assert_array_equal(_np(g2([x, z])), _np(g([x, z])))
    # A config from before the option rebuilds the classic network.
    old = {k: v for k, v in make().get_config().items() if not k.startswith("latent")}
    assert type(g).from_config(old).latent_dim == 0


def test_fit_save_load_and_diversity_after_training(tmp_path):
    model = tiny_noisy_pix2pix()
    model.compile()
    g = model.generator
    before = [w.copy() for w in g.get_weights()]
    history = model.fit(tiny_dataset(n=16), epochs=1, verbose=0)
    assert int(model.g_optimizer.iterations) == 8
    assert np.isfinite(history.history["g_loss"]).all()
    assert all(
        not np.array_equal(a, b) for a, b in zip(before, g.get_weights()) if a.size > 1
    )

    x, _ = tiny_arrays(n=4, size=32, seed=5)
    z1, z2 = _codes(4, 8, 1), _codes(4, 8, 2)
    y1 = _np(g([x, z1]))
    np.testing.assert_array_equal(_np(g([x, z1])), y1)
    # Different codes still give measurably different images after
    # training: more than 0.002 mean |difference| on [-1, 1], a quarter of
    # an 8-bit level (2/255), so the saved images differ, while equal codes
    # differ by exactly 0. (The L1 loss pushes G to ignore z, the paper's
    # observation, but 8 steps leave the z weights far from 0: measured
    # 0.010-0.016 for seeds 0-2, as large as the outputs themselves.)
    assert np.abs(_np(g([x, z2])) - y1).mean() > 2e-3
    p1, p2 = model.predict(x, verbose=0), model.predict(x, verbose=0)
    assert np.abs(p1 - p2).mean() > 2e-3  # predict() samples z

    path = tmp_path / "noisy.keras"
    model.save(path)
    restored = pk.Pix2Pix.load(path)
    g2 = restored.generator
    assert isinstance(g2, pk.UNetGenerator) and g2.latent_dim == 8
    np.testing.assert_array_equal(_np(g2([x, z1])), y1)
    assert int(restored.g_optimizer.iterations) == 8


def test_export_samples_z_and_takes_it_explicitly(tmp_path):
    model = tiny_noisy_pix2pix(latent_injection="all")
    g = model.generator
    path = model.export(tmp_path / "exported")
    served = tf.saved_model.load(path)
    assert sorted(served.signatures) == ["serve", "serve_latent", "serving_default"]
    x, _ = tiny_arrays(n=2, size=32)
    a, b = _np(served.serve(x)), _np(served.serve(x))
    assert a.shape == (2, 32, 32, 3) and _rel_diff(a, b) > 0.01
    z = _codes(2, 8, 7)
    c = _np(served.serve_latent(x, z))
    np.testing.assert_array_equal(_np(served.serve_latent(x, z)), c)
    np.testing.assert_allclose(c, _np(g([x, z])), atol=1e-5)
    # The default signature samples (it takes the image only) and accepts
    # other sizes that the network takes (multiples of 2**depth).
    default = served.signatures["serving_default"]
    assert sorted(default.structured_input_signature[1]) == ["image"]
    big = np.zeros((1, 64, 96, 3), "float32")
    assert _np(served.serve(big)).shape == (1, 64, 96, 3)
    # The generator alone exports the same way.
    resnet = tiny_resnet(latent_dim=2)
    resnet.export(tmp_path / "resnet", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "resnet"))
    z = _codes(2, 2, 0)
    np.testing.assert_allclose(
        _np(served.serve_latent(x, z)), _np(resnet([x, z])), atol=1e-5
    )
