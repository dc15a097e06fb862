import json
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from pix2pix_keras.augment import Augment
from pix2pix_keras.augment import _smooth
from pix2pix_keras.augment import color_jitter
from pix2pix_keras.augment import displacement_field
from pix2pix_keras.augment import elastic_deform
from pix2pix_keras.augment import gaussian_kernel
from pix2pix_keras.augment import warp

SEED = tf.constant([7, 11], tf.int64)


def seed(i):
    return tf.constant([i, 2 * i + 1], tf.int64)


def rand(shape, seed=0, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, shape).astype("float32")


def smooth_image(h=48, w=48, c=3):
    y, x = np.mgrid[0:h, 0:w].astype("float32")
    chans = [np.sin(x / 3.0 + k) * np.cos(y / 4.0 - k) for k in range(c)]
    return np.stack(chans, axis=-1).astype("float32")


# --- Gaussian kernel and smoothing -------------------------------------------


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5, 4.0, 10.0])
def test_gaussian_kernel_sums_to_one_and_matches_formula(sigma):
    k = gaussian_kernel(sigma).numpy()
    r = math.ceil(3 * sigma)
    assert k.shape == (2 * r + 1,)
    assert abs(k.sum() - 1.0) < 1e-6
    x = np.arange(-r, r + 1)
    expected = np.exp(-0.5 * (x / sigma) ** 2)
    np.testing.assert_allclose(k, expected / expected.sum(), rtol=1e-5)
    np.testing.assert_array_equal(k, k[::-1])
    assert gaussian_kernel(sigma, radius=2).shape == (5,)
    assert abs(float(tf.reduce_sum(gaussian_kernel(sigma, 2))) - 1) < 1e-6


def test_gaussian_kernel_sigma_zero_and_errors():
    np.testing.assert_array_equal(gaussian_kernel(0.0).numpy(), [1.0])
    with pytest.raises(ValueError, match=r"sigma=-1\.0"):
        gaussian_kernel(-1.0)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 2.5])
def test_smoothing_equals_scipy_gaussian_filter_mirror(sigma):
    field = rand((40, 52, 2), seed=1)
    ours = _smooth(tf.constant(field), sigma).numpy()
    ref = np.stack(
        [
            ndimage.gaussian_filter(field[..., i], sigma, mode="mirror", truncate=3.0)
            for i in range(2)
        ],
        axis=-1,
    )
    np.testing.assert_allclose(ours, ref, atol=2e-6)


def test_sigma_larger_than_the_image_is_truncated_not_an_error():
    field = rand((6, 9, 2), seed=2)
    out = _smooth(tf.constant(field), 50.0).numpy()
    assert out.shape == (6, 9, 2)
    # Almost a box filter over the whole image: nearly constant.
    assert out.std(axis=(0, 1)).max() < 0.2 * field.std(axis=(0, 1)).min()
    # And a field of that size can be drawn and applied.
    img = rand((6, 9, 1), seed=3)
    assert elastic_deform(tf.constant(img), SEED, 30.0, 50.0).shape == (6, 9, 1)
    # One-pixel images too.
    one = elastic_deform(tf.ones((1, 1, 3)), SEED, 30.0, 4.0)
    np.testing.assert_array_equal(one.numpy(), np.ones((1, 1, 3)))


# --- Sampling ----------------------------------------------------------------


def test_bilinear_half_pixel_shift_of_a_ramp_is_exact():
    h, w = 8, 16
    ramp = np.tile(np.arange(w, dtype="float32"), (h, 1))[..., None]
    ramp = np.concatenate([ramp, 10 * ramp], axis=-1)  # 2 channels
    shift = np.zeros((h, w, 2), "float32")
    shift[..., 1] = 0.5  # dx
    out = warp(ramp, shift).numpy()
    np.testing.assert_array_equal(out[:, :-1], ramp[:, :-1] + [0.5, 5.0])
    # Past the last column the coordinate w - 0.5 mirrors to w - 1.5.
    np.testing.assert_array_equal(out[:, -1], np.full((h, 2), [14.5, 145.0]))
    # Rows: dy = -0.25 on a vertical ramp (first row mirrors -0.25 -> 0.25).
    vramp = np.tile(np.arange(h, dtype="float32")[:, None, None], (1, w, 1))
    shift = np.zeros((h, w, 2), "float32")
    shift[..., 0] = -0.25
    out = warp(vramp, shift).numpy()[..., 0]
    np.testing.assert_array_equal(out[1:], vramp[1:, :, 0] - 0.25)
    np.testing.assert_array_equal(out[0], np.full(w, 0.25))


def test_nearest_shift_rounds_to_the_closest_pixel():
    ramp = np.tile(np.arange(16, dtype="float32"), (4, 1))[..., None]
    shift = np.zeros((4, 16, 2), "float32")
    shift[..., 1] = 0.6
    out = warp(ramp, shift, "nearest").numpy()[..., 0]
    np.testing.assert_array_equal(out[:, :-1], ramp[:, 1:, 0])
    np.testing.assert_array_equal(out[:, -1], np.full(4, 14.0))  # 15.6 -> 14.4
    shift[..., 1] = -0.4
    out = warp(ramp, shift, "nearest").numpy()
    np.testing.assert_array_equal(out, ramp)


def test_bilinear_warp_equals_scipy_map_coordinates_mirror():
    h, w = 24, 30
    image = rand((h, w, 2), seed=4)
    # Large displacements: many coordinates fall outside the image.
    disp = rand((h, w, 2), seed=5, low=-6.0, high=6.0)
    ours = warp(image, disp).numpy()
    rows, cols = np.mgrid[0:h, 0:w].astype("float64")
    coords = [rows + disp[..., 0], cols + disp[..., 1]]
    for c in range(2):
        ref = ndimage.map_coordinates(image[..., c], coords, order=1, mode="mirror")
        np.testing.assert_allclose(ours[..., c], ref, atol=1e-5)


def test_zero_displacement_is_exact_identity():
    image = rand((20, 28, 3), seed=6)
    zero = np.zeros((20, 28, 2), "float32")
    np.testing.assert_array_equal(warp(image, zero).numpy(), image)
    np.testing.assert_array_equal(warp(image, zero, "nearest").numpy(), image)


def test_warp_errors():
    with pytest.raises(ValueError, match="method='cubic'"):
        warp(tf.zeros((4, 4, 1)), tf.zeros((4, 4, 2)), "cubic")
    with pytest.raises(ValueError, match="int32"):
        warp(tf.zeros((4, 4, 1), tf.int32), tf.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"\(h, w, c\)"):
        warp(tf.zeros((1, 4, 4, 1)), tf.zeros((4, 4, 2)))


# --- Displacement field ------------------------------------------------------


def test_displacement_field_scale_matches_theory():
    alpha, sigma = 34.0, 4.0
    field = displacement_field((128, 128), SEED, alpha, sigma).numpy()
    assert field.shape == (128, 128, 2) and field.dtype == np.float32
    # Uniform[-1, 1] has variance 1/3; a separable kernel k multiplies it by
    # (sum k^2)^2, so std = alpha * sqrt(1/3) * sum k^2 (~1.38 px here,
    # ~ alpha / (sqrt(12 pi) sigma)).
    k = gaussian_kernel(sigma).numpy()
    expected_std = alpha * math.sqrt(1 / 3) * float((k**2).sum())
    assert abs(expected_std - alpha / (math.sqrt(12 * math.pi) * sigma)) < 0.01
    r = math.ceil(3 * sigma)
    interior = field[r:-r, r:-r]
    mean_abs = np.abs(interior).mean()
    assert mean_abs == pytest.approx(expected_std * math.sqrt(2 / math.pi), rel=0.1)
    assert interior.std() == pytest.approx(expected_std, rel=0.1)
    assert abs(interior.mean()) < 0.15 * expected_std
    # Scale is linear in alpha: same noise, same seed.
    double = displacement_field((128, 128), SEED, 2 * alpha, sigma).numpy()
    np.testing.assert_allclose(double, 2 * field, rtol=1e-5, atol=1e-6)
    # sigma = 0: raw uniform noise in [-alpha, alpha].
    raw = displacement_field((64, 64), SEED, 3.0, 0.0).numpy()
    assert np.abs(raw).max() <= 3.0
    assert np.abs(raw).mean() == pytest.approx(1.5, rel=0.05)


def test_larger_sigma_gives_a_smoother_field():
    def roughness(sigma):
        f = displacement_field((96, 96), SEED, 1.0, sigma).numpy()
        step = np.abs(np.diff(f, axis=0)).mean() + np.abs(np.diff(f, axis=1)).mean()
        return step / (2 * np.abs(f).mean())

    r = [roughness(s) for s in (0.0, 1.0, 4.0, 8.0)]
    # Neighbour differences relative to the magnitude: ~1.2 for white noise,
    # roughly 1 / (2 sigma) once smoothed.
    assert r[0] > 1.0
    assert r[0] > r[1] > r[2] > r[3]
    assert r[2] < 0.2 and r[3] < 0.1


def test_deformation_grows_with_alpha():
    image = tf.constant(smooth_image())
    diffs = [
        float(tf.reduce_mean(tf.abs(elastic_deform(image, SEED, a, 4.0) - image)))
        for a in (0.0, 10.0, 34.0, 100.0, 300.0)
    ]
    assert diffs[0] == 0.0
    assert all(a < b for a, b in zip(diffs, diffs[1:])), diffs
    assert diffs[-1] > 3 * diffs[1]


# --- elastic_deform ----------------------------------------------------------


def test_alpha_zero_is_exact_identity():
    image = rand((32, 40, 3), seed=7)
    label = np.arange(32 * 40 * 1).reshape(32, 40, 1).astype("int32")
    out = elastic_deform([image, label], SEED, 0.0, 4.0, ["bilinear", "nearest"])
    np.testing.assert_array_equal(out[0].numpy(), image)
    np.testing.assert_array_equal(out[1].numpy(), label)


def test_same_seed_same_output_different_seed_different_output():
    image = tf.constant(smooth_image())
    a = elastic_deform([image], seed(1))[0].numpy()
    b = elastic_deform([image], seed(1))[0].numpy()
    c = elastic_deform([image], seed(2))[0].numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.02
    # int32 and int64 seeds of the same values agree.
    d = elastic_deform([image], tf.constant([1, 3], tf.int32))[0].numpy()
    np.testing.assert_array_equal(a, d)


def test_one_field_for_all_images():
    image = rand((32, 32, 3), seed=8)
    a, b = elastic_deform([image, image], SEED, 60.0, 3.0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.abs(a.numpy() - image).mean() > 0.1  # it did deform
    # Bilinear sampling is linear: the negated image gives negated output,
    # also with a different channel count.
    a, neg, first = elastic_deform([image, -image, image[..., :1]], SEED, 60.0, 3.0)
    np.testing.assert_array_equal(neg.numpy(), -a.numpy())
    np.testing.assert_array_equal(first.numpy(), a.numpy()[..., :1])
    # The field is the one displacement_field draws for this seed.
    field = displacement_field((32, 32), SEED, 60.0, 3.0)
    np.testing.assert_array_equal(warp(image, field).numpy(), a.numpy())


def test_nearest_keeps_the_value_set():
    rng = np.random.default_rng(9)
    # Label map of 0..11 in 4x4 blocks, as float (like decoded label ids).
    blocks = rng.integers(0, 12, (12, 12))
    labels = np.kron(blocks, np.ones((4, 4))).astype("float32")[..., None]
    image = rand((48, 48, 3), seed=10)
    out_labels, out_image = elastic_deform(
        [labels, image], SEED, 200.0, 3.0, ["nearest", "nearest"]
    )
    out_labels = out_labels.numpy()
    assert set(np.unique(out_labels)) <= set(np.unique(labels))
    assert (out_labels != labels).mean() > 0.05  # it did move labels
    # Each output pixel (all 3 channels together) is some input pixel.
    inputs = {tuple(p) for p in image.reshape(-1, 3)}
    assert all(tuple(p) in inputs for p in out_image.numpy().reshape(-1, 3))
    # Integer label ids keep their dtype and values.
    ids = labels.astype("int32")
    out_ids = elastic_deform([ids], SEED, 200.0, 3.0, ["nearest"])[0]
    assert out_ids.dtype == tf.int32
    np.testing.assert_array_equal(out_ids.numpy(), out_labels.astype("int32"))


def test_elastic_deform_errors():
    x = tf.zeros((8, 8, 3))
    with pytest.raises(ValueError, match=r"alpha=-1"):
        elastic_deform([x], SEED, alpha=-1)
    with pytest.raises(ValueError, match=r"sigma=nan"):
        elastic_deform([x], SEED, sigma=float("nan"))
    with pytest.raises(ValueError, match=r"methods=\['nearest'\]"):
        elastic_deform([x, x], SEED, methods=["nearest"])
    with pytest.raises(ValueError, match=r"methods\[1\]='bicubic'"):
        elastic_deform([x, x], SEED, methods=["nearest", "bicubic"])
    with pytest.raises(ValueError, match="same height and width"):
        elastic_deform([x, tf.zeros((8, 9, 3))], SEED)
    with pytest.raises(ValueError, match="at least one"):
        elastic_deform([], SEED)


# --- Graph use: tf.function and tf.data with unknown shapes ------------------


def test_tf_function_with_unknown_spatial_shape():
    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, 3], tf.float32),
            tf.TensorSpec([None, None, 1], tf.float32),
            tf.TensorSpec([2], tf.int64),
        ]
    )
    def augment(image, label, s):
        image, label = elastic_deform(
            [image, label], s, methods=["bilinear", "nearest"]
        )
        return color_jitter(image, s, 0.2, 0.2, 0.2, 0.05), label

    for h, w in ((32, 32), (40, 56)):
        image = smooth_image(h, w)
        label = np.floor(4 * (image[..., :1] + 1)).astype("float32")
        got = augment(image, label, SEED)
        d_image, d_label = elastic_deform(
            [image, label], SEED, methods=["bilinear", "nearest"]
        )
        want = color_jitter(d_image, SEED, 0.2, 0.2, 0.2, 0.05)
        assert got[0].shape == (h, w, 3) and got[1].shape == (h, w, 1)
        np.testing.assert_allclose(got[0].numpy(), want.numpy(), atol=1e-5)
        np.testing.assert_array_equal(got[1].numpy(), d_label.numpy())


def test_tf_data_map_with_unknown_shape_is_deterministic():
    a, b = smooth_image(32, 32), smooth_image(40, 48)
    images = tf.data.Dataset.from_tensors(a).concatenate(
        tf.data.Dataset.from_tensors(b)
    )
    assert images.element_spec.shape.as_list() == [None, None, 3]
    augment = Augment(
        elastic=True,
        color_jitter={"brightness": 0.3, "hue": 0.1},
        color_jitter_side="both",
    )

    def run():
        seeds = tf.data.Dataset.random(seed=3).batch(2)
        ds = tf.data.Dataset.zip((images, seeds)).map(
            lambda x, s: augment.apply(x, -x, s),
            num_parallel_calls=2,
            deterministic=True,
        )
        return [(s.numpy(), t.numpy()) for s, t in ds]

    first, second = run(), run()
    assert [s.shape for s, _ in first] == [(32, 32, 3), (40, 48, 3)]
    for (s1, t1), (s2, t2) in zip(first, second):
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(t1, t2)
        assert s1.min() >= -1 and s1.max() <= 1
    assert np.abs(first[0][0] - a).mean() > 0.01


def test_unknown_channel_count_in_the_graph():
    # As in a pipeline that slices a concatenated pair by a tensor index.
    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None], tf.float32),
            tf.TensorSpec([2], tf.int64),
        ]
    )
    def augment(image, s):
        assert image.shape[-1] is None
        (image,) = elastic_deform([image], s, 20.0, 3.0)
        return color_jitter(image, s, 0.3, 0.3, 0.3, 0.1)

    for c in (1, 3, 4):
        image = rand((24, 20, c), seed=c)
        (want,) = elastic_deform([image], SEED, 20.0, 3.0)
        want = color_jitter(want, SEED, 0.3, 0.3, 0.3, 0.1).numpy()
        got = augment(image, SEED).numpy()
        assert got.shape == (24, 20, c)
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert np.abs(got - image).mean() > 0.01
    with pytest.raises(tf.errors.InvalidArgumentError, match="1, 3 or 4"):
        augment(rand((8, 8, 2)), SEED)


# --- color_jitter ------------------------------------------------------------


def to01(x):
    return (np.asarray(x, "float64") + 1) / 2


def test_brightness_matches_the_numpy_formula():
    image = rand((16, 16, 3), seed=11, low=-1.0, high=0.0)  # no clipping
    x = to01(image)
    factors = []
    for i in range(40):
        out = to01(color_jitter(image, seed(i), brightness=0.4))
        f = out.sum() / x.sum()
        np.testing.assert_allclose(out, x * f, atol=2e-6)
        factors.append(f)
    assert 0.6 <= min(factors) < 0.7 and 1.3 < max(factors) <= 1.4
    # Clipping at 1 for a bright image.
    bright = np.full((4, 4, 3), 0.8, "float32")
    out = color_jitter(bright, seed(0), brightness=5.0).numpy()
    assert out.max() <= 1.0


def test_contrast_and_saturation_match_torchvision_formulas():
    image = rand((16, 16, 3), seed=12, low=-0.6, high=0.6)  # stays in range
    x = to01(image)
    gray = x @ np.array([0.2989, 0.587, 0.114])
    # contrast: f * x + (1 - f) * mean(gray)
    out = to01(color_jitter(image, seed(1), contrast=0.5))
    m = gray.mean()
    f = ((out - m) * (x - m)).sum() / ((x - m) ** 2).sum()
    assert 0.5 <= f <= 1.5 and abs(f - 1) > 1e-3
    np.testing.assert_allclose(out, f * x + (1 - f) * m, atol=2e-6)
    # saturation: f * x + (1 - f) * gray(x)
    out = to01(color_jitter(image, seed(2), saturation=0.5))
    g = gray[..., None]
    f = ((out - g) * (x - g)).sum() / ((x - g) ** 2).sum()
    assert 0.5 <= f <= 1.5 and abs(f - 1) > 1e-3
    np.testing.assert_allclose(out, f * x + (1 - f) * g, atol=2e-6)
    # Grey pixels stay grey under saturation (up to 1e-4: the torchvision
    # luma weights sum to 0.9999).
    grey = np.repeat(rand((8, 8, 1), seed=13), 3, axis=-1)
    out = color_jitter(grey, seed(3), saturation=0.9).numpy()
    np.testing.assert_allclose(out, grey, atol=2e-4)
    np.testing.assert_array_equal(out[..., 0], out[..., 1])


def test_hue_rotates_without_changing_value_and_min():
    image = rand((16, 16, 3), seed=14)
    out = color_jitter(image, seed(4), hue=0.5).numpy()
    assert np.abs(out - image).mean() > 0.05
    np.testing.assert_allclose(out.max(-1), image.max(-1), atol=1e-5)
    np.testing.assert_allclose(out.min(-1), image.min(-1), atol=1e-5)


def test_all_zero_strengths_is_identity():
    image = rand((16, 16, 3), seed=15)
    np.testing.assert_array_equal(color_jitter(image, SEED).numpy(), image)
    rgba = rand((8, 8, 4), seed=16)
    np.testing.assert_array_equal(color_jitter(rgba, SEED).numpy(), rgba)


def test_output_range_and_reproducibility():
    image = rand((24, 24, 3), seed=17)
    kw = dict(brightness=2.0, contrast=2.0, saturation=2.0, hue=0.5)
    outs = [color_jitter(image, seed(i), **kw).numpy() for i in range(10)]
    for out in outs:
        assert out.dtype == np.float32 and out.shape == (24, 24, 3)
        assert out.min() >= -1.0 and out.max() <= 1.0
    np.testing.assert_array_equal(outs[0], color_jitter(image, seed(0), **kw).numpy())
    assert min(np.abs(outs[0] - o).mean() for o in outs[1:]) > 1e-3


def test_grayscale_gets_brightness_and_contrast_only():
    image = rand((16, 16, 1), seed=18, low=-0.5, high=0.5)
    full = color_jitter(image, SEED, 0.3, 0.3, 0.8, 0.4).numpy()
    bc = color_jitter(image, SEED, 0.3, 0.3).numpy()
    assert full.shape == (16, 16, 1)
    np.testing.assert_array_equal(full, bc)
    assert np.abs(bc - image).mean() > 1e-3
    # Contrast around the image mean.
    x = to01(image)
    out = to01(color_jitter(image, seed(5), contrast=0.5))
    m = x.mean()
    f = ((out - m) * (x - m)).sum() / ((x - m) ** 2).sum()
    np.testing.assert_allclose(out, f * x + (1 - f) * m, atol=2e-6)


def test_rgba_alpha_is_unchanged():
    rgba = rand((16, 16, 4), seed=19)
    kw = dict(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2)
    out = color_jitter(rgba, SEED, **kw).numpy()
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(
        out[..., :3], color_jitter(rgba[..., :3], SEED, **kw).numpy()
    )
    assert np.abs(out[..., :3] - rgba[..., :3]).mean() > 1e-3


def test_color_jitter_errors():
    x = tf.zeros((4, 4, 3))
    with pytest.raises(ValueError, match=r"hue=0\.6"):
        color_jitter(x, SEED, hue=0.6)
    with pytest.raises(ValueError, match=r"hue=-0\.1"):
        color_jitter(x, SEED, hue=-0.1)
    with pytest.raises(ValueError, match=r"brightness=-0\.2"):
        color_jitter(x, SEED, brightness=-0.2)
    with pytest.raises(ValueError, match=r"contrast='a'"):
        color_jitter(x, SEED, contrast="a")
    with pytest.raises(ValueError, match=r"saturation=True"):
        color_jitter(x, SEED, saturation=True)
    with pytest.raises(ValueError, match=r"1, 3 or 4.*\(4, 4, 2\)"):
        color_jitter(tf.zeros((4, 4, 2)), SEED, brightness=0.1)


# --- Augment -----------------------------------------------------------------


def test_augment_default_is_identity_and_config_round_trip():
    source, target = rand((16, 16, 3), seed=20), rand((16, 16, 3), seed=21)
    out = Augment().apply(source, target, SEED)
    assert len(out) == 2
    np.testing.assert_array_equal(out[0].numpy(), source)
    np.testing.assert_array_equal(out[1].numpy(), target)

    augment = Augment(
        elastic=True,
        elastic_alpha=50,
        elastic_sigma=5.0,
        color_jitter={"brightness": 0.2, "hue": 0.05},
        color_jitter_side="both",
    )
    config = augment.get_config()
    assert config == {
        "elastic": True,
        "elastic_alpha": 50.0,
        "elastic_sigma": 5.0,
        "color_jitter": {
            "brightness": 0.2,
            "contrast": 0.0,
            "saturation": 0.0,
            "hue": 0.05,
        },
        "color_jitter_side": "both",
    }
    restored = Augment.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    a = augment.apply(source, target, SEED)
    b = restored.apply(source, target, SEED)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert "elastic_alpha=50.0" in repr(augment)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"elastic": "yes"}, "elastic='yes'"),
        ({"elastic_alpha": -3}, "elastic_alpha=-3"),
        ({"elastic_sigma": None}, "elastic_sigma=None"),
        ({"color_jitter": 0.2}, "color_jitter=0.2"),
        ({"color_jitter": {"gamma": 0.1}}, "'gamma': 0.1"),
        ({"color_jitter": {"hue": 0.7}}, "hue=0.7"),
        ({"color_jitter_side": "left"}, "color_jitter_side='left'"),
    ],
)
def test_augment_validation(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Augment(**kwargs)


def test_augment_apply_errors():
    x = tf.zeros((8, 8, 3))
    augment = Augment(elastic=True)
    with pytest.raises(ValueError, match="source_method='cubic'"):
        augment.apply(x, x, SEED, source_method="cubic")
    with pytest.raises(ValueError, match=r"extra_methods=\('nearest', 'nearest'\)"):
        augment.apply(x, x, SEED, extra=(x,), extra_methods=("nearest", "nearest"))
    with pytest.raises(ValueError, match=r"extra_methods\[0\]='x'"):
        augment.apply(x, x, SEED, extra=(x,), extra_methods=("x",))


def test_augment_one_field_for_source_target_and_extra():
    image = smooth_image(40, 40)
    labels = np.floor(6 * (image[..., :1] + 1)).astype("float32")  # 0..11
    elastic = Augment(elastic=True, elastic_alpha=80.0, elastic_sigma=4.0)
    source, target, same, ids = elastic.apply(
        image,
        image,
        SEED,
        extra=(image, labels),
        extra_methods=("bilinear", "nearest"),
    )
    np.testing.assert_array_equal(source.numpy(), target.numpy())
    np.testing.assert_array_equal(source.numpy(), same.numpy())
    assert np.abs(source.numpy() - image).mean() > 0.02
    assert set(np.unique(ids.numpy())) <= set(np.unique(labels))
    # Extras default to nearest.
    _, _, ids2 = elastic.apply(image, image, SEED, extra=(labels,))
    np.testing.assert_array_equal(ids2.numpy(), ids.numpy())
    # Nearest source: values stay label values.
    src, _ = elastic.apply(labels, image, SEED, source_method="nearest")
    np.testing.assert_array_equal(src.numpy(), ids.numpy())


@pytest.mark.parametrize("side", ["source", "target", "both"])
def test_augment_jitter_side(side):
    image = rand((24, 24, 3), seed=22)
    jitter = {"brightness": 0.5, "saturation": 0.5}
    plain = Augment(elastic=True).apply(image, image, SEED)
    out = Augment(elastic=True, color_jitter=jitter, color_jitter_side=side).apply(
        image, image, SEED
    )
    changed = [np.abs(o.numpy() - p.numpy()).mean() > 1e-3 for o, p in zip(out, plain)]
    assert changed == [side != "target", side != "source"]
    if side == "both":  # independent factors per side
        assert np.abs(out[0].numpy() - out[1].numpy()).mean() > 1e-3
