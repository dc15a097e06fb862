"""`pk.TensorBoard`: the event files hold every logged value, both learning
rates, the sample grids and the training-step graph."""

import io
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorflow.core.protobuf import config_pb2

import pix2pix_keras as pk
from pix2pix_keras.tensorboard_logging import GRAPH_TAG
from pix2pix_keras.tensorboard_logging import IMAGE_TAG
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix

LOSSES = ("g_loss", "g_gan", "g_l1", "d_loss", "d_real", "d_fake")


def read_run(directory):
    """`{tag: (plugin name, [(step, tensor proto), ...])}` of one run folder."""
    acc = EventAccumulator(directory, size_guidance={"tensors": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        events = [(e.step, e.tensor_proto) for e in acc.Tensors(tag)]
        out[tag] = (plugin, events)
    return out


def scalars(run, tag):
    plugin, events = run[tag]
    assert plugin == "scalars", tag
    steps = [step for step, _ in events]
    return steps, [float(tf.make_ndarray(proto)) for _, proto in events]


def graph_node_names(proto):
    """Every node name in a traced graph (and its function library)."""
    meta = config_pb2.RunMetadata.FromString(proto.string_val[0])
    names = []
    for fg in meta.function_graphs:
        graph = fg.pre_optimization_graph
        names += [n.name for n in graph.node]
        for f in graph.library.function:
            names += [n.name for n in f.node_def]
    return names


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """4 epochs with validation, grids every 2 epochs, no LR callback."""
    keras.utils.set_random_seed(0)
    log_dir = str(tmp_path_factory.mktemp("tb"))
    model = tiny_pix2pix()
    model.compile(
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(4e-4, beta_1=0.5),
    )
    x, y = tiny_arrays(n=3)
    history = model.fit(
        tiny_dataset(n=4),
        validation_data=tiny_dataset(n=2),
        epochs=4,
        verbose=0,
        callbacks=[pk.TensorBoard(log_dir, samples=(x, y), image_every=2)],
    )
    return {
        "history": history.history,
        "train": read_run(os.path.join(log_dir, "train")),
        "validation": read_run(os.path.join(log_dir, "validation")),
        "files": sorted(os.listdir(log_dir)),
    }


def test_every_logged_value_is_a_scalar_once_per_epoch(logged):
    assert logged["files"] == ["train", "validation"]
    history = logged["history"]
    # The callback adds both learning rates to the logs.
    assert sorted(history) == sorted(
        list(LOSSES)
        + ["g_lr", "d_lr"]
        + [f"val_{k}" for k in LOSSES + ("psnr", "ssim")]
    )
    for key, values in history.items():
        run = "validation" if key.startswith("val_") else "train"
        tag = "epoch_" + key.removeprefix("val_")
        steps, logged_values = scalars(logged[run], tag)
        assert steps == [0, 1, 2, 3], tag
        np.testing.assert_allclose(logged_values, values, rtol=1e-6)
    train_scalars = {
        tag for tag, (plugin, _) in logged["train"].items() if plugin == "scalars"
    }
    assert train_scalars == {f"epoch_{k}" for k in LOSSES + ("g_lr", "d_lr")}
    assert set(logged["validation"]) == {
        f"epoch_{k}" for k in LOSSES + ("psnr", "ssim")
    }


def test_learning_rates_of_both_optimizers(logged):
    # No LearningRateHalving: the compiled rates, every epoch.
    np.testing.assert_allclose(
        scalars(logged["train"], "epoch_g_lr")[1], [1e-3] * 4, rtol=1e-6
    )
    np.testing.assert_allclose(
        scalars(logged["train"], "epoch_d_lr")[1], [4e-4] * 4, rtol=1e-6
    )


def test_sample_grid_images_every_n_epochs(logged):
    plugin, events = logged["train"][IMAGE_TAG]
    assert plugin == "images"
    # image_every=2: after epochs 2 and 4 (1-based), at steps 1 and 3.
    assert [step for step, _ in events] == [1, 3]
    for _, proto in events:
        width, height, png = proto.string_val
        # 3 rows of 32-pixel tiles with 2-pixel gaps; 3 columns.
        assert (int(width), int(height)) == (3 * 32 + 4, 3 * 32 + 4)
        image = Image.open(io.BytesIO(png))
        assert image.size == (100, 100)
        assert image.mode == "RGB"


def test_training_step_graph(logged):
    plugin, events = logged["train"][GRAPH_TAG]
    assert plugin == "graph_run_metadata_graph"
    assert [step for step, _ in events] == [0]  # once per fit()
    names = graph_node_names(events[0][1])
    assert len(names) > 100
    assert any("generator" in n for n in names)
    assert any("discriminator" in n for n in names)


def test_learning_rates_follow_halving_and_resume(tmp_path):
    log_dir = str(tmp_path)
    model = tiny_pix2pix()
    model.compile()
    halving = pk.LearningRateHalving(every=1)
    model.fit(
        tiny_dataset(n=2),
        epochs=2,
        verbose=0,
        callbacks=[halving, pk.TensorBoard(log_dir)],
    )
    model.fit(
        tiny_dataset(n=2),
        epochs=3,
        initial_epoch=2,
        verbose=0,
        callbacks=[halving, pk.TensorBoard(log_dir, write_graph=False)],
    )
    train = read_run(os.path.join(log_dir, "train"))
    steps, rates = scalars(train, "epoch_g_lr")
    assert steps == [0, 1, 2]
    np.testing.assert_allclose(rates, [2e-4, 1e-4, 5e-5], rtol=1e-6)
    steps, rates = scalars(train, "epoch_d_lr")
    np.testing.assert_allclose(rates, [2e-4, 1e-4, 5e-5], rtol=1e-6)
    # No samples: no images. The graph of the first fit() only (the second
    # has write_graph=False).
    assert IMAGE_TAG not in train
    assert [s for s, _ in train[GRAPH_TAG][1]] == [0]


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="write_steps_per_second"):
        pk.TensorBoard(str(tmp_path), write_steps_per_second=True)
    with pytest.raises(ValueError, match="image_every"):
        pk.TensorBoard(str(tmp_path), image_every=0)
    with pytest.raises(ValueError, match="samples"):
        pk.TensorBoard(str(tmp_path), samples="not a pair")


class _CountingSummary:
    """`tf.summary` that records the name of every `scalar` call."""

    def __init__(self):
        self.scalar_names = []

    def __getattr__(self, name):
        return getattr(tf.summary, name)

    def scalar(self, name, *args, **kwargs):
        self.scalar_names.append(name)
        return tf.summary.scalar(name, *args, **kwargs)


@pytest.mark.parametrize("update_freq", ["epoch", 2])
def test_per_batch_scalars_only_with_a_per_batch_update_freq(tmp_path, update_freq):
    """With update_freq="epoch" no per-batch scalar is even attempted (Keras
    calls `summary.scalar` for every batch value, writing nothing); with
    update_freq=2 every second batch of the 2 x 4 is written."""
    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    model.compile()
    callback = pk.TensorBoard(str(tmp_path), update_freq=update_freq, write_graph=False)
    counting = _CountingSummary()
    callback._summary_module = counting
    model.fit(tiny_dataset(n=8), epochs=2, verbose=0, callbacks=[callback])
    batch_calls = [n for n in counting.scalar_names if n.startswith("batch_")]
    epoch_calls = [n for n in counting.scalar_names if n.startswith("epoch_")]
    # 6 losses + 2 learning rates, per epoch, either way.
    assert len(epoch_calls) == 2 * 8
    run = read_run(os.path.join(str(tmp_path), "train"))
    batch_tags = sorted(t for t in run if t.startswith("batch_"))
    if update_freq == "epoch":
        assert batch_calls == []
        assert batch_tags == []
    else:
        assert len(batch_calls) == 8 * len(LOSSES)
        assert batch_tags == sorted(f"batch_{k}" for k in LOSSES)
        assert scalars(run, "batch_g_loss")[0] == [2, 4, 6, 8]
