"""The FID Inception loader (the 2015 graph of the original FID code).

Tests cannot download the real graph (89 MB, no internet here), so they
build a toy GraphDef with the real graph's interface and front end:
`DecodeJpeg/contents` -> `DecodeJpeg` -> `Cast` -> `ExpandDims` (the tensor
the original code feeds) -> `ResizeBilinear` to 299×299 (TensorFlow's
original resize: no half-pixel centres) -> `Sub` 128 -> `Mul` 1/128, then,
instead of Inception, a toy "network": the preprocessed pixels on a 5×5
grid as `pool_3` (n, 1, 1, 75). It is packed as `classify_image_graph_def.pb`
in `inception-2015-12-05.tgz` and served from a local HTTP server, so the
real `keras.utils.get_file` path runs.
"""

import hashlib
import io
import os
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_keras import fid_inception as F
from pix2pix_keras import metrics as M
from tests.test_datasets import Server

STEP = 74  # pixels 0, 74, ..., 296 of the 299×299 resized image
WIDTH = 5 * 5 * 3


def toy_graph_def(output="pool_3"):
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(
            tf.string, shape=[], name="DecodeJpeg/contents"
        )
        image = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        x = tf.cast(image, tf.float32, name="Cast")
        x = tf.expand_dims(x, 0, name="ExpandDims")
        size = tf.constant([299, 299], name="ResizeBilinear/size")
        x = tf.raw_ops.ResizeBilinear(
            images=x,
            size=size,
            align_corners=False,
            half_pixel_centers=False,
            name="ResizeBilinear",
        )
        x = tf.subtract(x, 128.0, name="Sub")
        x = tf.multiply(x, 1.0 / 128.0, name="Mul")
        # A batch norm that changes nothing, as the op of the 2015 graph.
        for name, value in (
            ("mean", 0.0),
            ("variance", 1.0),
            ("beta", 0.0),
            ("gamma", 1.0),
        ):
            tf.constant(np.full(3, value, np.float32), name=f"conv/batchnorm/{name}")
        x = tf.identity(x, name="conv/batchnorm")
        x = x[:, ::STEP, ::STEP, :]
        tf.reshape(x, [-1, 1, 1, WIDTH], name=output)
    graph_def = graph.as_graph_def()
    # BatchNormWithGlobalNormalization, removed from GraphDef version 9 on,
    # in a GraphDef of an old producer version, like the 2015 graph: it
    # runs only in a graph that keeps that version.
    for node in graph_def.node:
        if node.name == "conv/batchnorm":
            node.op = "BatchNormWithGlobalNormalization"
            node.input.extend(
                [
                    f"conv/batchnorm/{name}"
                    for name in ("mean", "variance", "beta", "gamma")
                ]
            )
            node.attr.clear()
            node.attr["T"].type = tf.float32.as_datatype_enum
            node.attr["variance_epsilon"].f = 0.0
            node.attr["scale_after_normalization"].b = True
    graph_def.versions.producer = 5
    return graph_def


def pack(path, graph_bytes):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in ((F.FID_INCEPTION_GRAPH, graph_bytes), ("LICENSE", b"toy\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def reference_features(images):
    """The original code's preprocessing, written out: 8-bit values,
    TensorFlow's original bilinear resize to 299, (v - 128) / 128."""
    values = np.clip(np.round((np.asarray(images, np.float64) + 1) * 127.5), 0, 255)
    if values.shape[-1] == 1:
        values = np.repeat(values, 3, axis=-1)
    x = (F.legacy_resize_bilinear(values, (299, 299)) - 128.0) / 128.0
    return x[:, ::STEP, ::STEP, :].reshape(len(x), -1)


def images(n, h, w, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, h, w, c)).astype("float32")


@pytest.fixture
def served(tmp_path):
    directory = tmp_path / "served"
    directory.mkdir()
    sha256 = pack(
        directory / F.FID_INCEPTION_ARCHIVE, toy_graph_def().SerializeToString()
    )
    server = Server(str(directory))
    yield server, sha256
    server.close()


def test_legacy_resize_reference():
    # Output pixel i samples the input at i * in / out: 2 -> 4 pixels
    # samples 0, 0.5, 1 and 1.5 (clamped to the last pixel).
    row = np.array([0.0, 10.0]).reshape(1, 1, 2, 1)
    out = F.legacy_resize_bilinear(row, (1, 4))
    np.testing.assert_allclose(out.ravel(), [0.0, 5.0, 10.0, 10.0])
    np.testing.assert_allclose(
        F.to_uint8_range(np.array([-1.0, -0.5, 0.0, 1.0, 1.2])),
        [0.0, 64.0, 128.0, 255.0, 255.0],
    )  # 63.75 -> 64, 127.5 -> 128


def test_download_features_and_cache(served, tmp_path):
    server, sha256 = served
    cache = tmp_path / "cache"
    url = server.url(F.FID_INCEPTION_ARCHIVE)
    extractor = F.fid_inception_extractor(
        origin=url, file_hash=sha256, cache_dir=str(cache)
    )
    assert extractor.path == str(cache / "models" / F.FID_INCEPTION_ARCHIVE)
    assert server.requests == ["/" + F.FID_INCEPTION_ARCHIVE]
    # Any size, a batch at a time; the graph does the resize and scaling.
    for h, w in ((7, 5), (32, 32), (300, 301)):
        x = images(3, h, w, seed=h)
        features = np.asarray(extractor(x))
        assert features.shape == (3, WIDTH)
        np.testing.assert_allclose(features, reference_features(x), atol=2e-6)
    # Grayscale is repeated to RGB.
    gray = images(2, 9, 9, c=1)
    np.testing.assert_allclose(
        np.asarray(extractor(gray)), reference_features(gray), atol=2e-6
    )
    # An antialiased or half-pixel resize would give other features.
    x = images(2, 7, 5)
    half_pixel = tf.image.resize(np.round((x + 1) * 127.5), (299, 299)).numpy()
    half_pixel = ((half_pixel - 128) / 128)[:, ::STEP, ::STEP].reshape(2, -1)
    assert np.abs(np.asarray(extractor(x)) - half_pixel).max() > 0.1
    # Cached: no second request, without or with the hash.
    F.fid_inception_extractor(origin=url, cache_dir=str(cache))
    F.fid_inception_extractor(origin=url, file_hash=sha256, cache_dir=str(cache))
    assert len(server.requests) == 1


def test_fid_and_kid_with_the_graph(served, tmp_path):
    server, _ = served
    local = tmp_path / "copy.tgz"
    with (
        open(local, "wb") as f,
        open(os.path.join(tmp_path, "served", F.FID_INCEPTION_ARCHIVE), "rb") as g,
    ):
        f.write(g.read())
    # The default extractor with a local copy as `weights`: no download.
    fid = M.FrechetInceptionDistance(weights=str(local), batch_size=3)
    assert isinstance(fid.extractor, F.FIDInception)
    assert fid.input_size is None  # fed at their own size
    real, fake = images(8, 20, 24, seed=1), images(8, 16, 16, seed=2) * 0.5
    fid.update_state(real=real, fake=fake)
    f_real, f_fake = reference_features(real), reference_features(fake)
    expected = M.frechet_distance(
        f_real.mean(0),
        np.cov(f_real, rowvar=False),
        f_fake.mean(0),
        np.cov(f_fake, rowvar=False),
    )
    assert expected > 0.1
    assert fid.result() == pytest.approx(expected, rel=1e-5)
    kid = M.KernelInceptionDistance(fid.extractor, subset_size=4, num_subsets=3)
    kid.update_state(real=real, fake=fake)
    assert kid.stored_features("real").shape == (8, WIDTH)
    assert kid.result() == pytest.approx(
        M.kid_from_features(f_real, f_fake, subset_size=4, num_subsets=3)[0],
        rel=1e-4,
        abs=1e-7,
    )
    # The graph file itself, as a path extractor.
    pb = tmp_path / F.FID_INCEPTION_GRAPH
    pb.write_bytes(toy_graph_def().SerializeToString())
    from_pb = M.FrechetInceptionDistance(str(pb))
    np.testing.assert_allclose(from_pb.features(real), f_real, atol=2e-6)
    with pytest.raises(
        ValueError,
        match="resizes the images to 299×299 itself.*Received: input_size=64",
    ):
        M.FrechetInceptionDistance(fid.extractor, input_size=64)
    with pytest.raises(ValueError, match="weights=None.*keras_inception_v3"):
        M.FrechetInceptionDistance(weights=None)
    with pytest.raises(ValueError, match="is a Keras InceptionV3 weights"):
        M.FrechetInceptionDistance(weights=str(tmp_path / "notop.h5"))


def test_wrong_hash_raises_names_the_file_and_deletes_it(served, tmp_path):
    server, sha256 = served
    cache = tmp_path / "cache"
    url = server.url(F.FID_INCEPTION_ARCHIVE)
    cached = cache / "models" / F.FID_INCEPTION_ARCHIVE
    with pytest.raises(ValueError) as info:
        F.fid_inception_extractor(origin=url, file_hash="0" * 64, cache_dir=str(cache))
    message = str(info.value)
    assert str(cached) in message and url in message
    assert "does not match file_hash='000" in message
    assert not cached.exists()
    F.fid_inception_extractor(origin=url, file_hash=sha256, cache_dir=str(cache))
    assert cached.exists() and len(server.requests) == 2


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "EOFError"),  # an interrupted download: the archive cut short
        (b"<html>404</html>", "not a GraphDef"),  # a proxy's error page
    ],
)
def test_corrupt_cached_archive_is_named_and_deleted(served, tmp_path, content, reason):
    server, _ = served
    cache = tmp_path / "cache"
    cached = cache / "models" / F.FID_INCEPTION_ARCHIVE
    cached.parent.mkdir(parents=True)
    whole = (tmp_path / "served" / F.FID_INCEPTION_ARCHIVE).read_bytes()
    cached.write_bytes(whole[: len(whole) // 2] if content is None else content)
    url = server.url(F.FID_INCEPTION_ARCHIVE)
    with pytest.raises(ValueError) as info:
        F.fid_inception_extractor(origin=url, cache_dir=str(cache))
    message = str(info.value)
    assert message.startswith(f"The cached FID Inception archive {cached} is corrupt")
    assert reason in message and "it was deleted" in message
    assert not cached.exists() and server.requests == []
    # The next call downloads it again.
    F.fid_inception_extractor(origin=url, cache_dir=str(cache))
    assert len(server.requests) == 1


def test_wrong_graph_and_local_files(tmp_path):
    other = tmp_path / "other.tgz"
    pack(other, toy_graph_def(output="logits").SerializeToString())
    with pytest.raises(
        ValueError,
        match=r"other.tgz is not the FID Inception "
        r"graph .*no pool_3:0 tensor",
    ):
        F.fid_inception_extractor(str(other))
    assert other.exists()  # the user's own file is never deleted
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(ValueError, match="holds no classify_image_graph_def"):
        F.fid_inception_extractor(str(empty))
    with pytest.raises(ValueError, match="FID Inception file not found"):
        F.fid_inception_extractor(str(tmp_path / "missing.tgz"))


def test_default_extractor_is_the_fid_graph_and_offline_is_clear(monkeypatch, tmp_path):
    calls = []

    def offline(**kwargs):
        calls.append(kwargs)
        raise Exception("URL fetch failure: Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(
        RuntimeError,
        match="Could not download the FID "
        "Inception archive from http://download.tensorflow",
    ):
        M.FrechetInceptionDistance()
    with pytest.raises(RuntimeError, match="FID Inception"):
        M.KernelInceptionDistance()
    assert calls[0]["origin"] == F.FID_INCEPTION_URL
    assert calls[0]["fname"] == "inception-2015-12-05.tgz"
    assert calls[0]["file_hash"] is None  # none is published


def test_cli_evaluate_fid_network_flag(capsys):
    from pix2pix_keras.cli import main

    assert main(["evaluate", "model.keras", "--fid-network", "inception"]) == 2
    assert "argument --fid-network: invalid choice: 'inception'" in (
        capsys.readouterr().err
    )
    assert main(["evaluate", "--help"]) == 0
    assert "fid_inception_2015" in capsys.readouterr().out
