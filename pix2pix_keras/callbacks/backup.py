"""Fault tolerance: Keras's `BackupAndRestore` with atomic writes and an
exact mid-epoch resume."""

import json
import os
import shutil
import weakref

import keras
import numpy as np

from pix2pix_keras._compat import BackupAndRestoreBase
from pix2pix_keras._compat import forget_initial_epoch
from pix2pix_keras._compat import iterator_dataset
from pix2pix_keras.models.training import unwrap_train_function
from pix2pix_keras.models.training import wrap_train_function
from pix2pix_keras.utils import atomic_path

__all__ = ["BackupAndRestore"]

#: tf.data cardinalities (tf.data.INFINITE_CARDINALITY / UNKNOWN_CARDINALITY).
_INFINITE, _UNKNOWN = -1, -2


class BackupAndRestore(BackupAndRestoreBase):
    """`keras.callbacks.BackupAndRestore` with atomic writes and an exact
    resume, also from the middle of an epoch.

    Same arguments as the Keras callback. Two things are added:

    **Atomic writes.** Keras 3.15 writes `latest.weights.h5`,
    `training_metadata.json` and their `.bkp` copies in place, so a kill
    during a write can leave a truncated file that the next run fails on (a
    truncated JSON raises `JSONDecodeError`, which the callback's fallback
    to the `.bkp` copy does not catch). Here each file is written under a
    temporary name, fsynced and renamed into place
    (`pix2pix_keras.utils.atomic_path`), weights first: a kill leaves the
    previous backup or the new one, and at worst (killed between the two
    renames) new weights with the previous position, so the resumed run
    repeats the batches since the previous backup.

    **Mid-epoch resume** (`save_freq=<batches>`). Keras records the batch
    of a mid-epoch backup but resumes at the start of that epoch, training
    its first batches a second time on weights that already saw them, and
    it records epoch 0 for mid-epoch backups written before the first
    epoch end of a resumed run. This callback resumes at the epoch *and*
    batch of the backup: the seen batches of that epoch are drawn from the
    data and dropped without training (each as a step whose logs are
    empty, so the other callbacks count batches as before), and the
    epoch's metric totals are restored, so the logged epoch means are those
    of an uninterrupted run. `training_metadata.json` keeps Keras's
    `epoch` and `batch` and adds, only where they are needed,
    `steps_done` (batches of `epoch` already trained), `data_skip`
    (batches to drop from the data iterator first, see below) and
    `metrics` (the metric totals at the backup).

    With seeds and `tf.config.experimental.enable_op_determinism()` the
    resumed run ends with the same weights, optimizer states, learning
    rates, λ, step counter (`d_every` phase) and dropout RNG states as an
    uninterrupted one, bit for bit, when its data iterator yields the same
    batches. tf.data draws a new shuffle order for each iterator made from
    a dataset, in the order the iterators are made, and a new process
    starts that count again; so give `fit()` ONE iterator for the whole
    run: a `.repeat()`ed dataset and `steps_per_epoch`. Keras then keeps
    that iterator across epochs, and the callback drops the batches of the
    earlier epochs too (`data_skip`; it costs one pass of the input
    pipeline over them, without training). A finite dataset without
    `steps_per_epoch` gets a new iterator every epoch: the resume is then
    exact only if its order does not change from one iteration to the next
    (no reshuffling, no per-iteration random seeds), or within the first
    epoch. Remote `backup_dir`s (`gs://...`) are written and resumed as
    Keras does.

    Example:

    ```python
    train_ds = load_paired_dataset("data/train", seed=0)  # reshuffles
    model.fit(train_ds.repeat(), epochs=200,
              steps_per_epoch=int(train_ds.cardinality()),
              callbacks=[BackupAndRestore("runs/backup", save_freq=100)])
    # killed? run the same lines again: it resumes at the last backup
    ```
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint=False,
        delete_checkpoint=True,
    ):
        super().__init__(
            backup_dir,
            save_freq=save_freq,
            double_checkpoint=double_checkpoint,
            delete_checkpoint=delete_checkpoint,
        )
        self._resume = {}
        self._iterator = None  # weak reference to the data iterator in use
        self._position = 0  # batches drawn from it so far
        self._epoch_start = None  # its position at this epoch's first step
        self._epoch_done = False

    def _local(self):
        return "://" not in os.fspath(self.backup_dir)

    # -- restore --------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._unwrap()
        self._resume = {}
        super().on_train_begin(logs)
        meta = {}
        if self._local() and os.path.exists(self.metadata_path):
            with open(self.metadata_path) as f:
                meta = json.load(f)
        epoch = int(meta.get("epoch", 0))
        done = int(meta.get("steps_done", 0))
        # Keras's save counter, as at the backup.
        self.current_epoch = epoch
        self.last_batch_seen = int(meta.get("batch", 0)) if done else 0
        self.reset_save_counter()
        self._resume = {
            "epoch": epoch,
            "skip_calls": done // max(int(self.model.steps_per_execution), 1),
            "done": done,
            "data_skip": int(meta.get("data_skip", 0)),
            "metrics": meta.get("metrics"),
        }
        self._iterator, self._position = None, 0
        self._wrap()

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch
        self._epoch_done = False
        self._epoch_start = None
        if epoch == self._resume.get("epoch") and self._resume.get("metrics"):
            # fit() has just reset the metrics: put the totals of the
            # batches trained before the backup back.
            self._set_metrics(self._resume.pop("metrics"))

    def on_train_batch_end(self, batch, logs=None):
        if self._skipping(batch):
            return
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_done = True
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self._unwrap()
        self._iterator = None
        # Keras leaves the resumed epoch on the model: a later fit() of the
        # same model would start there.
        forget_initial_epoch(self.model)
        super().on_train_end(logs)

    def _skipping(self, batch):
        return self.current_epoch == self._resume.get(
            "epoch"
        ) and batch < self._resume.get("done", 0)

    def _metric_values(self):
        return [
            [keras.ops.convert_to_numpy(v).tolist() for v in m.variables]
            for m in self.model.metrics
        ]

    def _set_metrics(self, values):
        metrics = self.model.metrics
        if len(values) != len(metrics):
            return
        for metric, saved in zip(metrics, values):
            if len(saved) != len(metric.variables):
                continue
            for v, value in zip(metric.variables, saved):
                v.assign(np.asarray(value, dtype=v.dtype).reshape(v.shape))

    # -- the data iterator ----------------------------------------------

    def _wrap(self):
        step_function = self.model.train_function
        per_call = max(int(self.model.steps_per_execution), 1)

        def train_function(iterator):
            current = self._iterator() if self._iterator else None
            if iterator is not current:
                self._track_iterator(iterator)
                skip = self._resume.pop("data_skip", 0)
                for _ in range(skip):  # earlier epochs' batches
                    next(iterator)
                self._position = skip
            if self._epoch_start is None:
                self._epoch_start = self._position
            if self._resume.get("skip_calls", 0) > 0:
                # A batch this epoch trained on before the backup.
                self._resume["skip_calls"] -= 1
                for _ in range(per_call):
                    next(iterator)
                self._position += per_call
                return {}
            logs = step_function(iterator)
            self._position += per_call
            return logs

        wrap_train_function(self.model, lambda step: train_function, "backup")

    def _unwrap(self):
        model = getattr(self, "model", None)
        if model is not None:
            unwrap_train_function(model, "backup")

    def _track_iterator(self, iterator):
        try:
            self._iterator = weakref.ref(iterator)
        except TypeError:
            self._iterator = lambda: iterator

    def _next_epoch_continues(self):
        """Whether Keras keeps the current iterator for the next epoch.

        Keras 3.15 makes a new one after a finite dataset's last batch
        (and every epoch without `steps_per_epoch`); an infinite one is
        kept. Without the cardinality: as observed this epoch.
        """
        iterator = self._iterator() if self._iterator else None
        dataset = iterator_dataset(iterator)
        try:
            size = int(dataset.cardinality())
        except (AttributeError, TypeError, ValueError):
            return bool(self._epoch_start)
        if size == _INFINITE:
            return True
        return size != _UNKNOWN and self._position < size

    # -- backup ---------------------------------------------------------

    def _metadata(self):
        steps = (self.params or {}).get("steps") or None
        done = self.last_batch_seen + 1
        if self._epoch_done or (steps is not None and done >= steps):
            # A whole epoch: resume at the start of the next one.
            epoch = self.current_epoch + (0 if self._epoch_done else 1)
            meta = {"epoch": epoch, "batch": 0}
            skip = self._position if self._next_epoch_continues() else 0
        else:
            meta = {
                "epoch": self.current_epoch,
                "batch": self.last_batch_seen,
                "steps_done": done,
            }
            skip = self._epoch_start or 0
            meta["metrics"] = self._metric_values()
        if skip:
            meta["data_skip"] = skip
        return meta

    def save_backup(self):
        if not self._local():
            return super().save_backup()
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path, suffix in (
                (self.weights_path, ".weights.h5"),
                (self.metadata_path, ".json"),
            ):
                if os.path.exists(path):
                    with atomic_path(f"{path}.bkp", suffix=suffix) as tmp:
                        shutil.copyfile(path, tmp)
        with atomic_path(self.weights_path, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)
        with atomic_path(self.metadata_path, suffix=".json") as tmp:
            with open(tmp, "w") as f:
                json.dump(self._metadata(), f)
