import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import pix2pix_keras as pk
from pix2pix_keras.data import decode_image


def test_bundled_sample_pairs():
    sources, targets = pk.find_pairs(pk.sample_data_dir("train"))
    assert len(sources) == len(targets) == 24
    assert all(s.endswith(".png") for s in sources)
    assert [os.path.basename(s)[:-4] for s in sources] == [
        os.path.basename(t)[:-4] for t in targets]
    assert len(pk.find_pairs(pk.sample_data_dir("val"))[0]) == 6
    total = sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(os.path.dirname(pk.sample_data_dir()))
        for f in files)
    assert total < 3 * 2**20


def test_find_pairs_errors(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        pk.find_pairs(missing)
    with pytest.raises(ValueError, match=str(tmp_path)):
        pk.find_pairs(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"")
    with pytest.raises(ValueError, match="b.png"):
        pk.find_pairs(tmp_path)
    with pytest.raises(ValueError, match="differ"):
        pk.find_pairs(tmp_path, ".png", ".png")
    with pytest.raises(ValueError, match="split"):
        pk.sample_data_dir("test")


def test_training_batches_shape_range_and_count():
    ds = pk.load_paired_dataset(pk.sample_data_dir("train"), batch_size=4, seed=0)
    batches = list(ds)
    assert len(batches) == 6
    for source, target in batches:
        assert source.shape == (4, 256, 256, 3)
        assert target.shape == (4, 256, 256, 3)
        assert source.dtype == tf.float32
        assert -1.0 <= float(tf.reduce_min(source)) and float(tf.reduce_max(target)) <= 1.0


def test_eval_is_a_plain_resize(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "p.png")
    Image.fromarray(255 - img).save(tmp_path / "p.bmp")
    ds = pk.load_paired_dataset(tmp_path, source_suffix=".png", target_suffix=".bmp",
                                image_size=(16, 24), training=False)
    (source, target), = list(ds)
    expected = tf.image.resize(img.astype("float32") / 127.5 - 1, (16, 24), "nearest")
    np.testing.assert_allclose(source[0], expected, atol=1e-6)
    np.testing.assert_allclose(target[0], -expected, atol=1e-6)


def _identical_pair_folder(tmp_path, size=(48, 40)):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size + (3,), dtype=np.uint8)
    for i in range(3):
        Image.fromarray(np.roll(img, i, axis=0)).save(tmp_path / f"im{i}.png")
        Image.fromarray(np.roll(img, i, axis=0)).save(tmp_path / f"im{i}.bmp")
    return img


def test_identical_pair_stays_identical_after_jitter(tmp_path):
    _identical_pair_folder(tmp_path)
    ds = pk.load_paired_dataset(tmp_path, source_suffix=".png", target_suffix=".bmp",
                                image_size=32, load_size=(40, 36), seed=3)
    seen = set()
    for _ in range(4):  # several epochs: different crops, always aligned
        for source, target in ds:
            np.testing.assert_array_equal(source.numpy(), target.numpy())
            seen.add(source.numpy().tobytes())
    assert len(seen) > 3


def test_jitter_is_a_window_of_the_resized_image_possibly_flipped():
    rng = np.random.default_rng(2)
    big = tf.constant(rng.uniform(-1, 1, (20, 22, 3)), tf.float32)
    other = -big[..., :1]
    found_flip = found_plain = False
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
        found_flip |= matches[0] == "flip"
        found_plain |= matches[0] == "plain"
    assert found_flip and found_plain


def test_seeded_pipeline_is_reproducible_and_changes_per_epoch():
    def first_epoch(seed):
        ds = pk.load_paired_dataset(pk.sample_data_dir("val"), image_size=64,
                                    load_size=72, batch_size=3, seed=seed)
        return [b[0].numpy() for b in ds], ds

    a, ds = first_epoch(5)
    b, _ = first_epoch(5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    second = [b_[0].numpy() for b_ in ds]
    assert any(not np.array_equal(x, y) for x, y in zip(a, second))


def test_argument_errors(tmp_path):
    d = pk.sample_data_dir("val")
    with pytest.raises(ValueError, match="load_size"):
        pk.load_paired_dataset(d, image_size=256, load_size=200)
    with pytest.raises(ValueError, match="in_channels"):
        pk.load_paired_dataset(d, in_channels=2)
    with pytest.raises(ValueError, match="batch_size"):
        pk.load_paired_dataset(d, batch_size=0)
    with pytest.raises(ValueError, match="image_size"):
        pk.load_paired_dataset(d, image_size=(0, 5))


def test_grayscale_decode(tmp_path):
    img = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(img, "L").save(tmp_path / "g.png")
    grey = decode_image(str(tmp_path / "g.png"), 1).numpy()
    rgb = decode_image(str(tmp_path / "g.png"), 3).numpy()
    np.testing.assert_allclose(grey[..., 0], img / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(rgb, np.repeat(grey, 3, -1), atol=1e-6)


def test_real_cmp_validation_split(shared_data_dir):
    """The real CMP val split: 37 pairs, labels decode to palette colours."""
    val = os.path.join(shared_data_dir, "val")
    ds = pk.load_paired_dataset(val, training=False, batch_size=8)
    sources = np.concatenate([s.numpy() for s, _ in ds])
    assert sources.shape == (37, 256, 256, 3)
    palette = np.loadtxt(os.path.join(shared_data_dir, "palette.txt"),
                         usecols=(2, 3, 4), comments="#")
    colours = np.unique(
        np.round((sources.reshape(-1, 3) + 1) * 127.5).astype(int), axis=0)
    palette_set = {tuple(int(v) for v in row) for row in palette}
    # Nearest-neighbour resizing keeps label colours exact.
    assert {tuple(c) for c in colours} <= palette_set
    assert len(colours) >= 10
