"""Tiled inference (`pk.translate_tiled`, `pk.tile_layout`)."""

import keras
import numpy as np
import pytest
from keras import layers

import pix2pix_keras as pk
from pix2pix_keras.models.blocks import ReflectionPadding2D
from pix2pix_keras.models.blocks import ResidualBlock
from tests.conftest import tiny_pix2pix


def _images(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def _placed_weights(layout):
    """Every tile's normalized weight, placed on the padded image: (n, H, W)."""
    (ph, pw), (th, tw) = layout.padded_size, layout.tile_size
    total = layout.row_sums[:, None] * layout.col_sums[None, :]
    out = []
    for i, top in enumerate(layout.tops):
        for j, left in enumerate(layout.lefts):
            w = np.zeros((ph, pw), "float32")
            w[top : top + th, left : left + tw] = (
                layout.row_windows[i][:, None] * layout.col_windows[j][None, :]
            )
            out.append(w / total)
    return np.stack(out)


# Layout and weights -----------------------------------------------------


@pytest.mark.parametrize("blend", ["cosine", "linear", "none"])
def test_regular_windows_are_a_partition_of_unity(blend):
    # 32 + 3 * 24 = 104: four tiles at the regular stride, no moved tile.
    layout = pk.tile_layout(104, 104, 32, overlap=8, blend=blend)
    assert layout.tops == [0, 24, 48, 72] and layout.overlap == (8, 8)
    np.testing.assert_allclose(layout.row_sums, 1.0, atol=1e-6)
    first, inner, last = (
        layout.row_windows[0],
        layout.row_windows[1],
        layout.row_windows[-1],
    )
    # 1 inside and at the image border, tapering at inner edges only.
    assert first[0] == 1.0 and last[-1] == 1.0
    assert (inner[8:24] == 1.0).all() and inner[0] < 0.5 and inner[-1] < 0.5
    if blend == "none":
        assert set(np.unique(inner)) == {0.0, 1.0}


@pytest.mark.parametrize("blend", ["cosine", "linear", "none"])
@pytest.mark.parametrize("size", [(300, 517), (33, 70), (20, 7)])
def test_blending_weights_sum_to_one_everywhere(blend, size):
    layout = pk.tile_layout(*size, 32, overlap=12, blend=blend, margin=2)
    weights = _placed_weights(layout)
    np.testing.assert_allclose(weights.sum(0), 1.0, atol=1e-6)
    assert weights.min() >= 0.0
    # Before normalization every pixel already has weight >= 1 (moved
    # tiles overlap more), so no division by a small number.
    assert layout.row_sums.min() >= 1 - 1e-6
    assert layout.col_sums.min() >= 1 - 1e-6
    assert layout.padded_size == (max(size[0], 32), max(size[1], 32))


def test_margin_gives_no_weight_near_inner_edges():
    layout = pk.tile_layout(100, 100, 40, overlap=20, margin=5)
    inner = layout.row_windows[1]
    assert (inner[:5] == 0).all() and (inner[-5:] == 0).all()
    assert inner[5] > 0 and (inner[15:25] == 1).all()


def test_alignment_of_tile_offsets():
    layout = pk.tile_layout(101, 90, 32, overlap=10, align=4)
    assert layout.padded_size == (104, 92)
    for offsets in (layout.tops, layout.lefts):
        assert all(o % 4 == 0 for o in offsets)
    assert layout.overlap == (12, 12)  # stride 22 rounded down to 20


# Translation ------------------------------------------------------------


def test_output_shape_equals_input_shape_for_odd_sizes():
    model = tiny_pix2pix()
    x = _images(300, 517, 3)
    y = pk.translate_tiled(model, x, overlap=8, batch_size=64)
    assert y.shape == (300, 517, 3) and y.dtype == np.float32
    assert np.abs(y).max() <= 1.0
    batch = _images(2, 37, 45, 3, seed=1)
    assert pk.translate_tiled(model, batch).shape == (2, 37, 45, 3)
    # Smaller than a tile (padded by reflection) and a single pixel.
    assert pk.translate_tiled(model, _images(10, 7, 3)).shape == (10, 7, 3)
    assert pk.translate_tiled(model, _images(1, 1, 3)).shape == (1, 1, 3)


def test_one_tile_is_plain_inference_and_pix2pix_equals_its_generator():
    model = tiny_pix2pix()
    x = _images(2, 32, 32, 3)
    expected = model.predict(x, verbose=0)
    np.testing.assert_array_equal(pk.translate_tiled(model, x), expected)
    big = _images(50, 61, 3)
    np.testing.assert_array_equal(
        pk.translate_tiled(model, big), pk.translate_tiled(model.generator, big)
    )


def constant_model(value, size=32):
    image = keras.Input((size, size, 3))
    out = layers.Conv2D(
        3,
        1,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(value),
    )(image)
    return keras.Model(image, out)


@pytest.mark.parametrize("blend", ["cosine", "linear", "none"])
def test_a_constant_model_gives_the_constant(blend):
    model = constant_model(0.3)
    y = pk.translate_tiled(model, _images(300, 517, 3), overlap=12, blend=blend)
    c = np.float32(0.3)
    if blend == "none":
        # Weights 0, 1/2 and 1 and their sums are exact in binary.
        assert (y == c).all()
    else:
        # Σ c·w / Σ w in float32: a few units in the last place.
        assert np.abs(y - c).max() <= 4 * np.spacing(c)


# Equality with full-image inference ---------------------------------------


def receptive_radius(generator):
    """Upper bound on how far (in input pixels, on either side) an output
    pixel of a `ResnetGenerator` reads its input.

    The network is a chain (a residual block's shortcut reads less than its
    convolutions); per layer, in units of that layer's input grid spaced
    `jump` image pixels apart:

    - 7×7 conv after a 3-pixel reflection pad: 3 on each side;
    - residual block: two 3×3 convs after 1-pixel pads: 1 + 1;
    - 3×3 stride-2 conv, "same" (Keras pads only after): output j reads
      2j..2j+2, so 2 on one side; the grid spacing doubles;
    - 3×3 stride-2 transposed conv, "same": output o reads input
      floor(o / 2) - 1 .. floor(o / 2), so 1; the spacing halves.
    """
    radius, jump = 0, 1
    for layer in generator.layers:
        if isinstance(layer, ResidualBlock):
            radius += 2 * jump
        elif isinstance(layer, layers.Conv2DTranspose):
            radius += jump
            jump //= layer.strides[0]
        elif isinstance(layer, layers.Conv2D):
            k, s = layer.kernel_size[0], layer.strides[0]
            radius += ((k - 1) // 2 if s == 1 else k - 1) * jump
            jump *= s
        elif (
            not isinstance(layer, ReflectionPadding2D)
            and layer.weights
            and not isinstance(layer, layers.BatchNormalization)
        ):
            raise AssertionError(f"unexpected layer {layer.name}")
    return radius


def resnet(size, **kw):
    # Moving statistics: each output pixel then depends on its
    # neighbourhood only (per-image statistics see the whole tile).
    g = pk.ResnetGenerator(
        image_size=size,
        filters=4,
        n_blocks=1,
        norm="batch",
        inference_statistics="moving",
        **kw,
    )
    # With its initial moving statistics (0 and 1) the untrained network
    # outputs values of 1e-5, which would make a 1e-5 tolerance void. One
    # training-mode call with momentum 0 sets them to the statistics of a
    # batch, and the outputs then spread over [-1, 1] as a trained
    # network's do.
    for layer in g._flatten_layers():
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = 0.0
    g(_images(4, size, size, 3, seed=9), training=True)
    return g


def full_image(generator, x, z=None):
    """`generator` rebuilt at the image's size (same weights), run once."""
    full = type(generator).from_config(
        {**generator.get_config(), "image_size": x.shape[1:3]}
    )
    full.set_weights(generator.get_weights())
    return np.asarray(full.predict_on_batch(x if z is None else [x, z]))


def test_receptive_radius_bound_holds_and_is_close():
    g = resnet(64)
    assert receptive_radius(g) == 3 + 2 + 2 * 2 + 2 * 4 + 4 + 2 + 3 == 26
    # Empirically: changing one input pixel changes outputs at most 20
    # pixels away (over the 4 phases of the stride-4 grid; the one-sided
    # reaches of the strided layers partly cancel, which the bound ignores).
    x = _images(1, 64, 64, 3)
    base = g.predict_on_batch(x)
    reach = 0
    for p in (30, 31, 32, 33):
        x2 = x.copy()
        x2[0, p, p] += 0.5
        rows, cols = np.nonzero(np.abs(g.predict_on_batch(x2) - base).max(-1)[0] > 0)
        reach = max(reach, np.abs(rows - p).max(), np.abs(cols - p).max())
    assert reach == 20


@pytest.mark.parametrize("latent_dim", [0, 3])
def test_tiles_with_a_margin_equal_full_image_inference(latent_dim):
    # A margin of at least the receptive radius gives no weight to any
    # output pixel that read the tile's padding instead of the image, so
    # the blend of identical values is the full-image output everywhere
    # (ResNet with batch norm: pointwise at inference; tile offsets are
    # multiples of 4, its downsampling factor, so the tiles sample the same
    # grid; the image's own border is a tile border with the same padding).
    g = resnet(32, latent_dim=latent_dim, latent_injection="all")
    m = receptive_radius(g)  # 26
    x = _images(1, 96, 128, 3)
    z = (
        np.random.default_rng(1).normal(size=(1, latent_dim)).astype("float32")
        if latent_dim
        else None
    )
    expected = full_image(g, x, z)
    tiled = pk.translate_tiled(
        g, x, tile_size=64, overlap=56, margin=m, batch_size=16, z=z
    )
    assert np.abs(expected).max() > 0.5
    np.testing.assert_allclose(tiled, expected, atol=1e-5)


def test_without_margin_equal_away_from_tile_borders():
    g = resnet(64)
    m = receptive_radius(g)
    x = _images(1, 96, 128, 3)
    expected = full_image(g, x)[0]
    tiled = pk.translate_tiled(g, x, overlap=16)[0]
    layout = pk.tile_layout(96, 128, 64, overlap=16, align=4)
    # A pixel is exact unless some tile with weight > 0 there has an inner
    # edge closer than the receptive radius m.
    exact = np.ones((96, 128), bool)
    (ph, pw), t = layout.padded_size, 64
    for i, top in enumerate(layout.tops):
        for j, left in enumerate(layout.lefts):
            w = layout.row_windows[i][:, None] * layout.col_windows[j][None]
            near = np.zeros((t, t), bool)
            if top > 0:
                near[:m] = True
            if top + t < ph:
                near[t - m :] = True
            if left > 0:
                near[:, :m] = True
            if left + t < pw:
                near[:, t - m :] = True
            exact[top : top + t, left : left + t] &= ~(near & (w > 0))
    assert 0.2 < exact.mean() < 0.6
    assert np.abs(expected).max() > 0.5
    err = np.abs(tiled - expected).max(-1)
    assert err[exact].max() <= 1e-5
    assert err[~exact].max() > 1e-2  # the tile borders really differ


# Noise and errors ----------------------------------------------------------


def test_noise_generator_tiles_share_one_code():
    g = pk.UNetGenerator(image_size=32, filters=8, max_filters=32, latent_dim=4)
    x = _images(48, 70, 3)
    z = np.random.default_rng(0).normal(size=4).astype("float32")
    a = pk.translate_tiled(g, x, z=z)
    np.testing.assert_array_equal(pk.translate_tiled(g, x, z=z), a)
    b = pk.translate_tiled(g, x)  # a fresh code
    assert np.abs(a - b).mean() > 1e-4
    with pytest.raises(ValueError, match="`z` must have shape"):
        pk.translate_tiled(g, x, z=np.zeros(3, "float32"))
    with pytest.raises(ValueError, match="no noise input"):
        pk.translate_tiled(tiny_pix2pix(), x, z=z)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(blend="gauss"), ValueError, "`blend`"),
        (dict(overlap=32), ValueError, "`overlap`"),
        (dict(overlap=-1), ValueError, "`overlap`"),
        (dict(overlap=8, margin=5), ValueError, "`margin`"),
        (dict(batch_size=0), ValueError, "`batch_size`"),
        (dict(tile_size=(32, 0)), ValueError, "`tile_size`"),
        (dict(tile_size="big"), ValueError, "`tile_size`"),
        (dict(align=0), ValueError, "`align`"),
        (dict(tile_size=30, align=4), ValueError, "multiple of `align`"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        pk.translate_tiled(tiny_pix2pix(), _images(40, 40, 3), **kwargs)


def test_bad_layout_sizes():
    for args, match in (
        ((0, 10, 8), "`height`"),
        ((10, 2.5, 8), "`width`"),
        ((10, 10, 8, 8), "`overlap`"),
    ):
        with pytest.raises(ValueError, match=match):
            pk.tile_layout(*args)


def test_bad_images_and_models():
    model = tiny_pix2pix()
    with pytest.raises(TypeError, match="127.5"):
        pk.translate_tiled(model, np.zeros((40, 40, 3), "uint8"))
    with pytest.raises(ValueError, match="3 channel"):
        pk.translate_tiled(model, _images(40, 40, 1))
    with pytest.raises(ValueError, match="one image"):
        pk.translate_tiled(model, _images(40, 40))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        pk.translate_tiled(model, _images(40, 40, 3) * 2)
    nan = _images(40, 40, 3)
    nan[3, 4, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pk.translate_tiled(model, nan)
    with pytest.raises(ValueError, match="Pix2Pix or a generator"):
        pk.translate_tiled(lambda t: t, _images(40, 40, 3))
    with pytest.raises(ValueError, match="cannot be rebuilt"):
        pk.translate_tiled(constant_model(0.0), _images(40, 40, 3), tile_size=16)
