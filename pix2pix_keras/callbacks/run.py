"""The callbacks of `pix2pix train` that write its run folder.

`LogLearningRates` puts the learning rates into the epoch logs,
`RunDiagnostics` (`--diagnostics`) the number of troubleshooting findings,
`RunCSVLogger` appends them to `metrics.csv`, and `RunCheckpoint` saves
`checkpoints/epoch_NNNN.keras` and `checkpoints/state.json` for `--resume`.
The training callbacks of the library (`LinearDecay`, `SampleGrid`, ...)
are in the other modules of `pix2pix_keras.callbacks`.
"""

import csv
import json
import os

import keras

from pix2pix_keras.callbacks import Diagnostics
from pix2pix_keras.runs import STATE_FILE
from pix2pix_keras.runs import write_json
from pix2pix_keras.tensorboard_logging import learning_rates

__all__ = ["LogLearningRates", "RunCSVLogger", "RunCheckpoint", "RunDiagnostics"]


class LogLearningRates(keras.callbacks.Callback):
    """Puts `g_lr` and `d_lr` into the epoch logs (for CSVLogger)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for key, value in learning_rates(self.model).items():
                logs.setdefault(key, value)


class RunDiagnostics(Diagnostics):
    """`Diagnostics` that also writes its findings to the run folder.

    At each epoch end the findings of the epoch are appended to `path`
    (one JSON object a line, as in `Diagnostics.findings`) and their
    number is logged as `diagnostics` (a `metrics.csv` column).

    Args:
        path: str. The `diagnostics.jsonl` file of the run.
        **kwargs: passed to `Diagnostics` (`window`, `verbose`, ...).
    """

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self.path = path
        self._written = 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._written = len(self.findings)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        new = self.findings[self._written :]
        self._written = len(self.findings)
        if new:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                for finding in new:
                    f.write(json.dumps(finding, default=float) + "\n")
        if logs is not None:
            logs["diagnostics"] = float(len(new))


class RunCSVLogger(keras.callbacks.CSVLogger):
    """`CSVLogger` whose columns are exactly the logged values.

    Keras 3.15 adds a `val_` copy of every column when the first epoch has
    no validation values (empty `NA` columns for a run without validation
    data). When appending to a file, its header's columns are kept, so a
    resumed run's rows line up with the earlier ones.
    """

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None:
            header = None
            if os.path.isfile(self.filename):
                with open(self.filename, newline="") as f:
                    header = next(csv.reader(f), None)
            if self.append and header and header[0] == "epoch":
                self.keys = header[1:]
            else:
                self.keys = sorted(logs or {})
        super().on_epoch_end(epoch, logs)


class RunCheckpoint(keras.callbacks.Callback):
    """Saves `epoch_NNNN.keras` and then `state.json` pointing to it.

    The model is written before the state that names it (both atomically),
    so `state.json` always points to a complete checkpoint of the epoch it
    records. Older checkpoints beyond `keep` are deleted afterwards.

    Args:
        directory: str. The `checkpoints/` folder of the run.
        every: int. Save every `every` epochs (and after the last).
        keep: int. Checkpoints kept.
    """

    def __init__(self, directory, every=1, keep=1):
        super().__init__()
        self.directory = directory
        self.every = every
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.params.get("epochs"):
            return
        os.makedirs(self.directory, exist_ok=True)
        name = f"epoch_{done:04d}.keras"
        self.model.save(os.path.join(self.directory, name))
        write_json(
            os.path.join(self.directory, STATE_FILE),
            {"epoch": done, "checkpoint": name},
        )
        old = sorted(
            (
                f
                for f in os.listdir(self.directory)
                if f.startswith("epoch_")
                and f.endswith(".keras")
                and f != name
                and f[6:-6].isdigit()
            ),
            key=lambda f: int(f[6:-6]),
        )
        for f in old[: max(len(old) - (self.keep - 1), 0)]:
            os.remove(os.path.join(self.directory, f))
