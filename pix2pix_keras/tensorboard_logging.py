"""TensorBoard logging for Pix2Pix: losses, both learning rates, sample
grids and the training-step graph."""

import keras
import numpy as np
import tensorflow as tf

from pix2pix_keras.callbacks import SampleGrid
from pix2pix_keras.utils import check_int

__all__ = ["GRAPH_TAG", "IMAGE_TAG", "TensorBoard", "learning_rates"]

#: Tag of the sample grids (images) in the `train` run.
IMAGE_TAG = "samples"
#: Tag of the traced training-step graph in the `train` run.
GRAPH_TAG = "train_step"


def learning_rates(model):
    """The current learning rates of both optimizers: `{"g_lr", "d_lr"}`.

    Optimizers that are missing (an uncompiled model) are left out.
    """
    rates = {}
    for key in ("g", "d"):
        opt = getattr(model, f"{key}_optimizer", None)
        if opt is not None:
            rates[f"{key}_lr"] = float(keras.ops.convert_to_numpy(opt.learning_rate))
    return rates


class TensorBoard(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` for a Pix2Pix model.

    Keras's callback logs every value of `logs` as a scalar (`epoch_<key>`
    in the `train` run, `val_<key>` as `epoch_<key>` in the `validation`
    run, at step = 0-based epoch), but with the two optimizers of Pix2Pix
    (`model.optimizer` is `None`) it logs no learning rate, and it writes
    no graph, because Keras 3 wraps the compiled training step in a plain
    Python function. This subclass adds:

    - `epoch_g_lr` and `epoch_d_lr`: both learning rates, every epoch (also
      written into `logs`, so later callbacks such as `CSVLogger` see them);
    - `samples`: a `source | generated | target` grid of fixed examples (see
      `make_grid`) as an image every `image_every` epochs, at step = 0-based
      epoch, so it lines up with the scalars;
    - `train_step`: the graph of the first training step of each `fit()`
      (traced with `tf.summary.trace_on`), shown on the Graphs tab.

    View with `tensorboard --logdir <log_dir>`.

    Args:
        log_dir: str. Folder of the event files (`train/` and
            `validation/` below it). Defaults to `"logs"`.
        samples: `(source, target)` arrays `(n, h, w, c)` in [-1, 1], a
            `tf.data.Dataset` of such batches (its first batch is used), or
            `None` for no images. Defaults to `None`.
        image_every: int >= 1. Log the grid every `image_every` epochs (at
            epochs `image_every`, `2 * image_every`, ... counted from 1).
            Defaults to `1`.
        write_graph: bool. Log the training-step graph. Defaults to `True`.
        **kwargs: other arguments of `keras.callbacks.TensorBoard`
            (`update_freq`, `histogram_freq`, `profile_batch`, ...).
            `write_steps_per_second=True` is not supported: it reads
            `model.optimizer`, which a Pix2Pix model does not have.

    Example:

    ```python
    val = load_paired_dataset(sample_data_dir("val"), direction="BtoA",
                              training=False, batch_size=6)
    model.fit(train_ds, epochs=200, validation_data=val, callbacks=[
        LearningRateHalving(every=10),
        TensorBoard("runs/tb", samples=val, image_every=5),
    ])
    ```
    """

    def __init__(
        self, log_dir="logs", samples=None, image_every=1, write_graph=True, **kwargs
    ):
        if kwargs.get("write_steps_per_second"):
            raise ValueError(
                "`write_steps_per_second=True` is not supported for Pix2Pix "
                "(it reads `model.optimizer`; Pix2Pix has `g_optimizer` and "
                "`d_optimizer`)."
            )
        check_int(image_every=image_every)
        if not isinstance(write_graph, bool):
            raise ValueError(
                f"`write_graph` must be a bool. Received: write_graph={write_graph!r}"
            )
        # Keras's own graph writer finds nothing to write for Pix2Pix.
        super().__init__(log_dir=log_dir, write_graph=False, **kwargs)
        self.image_every = image_every
        self.trace_graph = write_graph
        # SampleGrid validates the samples and renders the grid; it writes
        # no file unless its own hooks run, which they do not here.
        self._grid = (
            None
            if samples is None
            else SampleGrid(samples, directory=log_dir, every=image_every)
        )
        self._tracing = False
        self._graph_written = False
        self._epoch = 0

    def set_model(self, model):
        super().set_model(model)
        if self._grid is not None:
            self._grid.set_model(model)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._graph_written = not self.trace_graph

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        # Keras's profiler traces (profile_batch) record the graph already.
        if not self._graph_written and not self._is_tracing:
            tf.summary.trace_on(graph=True, profiler=False)
            self._tracing = True

    def on_train_batch_end(self, batch, logs=None):
        if self._tracing:
            self._tracing = False
            if logs:
                with self._train_writer.as_default():
                    tf.summary.trace_export(GRAPH_TAG, step=self._epoch)
                self._graph_written = True
            else:
                # A step that did not run (a BackupAndRestore skip): try
                # again on the next one.
                tf.summary.trace_off()
        if self.update_freq == "epoch":
            # Keras calls `summary.scalar("batch_<key>")` for every value of
            # every batch even then; with no default writer pushed (only
            # done for a per-batch update_freq) they write nothing, yet each
            # call costs time and leaves memory behind (the RSS of a 2,000
            # step run grew 11 MB per 1,000 steps with them, 7 without:
            # benchmarks/long_run.py). The profiler hooks still run.
            logs = None
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for key, value in learning_rates(self.model).items():
                logs.setdefault(key, value)
        super().on_epoch_end(epoch, logs)
        if self._grid is not None and (epoch + 1) % self.image_every == 0:
            grid = self._grid.render()
            with self._train_writer.as_default():
                tf.summary.image(
                    IMAGE_TAG,
                    np.asarray(grid, "float32")[None],
                    step=epoch,
                    max_outputs=1,
                    description="source | generated | target",
                )
            self._train_writer.flush()

    def on_train_end(self, logs=None):
        if self._tracing:
            tf.summary.trace_off()
            self._tracing = False
        super().on_train_end(logs)
