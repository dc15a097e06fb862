"""Offline tests of the pix2pix dataset registry and `load()`.

A small `facades.tar.gz` is built from real CMP facades exactly like the
public set (photo on the left as A, label map on the right as B, 256×256
each, JPEG) and served from a local HTTP server.
"""

import hashlib
import http.server
import os
import tarfile
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pix2pix_keras import datasets

SPLITS = {"train": 3, "val": 2, "test": 2}


def ab_image(jpg, png):
    photo = Image.open(jpg).convert("RGB").resize((256, 256), Image.BICUBIC)
    label = Image.open(png).convert("RGB").resize((256, 256), Image.NEAREST)
    ab = Image.new("RGB", (512, 256))
    ab.paste(photo, (0, 0))
    ab.paste(label, (256, 0))
    return ab


def make_archive(shared_data_dir, out_dir, splits=SPLITS):
    """Writes `facades.tar.gz` (facades/<split>/<i>.jpg) into `out_dir`."""
    stems = sorted(
        f[:-4]
        for f in os.listdir(os.path.join(shared_data_dir, "train"))
        if f.endswith(".png")
    )
    tree = os.path.join(out_dir, "tree")
    k = 0
    for split, n in splits.items():
        os.makedirs(os.path.join(tree, "facades", split))
        for i in range(1, n + 1):
            base = os.path.join(shared_data_dir, "train", stems[k])
            k += 1
            ab_image(base + ".jpg", base + ".png").save(
                os.path.join(tree, "facades", split, f"{i}.jpg"),
                format="JPEG",
                quality=100,
                subsampling=0,
            )
    archive = os.path.join(out_dir, "facades.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(os.path.join(tree, "facades"), arcname="facades")
    with open(archive, "rb") as f:
        return archive, hashlib.sha256(f.read()).hexdigest()


class Server:
    def __init__(self, directory):
        self.requests = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=directory, **kwargs)

            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def served(shared_data_dir, tmp_path):
    serve_dir = tmp_path / "served"
    serve_dir.mkdir()
    archive, sha256 = make_archive(shared_data_dir, str(serve_dir))
    server = Server(str(serve_dir))
    yield server, archive, sha256
    server.close()


def palette(shared_data_dir):
    rows = np.loadtxt(
        os.path.join(shared_data_dir, "palette.txt"),
        usecols=(2, 3, 4),
        comments="#",
    )
    return rows.astype(np.float32)


def near_palette_fraction(image, colours, tol=24.0):
    """Fraction of pixels of a uint8-range image within `tol` of a colour."""
    pixels = np.asarray(image, np.float32).reshape(-1, 1, 3)
    dist = np.abs(pixels - colours[None]).max(axis=-1).min(axis=-1)
    return float(np.mean(dist <= tol))


def halves(path):
    """Decodes an AB file as the loader does: left and right in [-1, 1]."""
    ab = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
    ab = tf.cast(ab, tf.float32) / 127.5 - 1.0
    return ab[:, :256].numpy(), ab[:, 256:].numpy()


def test_load_facades_from_local_server(served, shared_data_dir, tmp_path):
    server, _, sha256 = served
    cache = str(tmp_path / "cache")
    url = server.url("facades.tar.gz")
    ds = datasets.load("facades", origin=url, directory=cache, file_hash=sha256)
    assert list(ds) == ["train", "val", "test"]
    assert server.requests == ["/facades.tar.gz"]
    assert os.path.isfile(os.path.join(cache, "pix2pix", "facades.tar.gz"))
    root = os.path.join(cache, "pix2pix", "facades_extracted", "facades")
    assert sorted(os.listdir(root)) == ["test", "train", "val"]

    colours = palette(shared_data_dir)
    for split, n in SPLITS.items():
        batches = list(ds[split])
        assert len(batches) == n
        for source, target in batches:
            assert source.shape == target.shape == (1, 256, 256, 3)
            assert source.dtype == target.dtype == tf.float32
            for t in (source, target):
                assert -1.0 <= float(tf.reduce_min(t))
                assert float(tf.reduce_max(t)) <= 1.0
            # Facades default to BtoA: the source is the label map (B),
            # palette colours up to JPEG noise; the photo is not.
            assert near_palette_fraction((source[0] + 1) * 127.5, colours) > 0.99
            assert near_palette_fraction((target[0] + 1) * 127.5, colours) < 0.2

    # Evaluation splits are a plain decode: source is exactly the right half.
    for i, (source, target) in enumerate(ds["val"], start=1):
        a, b = halves(os.path.join(root, "val", f"{i}.jpg"))
        np.testing.assert_allclose(source[0], b, atol=1e-6)
        np.testing.assert_allclose(target[0], a, atol=1e-6)

    # A second call uses the cached archive and does not extract it again
    # (a fresh extraction would drop this extra file).
    probe = os.path.join(root, "probe.txt")
    open(probe, "w").close()
    again = datasets.load(
        "facades", origin=url, directory=cache, file_hash=sha256, splits="test"
    )
    assert list(again) == ["test"]
    assert len(list(again["test"])) == 2
    assert server.requests == ["/facades.tar.gz"]
    assert os.path.exists(probe)


def test_direction_training_and_kwargs(served, tmp_path):
    server, _, _ = served
    ds = datasets.load(
        "facades",
        origin=server.url("facades.tar.gz"),
        directory=str(tmp_path / "cache"),
        splits=["train"],
        direction="AtoB",
        training=False,
        batch_size=2,
        image_size=(128, 128),
    )
    batches = list(ds["train"])
    assert [tuple(s.shape) for s, _ in batches] == [
        (2, 128, 128, 3),
        (1, 128, 128, 3),
    ]
    root = os.path.join(tmp_path, "cache", "pix2pix", "facades_extracted", "facades")
    a, b = halves(os.path.join(root, "train", "1.jpg"))
    a_small = tf.image.resize(a, (128, 128), method="nearest").numpy()
    b_small = tf.image.resize(b, (128, 128), method="nearest").numpy()
    # AtoB: the photo (left half) is the source, in file order when not
    # training.
    source, target = batches[0]
    np.testing.assert_allclose(source[0], a_small, atol=1e-6)
    np.testing.assert_allclose(target[0], b_small, atol=1e-6)


def test_wrong_hash_raises_and_keeps_nothing(served, tmp_path):
    server, _, sha256 = served
    cache = str(tmp_path / "cache")
    url = server.url("facades.tar.gz")
    with pytest.raises(ValueError, match="hash") as info:
        datasets.load("facades", origin=url, directory=cache, file_hash="0" * 64)
    assert "facades" in str(info.value) and url in str(info.value)
    assert not os.path.exists(os.path.join(cache, "pix2pix", "facades.tar.gz"))
    assert len(server.requests) == 1
    # The right hash downloads again and works.
    ds = datasets.load(
        "facades", origin=url, directory=cache, file_hash=sha256, splits="val"
    )
    assert len(list(ds["val"])) == 2
    assert len(server.requests) == 2


def test_changed_archive_is_downloaded_and_extracted_again(
    served, shared_data_dir, tmp_path
):
    server, archive, sha256 = served
    cache = str(tmp_path / "cache")
    url = server.url("facades.tar.gz")
    ds = datasets.load("facades", origin=url, directory=cache, splits="val")
    assert len(list(ds["val"])) == 2
    # A new archive with another hash: the cached one no longer matches.
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    new_archive, new_sha256 = make_archive(
        shared_data_dir, str(new_dir), {"train": 1, "val": 1}
    )
    os.replace(new_archive, archive)
    ds = datasets.load(
        "facades",
        origin=url,
        directory=cache,
        file_hash=new_sha256,
        splits="val",
    )
    assert len(list(ds["val"])) == 1
    assert len(server.requests) == 2
    root = os.path.join(cache, "pix2pix", "facades_extracted", "facades")
    assert sorted(os.listdir(root)) == ["train", "val"]


def test_missing_split_names_the_folder(served, tmp_path):
    server, _, _ = served
    cache = str(tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="extra") as info:
        datasets.load(
            "facades",
            origin=server.url("facades.tar.gz"),
            directory=cache,
            splits=("train", "extra"),
        )
    folder = os.path.join(cache, "pix2pix", "facades_extracted", "facades", "extra")
    assert folder in str(info.value)
    assert "test, train, val" in str(info.value)


def test_invalid_arguments_fail_before_download(monkeypatch):
    def no_download(**kwargs):
        raise AssertionError("get_file must not be called")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    with pytest.raises(ValueError, match="'horses'.*facades, cityscapes"):
        datasets.load("horses")
    with pytest.raises(ValueError, match="direction"):
        datasets.load("facades", direction="AB")
    with pytest.raises(ValueError, match="splits"):
        datasets.load("facades", splits=[])


def test_default_origin_and_cache_layout(monkeypatch, tmp_path):
    calls = []

    def fake_get_file(**kwargs):
        calls.append(kwargs)
        raise ConnectionError("offline")

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    with pytest.raises(ConnectionError):
        datasets.load("maps", directory=str(tmp_path / "new"))
    assert datasets.BASE_URL == ("http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/")
    expected = dict(
        fname="maps.tar.gz",
        origin=datasets.BASE_URL + "maps.tar.gz",
        file_hash=None,
        cache_subdir="pix2pix",
        cache_dir=str(tmp_path / "new"),
    )
    assert calls == [expected]
    # Created first: get_file would silently use /tmp/.keras otherwise.
    assert os.path.isdir(tmp_path / "new")
    # Without `directory`, the Keras cache root ($KERAS_HOME) is used.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with pytest.raises(ConnectionError):
        datasets.download("maps")
    assert calls[-1] == dict(expected, cache_dir=str(tmp_path / "home"))


def test_registry():
    infos = datasets.list_datasets()
    assert list(infos) == [
        "facades",
        "cityscapes",
        "maps",
        "edges2shoes",
        "edges2handbags",
        "night2day",
    ]
    expected = {
        "facades": (("train", "val", "test"), "BtoA"),
        "cityscapes": (("train", "val"), "BtoA"),
        "maps": (("train", "val"), "AtoB"),
        "edges2shoes": (("train", "val"), "AtoB"),
        "edges2handbags": (("train", "val"), "AtoB"),
        "night2day": (("train", "val", "test"), "AtoB"),
    }
    for name, info in infos.items():
        assert info.name == name
        assert (info.splits, info.direction) == expected[name]
        assert info.origin == (
            f"http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
        )
        assert info.file_hash is None  # no published checksums
        assert info.size and info.description
    # A copy: callers cannot change the registry.
    infos.pop("facades")
    assert "facades" in datasets.list_datasets()
