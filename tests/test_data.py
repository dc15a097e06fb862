import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import pix2pix_keras as pk
from pix2pix_keras.data import decode_image
from pix2pix_keras.data import inspect_image
from pix2pix_keras.data import read_palette

SAMPLE_VAL = pk.sample_data_dir("val")


def _save(path, array, mode=None):
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)


def _rand(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _first(ds):
    return [t.numpy() for t in next(iter(ds))]


# --------------------------------------------------------------- layouts


def test_bundled_sample_pairs():
    layout, a, b = pk.find_pairs(pk.sample_data_dir("train"))
    assert layout == "stems" and len(a) == len(b) == 24
    assert all(p.endswith(".jpg") for p in a) and all(p.endswith(".png") for p in b)
    assert [os.path.basename(p)[:-4] for p in a] == [
        os.path.basename(p)[:-4] for p in b
    ]
    assert len(pk.find_pairs(SAMPLE_VAL)[1]) == 6
    total = sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(os.path.dirname(pk.sample_data_dir()))
        for f in files
    )
    assert total < 3 * 2**20


@pytest.fixture
def three_layouts(tmp_path):
    """The same 3 pairs as stems, A/B folders and AB images (all lossless)."""
    stems, folders, ab = tmp_path / "stems", tmp_path / "folders", tmp_path / "ab"
    for d in (stems, folders / "A", folders / "B", ab):
        d.mkdir(parents=True)
    pairs = []
    for i in range(3):
        a, b = _rand((48, 40, 3), i), _rand((48, 40, 3), 10 + i)
        _save(stems / f"p{i}_A.png", a)
        _save(stems / f"p{i}_B.png", b)
        _save(folders / "A" / f"p{i}.png", a)
        _save(folders / "B" / f"p{i}.bmp", b)
        _save(ab / f"p{i}.png", np.concatenate([a, b], axis=1))
        pairs.append((a, b))
    return stems, folders, ab, pairs


def test_layouts_are_detected_and_give_the_same_pairs(three_layouts):
    stems, folders, ab, pairs = three_layouts
    suffixes = ("_A.png", "_B.png")
    assert pk.find_pairs(stems, suffixes=suffixes)[0] == "stems"
    assert pk.find_pairs(folders)[0] == "folders"
    assert pk.find_pairs(ab)[0] == "ab"
    expected_a = np.stack([p[0] for p in pairs]) / 127.5 - 1
    expected_b = np.stack([p[1] for p in pairs]) / 127.5 - 1
    for d in (stems, folders, ab):
        for direction, (src, tgt) in (
            ("AtoB", (expected_a, expected_b)),
            ("BtoA", (expected_b, expected_a)),
        ):
            ds = pk.load_paired_dataset(
                d,
                suffixes=suffixes,
                direction=direction,
                image_size=(48, 40),
                training=False,
                batch_size=3,
            )
            s, t = _first(ds)
            np.testing.assert_allclose(s, src, atol=1e-6, err_msg=str(d))
            np.testing.assert_allclose(t, tgt, atol=1e-6, err_msg=str(d))


def test_jpeg_png_bmp_and_channel_conversions(tmp_path):
    rgb = _rand((16, 16, 3), 1)
    grey = _rand((16, 16), 2)
    rgba = np.concatenate([rgb, _rand((16, 16, 1), 3)], axis=-1)
    _save(tmp_path / "rgb.bmp", rgb)
    _save(tmp_path / "grey.png", grey, "L")
    _save(tmp_path / "rgba.png", rgba, "RGBA")
    _save(tmp_path / "rgb.jpg", rgb)

    def f(name, c):
        return decode_image(str(tmp_path / name), c).numpy()

    np.testing.assert_allclose(f("rgb.bmp", 3), rgb / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(
        f("grey.png", 3), np.repeat(grey[..., None], 3, -1) / 127.5 - 1, atol=1e-6
    )
    np.testing.assert_allclose(f("rgba.png", 3), rgb / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(f("rgba.png", 4), rgba / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(f("rgb.bmp", 4)[..., 3], 1.0)
    lum = np.round(rgb @ np.array([0.2989, 0.587, 0.114]))
    np.testing.assert_allclose((f("rgb.bmp", 1)[..., 0] + 1) * 127.5, lum, atol=1.0)
    # JPEG: same pixels as Pillow's decoder, up to IDCT rounding.
    pil_jpeg = np.array(Image.open(tmp_path / "rgb.jpg")) / 127.5 - 1
    np.testing.assert_allclose(f("rgb.jpg", 3), pil_jpeg, atol=3 / 127.5)


def test_input_and_output_channels_may_differ(tmp_path):
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    for i in range(2):
        _save(tmp_path / "A" / f"{i}.png", _rand((32, 32), i), "L")
        _save(tmp_path / "B" / f"{i}.png", _rand((32, 32, 4), i), "RGBA")
    s, t = _first(
        pk.load_paired_dataset(
            tmp_path,
            in_channels=1,
            out_channels=3,
            image_size=32,
            training=False,
            batch_size=2,
        )
    )
    assert s.shape == (2, 32, 32, 1) and t.shape == (2, 32, 32, 3)


# --------------------------------------------------------------- label maps


def test_facade_labels_colour_and_onehot_match_pil_ids():
    stems = sorted(f[:-4] for f in os.listdir(SAMPLE_VAL) if f.endswith(".png"))
    pil_ids = np.stack(
        [np.array(Image.open(os.path.join(SAMPLE_VAL, s + ".png"))) for s in stems]
    )
    common = dict(direction="BtoA", training=False, batch_size=6)
    s, t, ids = _first(
        pk.load_paired_dataset(
            SAMPLE_VAL,
            labels=pk.facades_labels("onehot"),
            with_label_ids=True,
            **common,
        )
    )
    assert s.shape == (6, 256, 256, 13) and t.shape == (6, 256, 256, 3)
    np.testing.assert_array_equal(ids, pil_ids)
    np.testing.assert_array_equal(s.sum(-1), 1.0)
    np.testing.assert_array_equal(s.argmax(-1), pil_ids)
    colour, _ = _first(
        pk.load_paired_dataset(SAMPLE_VAL, labels=pk.facades_labels("color"), **common)
    )
    plain, _ = _first(pk.load_paired_dataset(SAMPLE_VAL, **common))
    # Colourising ids with the palette gives back the palette PNG's colours.
    np.testing.assert_allclose(colour, plain, atol=1e-6)


def _label_batch(labels, **kwargs):
    """The first batch of 6 label maps of the sample's val split (label map
    as source) with their class ids."""
    return _first(
        pk.load_paired_dataset(
            SAMPLE_VAL,
            direction="BtoA",
            labels=labels,
            with_label_ids=True,
            batch_size=6,
            **kwargs,
        )
    )


def test_label_ids_follow_the_random_crop_and_flip():
    labels = pk.facades_labels("color")
    s, _, ids = _label_batch(labels, image_size=128, load_size=160, seed=4)
    np.testing.assert_allclose(s, labels.colour_table()[ids], atol=1e-6)


def test_label_id_too_large_names_the_file(tmp_path):
    _save(tmp_path / "x_A.png", np.full((8, 8), 7), "L")
    _save(tmp_path / "x_B.png", _rand((8, 8, 3)))
    labels = pk.LabelMaps(num_classes=5, encoding="ids", mode="onehot")
    ds = pk.load_paired_dataset(
        tmp_path,
        suffixes=("_A.png", "_B.png"),
        labels=labels,
        image_size=8,
        training=False,
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_classes.*x_A\.png"):
        _first(ds)


def test_label_colour_outside_palette_names_the_file(tmp_path):
    _save(tmp_path / "y.png", np.full((8, 8, 3), 3))
    _save(tmp_path / "y.jpg", _rand((8, 8, 3)))
    ds = pk.load_paired_dataset(
        tmp_path,
        direction="BtoA",
        labels=pk.facades_labels(),
        image_size=8,
        training=False,
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"palette.*y\.png"):
        _first(ds)


def test_label_maps_arguments():
    with pytest.raises(ValueError, match="palette"):
        pk.LabelMaps(4, encoding="palette")
    with pytest.raises(ValueError, match="mode"):
        pk.LabelMaps(4, encoding="ids", mode="rgb")
    with pytest.raises(ValueError, match="outside"):
        pk.LabelMaps(4, palette={5: (0, 0, 0)})
    with pytest.raises(ValueError, match="num_classes"):
        pk.LabelMaps(0, encoding="ids")
    assert read_palette(os.path.join(os.path.dirname(SAMPLE_VAL), "palette.txt"))[
        1
    ] == (0, 0, 170)
    with pytest.raises(ValueError, match="with_label_ids"):
        pk.load_paired_dataset(SAMPLE_VAL, with_label_ids=True)


# --------------------------------------------------------------- preprocessing


@pytest.fixture
def wide_pair(tmp_path):
    img = _rand((200, 300, 3), 5)
    _save(tmp_path / "w.png", img)
    _save(tmp_path / "w.bmp", img)
    return tmp_path, img


def _load(d, **kw):
    return pk.load_paired_dataset(d, suffixes=(".png", ".bmp"), **kw)


def test_crop_mode(wide_pair):
    d, img = wide_pair
    s, t = _first(_load(d, preprocess="crop", image_size=64, training=False))
    np.testing.assert_array_equal(s, t)
    # Centred crop in evaluation.
    np.testing.assert_allclose(s[0], img[68:132, 118:182] / 127.5 - 1, atol=1e-6)
    s, _ = _first(_load(d, preprocess="crop", image_size=64, seed=1, flip=False))
    found = [
        (y, x)
        for y in range(137)
        for x in range(237)
        if np.allclose(s[0, 0, 0], img[y, x] / 127.5 - 1, atol=1e-6)
        and np.allclose(s[0], img[y : y + 64, x : x + 64] / 127.5 - 1, atol=1e-6)
    ]
    assert len(found) == 1


def test_scale_width_keeps_the_aspect_ratio(wide_pair):
    d, _ = wide_pair
    s, t = _first(
        _load(
            d,
            preprocess="scale_width",
            image_size=(64, 150),
            size_multiple=16,
            training=False,
        )
    )
    # 200 × 150/300 = 100, rounded to a multiple of 16 -> 96.
    assert s.shape == (1, 96, 150, 3)
    np.testing.assert_array_equal(s, t)
    s, _ = _first(
        _load(
            d,
            preprocess="scale_width",
            image_size=64,
            load_size=(90, 90),
            size_multiple=16,
            seed=0,
        )
    )
    assert s.shape == (1, 64, 64, 3)


def test_none_mode_crops_to_a_multiple(wide_pair):
    d, img = wide_pair
    s, _ = _first(_load(d, preprocess="none", size_multiple=64, training=False))
    assert s.shape == (1, 192, 256, 3)
    np.testing.assert_allclose(s[0], img[4:196, 22:278] / 127.5 - 1, atol=1e-6)


def test_variable_size_modes_need_batch_size_1(wide_pair):
    d, _ = wide_pair
    with pytest.raises(ValueError, match="batch_size=1"):
        _load(d, preprocess="none", batch_size=2)


def test_identical_pair_stays_identical_after_jitter(tmp_path):
    img = _rand((48, 40, 3), 1)
    for i in range(3):
        _save(tmp_path / f"im{i}.png", np.roll(img, i, axis=0))
        _save(tmp_path / f"im{i}.bmp", np.roll(img, i, axis=0))
    for preprocess in ("resize_and_crop", "crop", "scale_width"):
        ds = _load(
            tmp_path,
            image_size=32,
            load_size=(40, 36),
            seed=3,
            preprocess=preprocess,
            size_multiple=8,
        )
        seen = set()
        for _ in range(4):  # several epochs: different crops, always aligned
            for source, target in ds:
                np.testing.assert_array_equal(source.numpy(), target.numpy())
                seen.add(source.numpy().tobytes())
        assert len(seen) > 3, preprocess


def test_jitter_is_a_window_of_the_resized_image_possibly_flipped():
    rng = np.random.default_rng(2)
    big = tf.constant(rng.uniform(-1, 1, (20, 22, 3)), tf.float32)
    other = -big[..., :1]
    kinds = set()
    for k in range(12):
        s, t = pk.random_jitter(big, other, tf.constant([k, 7]), image_size=(16, 16))
        assert s.shape == (16, 16, 3) and t.shape == (16, 16, 1)
        np.testing.assert_array_equal(t.numpy(), -s.numpy()[..., :1])
        matches = []
        for dy in range(5):
            for dx in range(7):
                window = big[dy : dy + 16, dx : dx + 16].numpy()
                if np.array_equal(window, s.numpy()):
                    matches.append("plain")
                if np.array_equal(window[:, ::-1], s.numpy()):
                    matches.append("flip")
        assert len(matches) == 1
        kinds.add(matches[0])
    assert kinds == {"plain", "flip"}


def test_seeded_pipeline_is_reproducible_and_changes_per_epoch():
    def make():
        return pk.load_paired_dataset(
            SAMPLE_VAL, image_size=64, load_size=72, batch_size=3, seed=5
        )

    a = [b[0].numpy() for b in make()]
    ds = make()
    b = [b_[0].numpy() for b_ in ds]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    second = [b_[0].numpy() for b_ in ds]
    assert any(not np.array_equal(x, y) for x, y in zip(a, second))


# --------------------------------------------------------------- bad input


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        pk.load_paired_dataset(tmp_path / "nope")
    with pytest.raises(ValueError, match=f"No images.*{tmp_path}"):
        pk.load_paired_dataset(tmp_path)
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    _save(tmp_path / "A" / "x.png", _rand((8, 8, 3)))
    with pytest.raises(ValueError, match="No images.*B"):
        pk.load_paired_dataset(tmp_path)


def test_unmatched_names(tmp_path):
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    _save(tmp_path / "A" / "one.png", _rand((8, 8, 3)))
    _save(tmp_path / "A" / "two.png", _rand((8, 8, 3)))
    _save(tmp_path / "B" / "one.png", _rand((8, 8, 3)))
    _save(tmp_path / "B" / "three.png", _rand((8, 8, 3)))
    with pytest.raises(ValueError, match=r"2 file\(s\).*A/two\.png.*B/three\.png"):
        pk.load_paired_dataset(tmp_path)
    stems = tmp_path / "s"
    stems.mkdir()
    _save(stems / "a.jpg", _rand((8, 8, 3)))
    _save(stems / "a.png", _rand((8, 8, 3)))
    _save(stems / "b.png", _rand((8, 8, 3)))
    with pytest.raises(ValueError, match="b.png"):
        pk.load_paired_dataset(stems, layout="stems")


def _bad_files(d):
    """Writes one good pair and one bad file of each kind (stems layout)."""
    good = _rand((16, 16, 3))
    _save(d / "good.jpg", good)
    _save(d / "good.png", good)
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("not an image at all")
    _save(d / "trunc.jpg", good)
    data = (d / "trunc.jpg").read_bytes()
    (d / "trunc.jpg").write_bytes(data[: len(data) // 2])
    _save(d / "tpng.jpg", good)
    _save(d / "tpng.png", good)
    data = (d / "tpng.png").read_bytes()
    (d / "tpng.png").write_bytes(data[:-20])
    _save(d / "size.jpg", good)
    _save(d / "size.png", _rand((16, 20, 3)))
    Image.fromarray(good).save(d / "gif.jpg", format="GIF")
    for name in ("empty", "text", "trunc", "gif"):
        _save(d / f"{name}.png", good)


@pytest.mark.parametrize(
    "name, problem",
    [
        ("empty.jpg", "empty file"),
        ("text.jpg", "not an image"),
        ("trunc.jpg", "truncated"),
        ("tpng.png", "truncated PNG|corrupt"),
        ("size.jpg", "same size"),
        ("gif.jpg", "unsupported format GIF"),
    ],
)
def test_bad_files_are_named(tmp_path, name, problem):
    _bad_files(tmp_path)
    with pytest.raises(ValueError, match=problem):
        if name.endswith(".png"):
            inspect_image(str(tmp_path / name))
        else:
            one = tmp_path / "one"
            one.mkdir()
            stem = name[:-4]
            for ext in (".jpg", ".png"):
                (one / (stem + ext)).write_bytes((tmp_path / (stem + ext)).read_bytes())
            try:
                pk.load_paired_dataset(one)
            except ValueError as e:
                assert stem in str(e)
                raise


def test_skip_lists_every_bad_pair_and_keeps_the_good_one(tmp_path):
    _bad_files(tmp_path)
    with pytest.warns(UserWarning, match=r"Skipped 6 of 7") as record:
        ds = pk.load_paired_dataset(
            tmp_path, on_error="skip", image_size=16, training=False
        )
    text = str(record[0].message)
    for stem in ("empty", "text", "trunc", "tpng", "size", "gif"):
        assert stem in text
    assert len(list(ds)) == 1
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "e.jpg").write_bytes(b"")
    (only_bad / "e.png").write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="No usable pairs"):
            pk.load_paired_dataset(only_bad, on_error="skip")


def test_ab_image_with_odd_width(tmp_path):
    _save(tmp_path / "odd.png", _rand((8, 17, 3)))
    with pytest.raises(ValueError, match="odd.png.*odd width 17"):
        pk.load_paired_dataset(tmp_path, layout="ab")


def test_argument_errors():
    for kwargs, name in [
        (dict(image_size=256, load_size=200), "load_size"),
        (dict(in_channels=2), "in_channels"),
        (dict(batch_size=0), "batch_size"),
        (dict(image_size=(0, 5)), "image_size"),
        (dict(direction="AB"), "direction"),
        (dict(preprocess="zoom"), "preprocess"),
        (dict(layout="pairs"), "layout"),
        (dict(on_error="ignore"), "on_error"),
        (dict(suffixes=(".png", ".png")), "suffixes"),
        (dict(labels="facades"), "labels"),
    ]:
        with pytest.raises(ValueError, match=name):
            pk.load_paired_dataset(SAMPLE_VAL, **kwargs)
    with pytest.raises(ValueError, match="split"):
        pk.sample_data_dir("test")


# --------------------------------------------------------------- real data


def test_real_cmp_validation_split(shared_data_dir):
    """The real CMP val split: 37 pairs, label ids recovered exactly."""
    val = os.path.join(shared_data_dir, "val")
    ds = pk.load_paired_dataset(
        val,
        direction="BtoA",
        training=False,
        batch_size=8,
        labels=pk.facades_labels("onehot"),
        with_label_ids=True,
        preprocess="crop",
        image_size=200,
    )
    total, seen = 0, set()
    for s, t, ids in ds:
        assert s.shape[1:] == (200, 200, 13) and t.shape[1:] == (200, 200, 3)
        np.testing.assert_array_equal(tf.argmax(s, -1).numpy(), ids.numpy())
        seen |= set(np.unique(ids.numpy()))
        total += s.shape[0]
    assert total == 37
    assert seen <= set(range(1, 13)) and len(seen) >= 10
    # One pair checked against Pillow's ids, centre crop of the original.
    first = sorted(f for f in os.listdir(val) if f.endswith(".png"))[0]
    pil = np.array(Image.open(os.path.join(val, first)))
    h, w = pil.shape
    y, x = (h - 200) // 2, (w - 200) // 2
    _, _, ids = _first(
        pk.load_paired_dataset(
            val,
            direction="BtoA",
            training=False,
            labels=pk.facades_labels(),
            with_label_ids=True,
            preprocess="crop",
            image_size=200,
        )
    )
    np.testing.assert_array_equal(ids[0], pil[y : y + 200, x : x + 200])


# --------------------------------------------------------------- augmentation


def test_elastic_keeps_identical_pairs_identical_and_label_ids_valid(tmp_path):
    img = _rand((40, 40, 3), 3)
    for i in range(2):
        _save(tmp_path / f"im{i}.png", np.roll(img, 5 * i, axis=1))
        _save(tmp_path / f"im{i}.bmp", np.roll(img, 5 * i, axis=1))
    aug = pk.Augment(elastic=True, elastic_alpha=300.0, elastic_sigma=6.0)
    plain = _load(tmp_path, image_size=32, load_size=40, seed=2)
    warped = _load(tmp_path, image_size=32, load_size=40, seed=2, augment=aug)
    s0, _ = _first(plain)
    s, t = _first(warped)
    np.testing.assert_array_equal(s, t)  # one displacement field for both
    assert np.abs(s - s0).mean() > 0.05  # and it really deforms
    labels = pk.facades_labels("onehot")
    s, _, ids = _label_batch(labels, augment=aug, image_size=64, load_size=72, seed=1)
    np.testing.assert_array_equal(s.sum(-1), 1.0)
    assert set(np.unique(ids)) <= set(range(1, 13))
    np.testing.assert_array_equal(s.argmax(-1), ids)


def test_colour_jitter_on_the_label_side_is_refused():
    aug = pk.Augment(color_jitter={"brightness": 0.2}, color_jitter_side="source")
    with pytest.raises(ValueError, match="label ids"):
        pk.load_paired_dataset(
            SAMPLE_VAL, direction="BtoA", labels=pk.facades_labels(), augment=aug
        )


def test_colour_jitter_changes_only_the_configured_side(tmp_path):
    img = _rand((32, 32, 3), 4)
    _save(tmp_path / "a.png", img)
    _save(tmp_path / "a.bmp", img)
    aug = pk.Augment(
        color_jitter={"brightness": 0.5, "hue": 0.2}, color_jitter_side="target"
    )
    s, t = _first(_load(tmp_path, image_size=32, load_size=32, seed=0, augment=aug))
    s0, _ = _first(_load(tmp_path, image_size=32, load_size=32, seed=0))
    np.testing.assert_array_equal(s, s0)
    assert np.abs(t - s).mean() > 0.01


def test_grey_palette_label_maps(tmp_path):
    """A single-channel label image read through a grey 'palette'."""
    ids = np.array([[0, 1], [2, 1]], np.uint8)
    _save(tmp_path / "g_A.png", ids * 100, "L")
    _save(tmp_path / "g_B.png", _rand((2, 2, 3)))
    labels = pk.LabelMaps(
        3, encoding="palette", palette={0: (0, 0, 0), 1: (100,) * 3, 2: (200,) * 3}
    )
    _, _, got = _first(
        pk.load_paired_dataset(
            tmp_path,
            suffixes=("_A.png", "_B.png"),
            labels=labels,
            with_label_ids=True,
            image_size=2,
            training=False,
        )
    )
    np.testing.assert_array_equal(got[0], ids)


def test_full_validation_finds_corrupt_data_that_the_quick_check_misses(tmp_path):
    _save(tmp_path / "c.jpg", _rand((32, 32, 3)))
    _save(tmp_path / "c.png", _rand((32, 32, 3), 1))
    data = bytearray((tmp_path / "c.png").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(16)  # inside IDAT; IEND still present
    (tmp_path / "c.png").write_bytes(bytes(data))
    pk.load_paired_dataset(tmp_path, validate="quick")  # headers look fine
    with pytest.raises(ValueError, match=r"c\.png.*corrupt"):
        pk.load_paired_dataset(tmp_path, validate="full")


# --------------------------------------------------------------- load_size


def test_default_load_size_keeps_the_286_over_256_ratio():
    assert pk.default_load_size(256) == (286, 286)  # the paper, unchanged
    assert pk.default_load_size(64) == (72, 72)  # 71.5 -> 72
    assert pk.default_load_size(128) == (143, 143)  # 143.0
    assert pk.default_load_size(100) == (112, 112)  # 111.72 -> 112
    assert pk.default_load_size(192) == (214, 214)  # 214.5 -> even 214
    assert pk.default_load_size((128, 64)) == (143, 72)
    assert pk.default_load_size([32, 48]) == (36, 54)
    with pytest.raises(ValueError, match="image_size"):
        pk.default_load_size(0)


def _crop_offsets(crop, image, load_size):
    """Offsets at which `crop` (uint8) is a window of `image` resized to
    `load_size` with nearest neighbours (the pipeline's default)."""
    resized = tf.image.resize(image, load_size, method="nearest").numpy()
    h, w = crop.shape[:2]
    return [
        (y, x)
        for y in range(load_size[0] - h + 1)
        for x in range(load_size[1] - w + 1)
        if np.array_equal(resized[y : y + h, x : x + w], crop)
    ]


@pytest.mark.parametrize(
    "image_size, load_size, expected_load",
    [
        ((32, 48), None, (36, 54)),  # default: 32·286/256 = 35.75, 48·286/256 = 53.6
        (64, None, (72, 72)),
        (64, 100, (100, 100)),  # an explicit value wins
        (256, None, (286, 286)),  # the paper's default, unchanged
    ],
)
def test_training_crops_come_from_the_scaled_load_size(
    tmp_path, image_size, load_size, expected_load
):
    img = _rand((300, 280, 3), 4)
    _save(tmp_path / "x.png", img)
    _save(tmp_path / "x.bmp", img)
    kwargs = {} if load_size is None else {"load_size": load_size}
    s, _ = _first(_load(tmp_path, image_size=image_size, flip=False, seed=0, **kwargs))
    crop = np.round((s[0] + 1) * 127.5).astype(np.uint8)
    assert len(_crop_offsets(crop, img, expected_load)) == 1
    # The old fixed default: a crop of the 286-px image, which at 64 px
    # keeps under a quarter of the picture.
    if expected_load != (286, 286):
        assert _crop_offsets(crop, img, (286, 286)) == []


def test_explicit_load_size_smaller_than_image_size_is_refused():
    with pytest.raises(ValueError, match=r"`load_size` \(40, 40\) must be at least"):
        pk.load_paired_dataset(SAMPLE_VAL, image_size=64, load_size=40)
    # The default always fits, also for sizes the old 286 default refused.
    ds = pk.load_paired_dataset(SAMPLE_VAL, image_size=512, batch_size=1, seed=0)
    assert ds.element_spec[0].shape.as_list() == [None, 512, 512, 3]
