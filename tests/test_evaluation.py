import json

import keras
import matplotlib.image
import numpy as np
import pytest

import pix2pix_keras as pk
from tests.conftest import tiny_pix2pix


class Shift(keras.Model):
    """A 'generator' that returns source + per-image offset (known L1)."""

    def call(self, x, training=False):
        offsets = keras.ops.reshape(
            keras.ops.arange(x.shape[0], dtype="float32"), (-1, 1, 1, 1)
        )
        return keras.ops.clip(x + 0.1 * offsets, -1.0, 1.0)


def _data(n=5, size=16):
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (n, size, size, 3)).astype("float32")
    return [(x, x)]


def test_l1_psnr_ssim_of_known_offsets_and_report(tmp_path):
    report = pk.evaluate(
        Shift(),
        _data(),
        metrics=["l1", "psnr", "ssim"],
        output_dir=tmp_path,
        num_examples=2,
    )
    offsets = 0.1 * np.arange(5)
    assert report["num_images"] == 5
    np.testing.assert_allclose(report["l1"], offsets.mean(), rtol=1e-5)
    # Image 0 is identical: its PSNR is clipped at 100 dB.
    psnr = [100.0] + [10 * np.log10(4 / o**2) for o in offsets[1:]]
    np.testing.assert_allclose(report["psnr"], np.mean(psnr), rtol=1e-4)
    assert 0 < report["ssim"] < 1
    saved = json.loads((tmp_path / "report.json").read_text())
    assert [e["index"] for e in saved["examples"]["best"]] == [0, 1]
    assert [e["index"] for e in saved["examples"]["worst"]] == [4, 3]
    np.testing.assert_allclose(
        [e["l1"] for e in saved["examples"]["worst"]], [0.4, 0.3], rtol=1e-5
    )
    png = matplotlib.image.imread(tmp_path / "best_worst.png")
    assert png.shape[:2] == (4 * 16 + 3 * 2, 3 * 16 + 2 * 2)


def test_pix2pix_model_and_fid_kid_with_a_small_extractor():
    model = tiny_pix2pix()
    x = np.random.default_rng(1).uniform(-1, 1, (6, 32, 32, 3)).astype("float32")
    extractor = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D()]
    )
    report = pk.evaluate(
        model,
        [(x[:3], x[:3]), (x[3:], x[3:])],
        metrics=["l1", "fid", "kid"],
        feature_extractor=extractor,
        kid_subset_size=3,
    )
    fake = model.generator.predict(x, verbose=0)
    np.testing.assert_allclose(report["l1"], np.abs(fake - x).mean(), rtol=1e-5)
    assert report["fid"] > 0 and np.isfinite(report["kid"]) and report["kid_std"] >= 0


def test_miou_with_an_oracle_segmenter():
    ids = np.random.default_rng(2).integers(0, 4, (2, 8, 8))
    x = np.eye(4, dtype="float32")[ids] * 2 - 1

    class Identity(keras.Model):
        def call(self, x, training=False):
            return x

    report = pk.evaluate(
        Identity(),
        [(x, x, ids)],
        metrics=["miou"],
        segmenter=lambda images: np.argmax(images, -1),
        num_classes=4,
    )
    assert report["miou"] == 1.0 and report["pixel_accuracy"] == 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="metrics"):
        pk.evaluate(Shift(), _data(), metrics=["bleu"])
    with pytest.raises(ValueError, match="segmenter"):
        pk.evaluate(Shift(), _data(), metrics=["miou"])
    with pytest.raises(ValueError, match="no images"):
        pk.evaluate(Shift(), [], metrics=["l1"])
    with pytest.raises(ValueError, match="batches"):
        pk.evaluate(Shift(), [np.zeros((1, 8, 8, 3))], metrics=["l1"])
