"""Training callbacks: LR halving and linear decay, sample grids, diagnostics, backups."""

import collections
import json
import logging
import math
import os
import shutil
import sys
import warnings
import weakref

import keras
import numpy as np

from pix2pix_keras._compat import BackupAndRestoreBase
from pix2pix_keras._compat import forget_initial_epoch
from pix2pix_keras._compat import iterator_dataset
from pix2pix_keras._compat import learning_rate_schedule
from pix2pix_keras.models.training import current_learning_rate
from pix2pix_keras.models.training import unwrap_train_function
from pix2pix_keras.models.training import wrap_train_function
from pix2pix_keras.utils import atomic_path
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_number as _check_number


def _optimizers(model):
    """`{"g": ..., "d": ...}`, plus `"e"` / `"d2"` where the model has them
    (BicycleGAN's encoder and second discriminator)."""
    opts = {"g": getattr(model, "g_optimizer", None),
            "d": getattr(model, "d_optimizer", None)}
    if opts["g"] is None or opts["d"] is None:
        raise ValueError(
            "This callback needs a compiled Pix2Pix-style model with "
            "`g_optimizer` and `d_optimizer`; call model.compile() first."
        )
    for key in ("e", "d2"):
        opt = getattr(model, f"{key}_optimizer", None)
        if opt is not None:
            opts[key] = opt
    return opts


class _EpochRateSchedule(keras.callbacks.Callback):
    """Sets every optimizer's rate to `base * multiplier(epoch)` each epoch.

    `base` is each optimizer's rate when the model was compiled
    (`model.base_learning_rates`, saved with the model); the rate is set
    from the absolute epoch, so the schedule is idempotent. Subclasses
    define `multiplier(epoch)`.
    """

    def multiplier(self, epoch):
        raise NotImplementedError

    def learning_rate(self, base, epoch):
        """The rate for 0-based `epoch` starting from `base`."""
        return base * self.multiplier(epoch)

    def on_train_begin(self, logs=None):
        for key, opt in _optimizers(self.model).items():
            if not isinstance(opt.learning_rate, keras.Variable):
                raise ValueError(
                    f"{type(self).__name__} needs a float learning rate on "
                    f"the {key}_optimizer, not a schedule "
                    f"({type(learning_rate_schedule(opt)).__name__})."
                )

    def on_epoch_begin(self, epoch, logs=None):
        base = getattr(self.model, "base_learning_rates", {})
        for key, opt in _optimizers(self.model).items():
            if base.get(key) is None:
                base[key] = current_learning_rate(opt)
            opt.learning_rate.assign(self.learning_rate(base[key], epoch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key, opt in _optimizers(self.model).items():
            logs[f"{key}_lr"] = current_learning_rate(opt)


class LearningRateHalving(_EpochRateSchedule):
    """Multiplies the learning rates by `factor` every `every` epochs.

    Every optimizer of the model: G's and D's, and for a `BicycleGAN` also
    E's and D2's (as the reference decays all four).

    The rate of epoch `e` is `base * factor ** (e // every)` (never below
    `min_lr`), where `base` is each optimizer's rate when the model was
    compiled (`model.base_learning_rates`, saved with the model). Setting
    it from the absolute epoch makes the schedule idempotent: it resumes
    correctly with `fit(initial_epoch=...)`, `BackupAndRestore` or a
    reloaded model. The rates are logged as `g_lr` and `d_lr` (and
    `e_lr`, `d2_lr`).

    Halving is fast: with the defaults the rate is below 1e-3 × base from
    epoch 100 on, so on a long run most epochs learn almost nothing; for
    runs of more than about 100 epochs prefer `LinearDecay`, or raise
    `every`.

    Args:
        every: int >= 1. Period in epochs. Defaults to `10`.
        factor: float in (0, 1]. Multiplier per period. Defaults to `0.5`.
        min_lr: float >= 0. Lower bound. Defaults to `0.0`.

    Example:

    ```python
    model.fit(train_ds, epochs=100, callbacks=[LearningRateHalving(every=10)])
    ```
    """

    def __init__(self, every=10, factor=0.5, min_lr=0.0):
        super().__init__()
        check_int(every=every)
        if not 0.0 < factor <= 1.0:
            raise ValueError(f"`factor` must be in (0, 1]. Received: factor={factor!r}")
        if min_lr < 0:
            raise ValueError(f"`min_lr` must be >= 0. Received: min_lr={min_lr!r}")
        self.every = every
        self.factor = float(factor)
        self.min_lr = float(min_lr)

    def multiplier(self, epoch):
        """The multiplier of the base rate at 0-based `epoch` (no `min_lr`)."""
        return self.factor ** (epoch // self.every)

    def learning_rate(self, base, epoch):
        """The rate for 0-based `epoch` starting from `base`."""
        return max(base * self.multiplier(epoch), self.min_lr)

    def get_config(self):
        return {"every": self.every, "factor": self.factor,
                "min_lr": self.min_lr}


class LinearDecay(_EpochRateSchedule):
    """Constant learning rates for `n_epochs`, then linear decay to 0.

    The reference implementation's `linear` policy (`--lr_policy linear`,
    its default), with the same numbers: the rate of 0-based epoch `e` is

        base * (1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1))

    which is the reference's `lambda_rule(e)` with `epoch_count=1`, its
    scheduler stepped after each epoch. So epochs `0 ... n_epochs - 1`
    train at `base`; epoch `n_epochs` (the first of the decay) at
    `base * n_epochs_decay / (n_epochs_decay + 1)`; the last epoch of the
    decay, `n_epochs + n_epochs_decay - 1`, at `base / (n_epochs_decay +
    1)`; the rate would be 0 at epoch `n_epochs + n_epochs_decay`, the
    first epoch after a run of `n_epochs + n_epochs_decay` epochs (and it
    stays 0 in longer runs, never negative). Versions of the reference
    whose training loop steps the scheduler at the *start* of each epoch
    run this schedule one epoch earlier (their last epoch trains at 0).

    Every optimizer of the model is decayed: G's and D's, and for a
    `BicycleGAN` also E's and D2's. `base` is each optimizer's rate when
    the model was compiled (`model.base_learning_rates`, saved with the
    model), and the rate is set from the absolute epoch, so the schedule
    resumes exactly with `fit(initial_epoch=...)`, `BackupAndRestore` or a
    reloaded model. The rates are logged as `g_lr` and `d_lr` (and `e_lr`,
    `d2_lr`).

    Args:
        n_epochs: int >= 0. Epochs at the base rate. Defaults to `100`.
        n_epochs_decay: int >= 0. Epochs of linear decay after them.
            Defaults to `100`. Train for `n_epochs + n_epochs_decay`
            epochs.

    Example:

    ```python
    model.fit(train_ds, epochs=200,
              callbacks=[LinearDecay(n_epochs=100, n_epochs_decay=100)])
    ```
    """

    def __init__(self, n_epochs=100, n_epochs_decay=100):
        super().__init__()
        check_int(minimum=0, n_epochs=n_epochs, n_epochs_decay=n_epochs_decay)
        self.n_epochs = n_epochs
        self.n_epochs_decay = n_epochs_decay

    def multiplier(self, epoch):
        """The multiplier of the base rate at 0-based `epoch`, in [0, 1]."""
        done = max(0, epoch + 1 - self.n_epochs)
        return max(0.0, 1.0 - done / float(self.n_epochs_decay + 1))

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        epochs = (self.params or {}).get("epochs")
        total = self.n_epochs + self.n_epochs_decay
        if not epochs or total == epochs or self.n_epochs_decay == 0:
            return
        if epochs > total:
            what = (f"the rates are 0 from epoch {total + 1} on, so the last "
                    f"{epochs - total} epoch(s) learn nothing")
        else:
            what = (f"the decay is cut off at {self.multiplier(epochs - 1):.3g}"
                    " × the base rate")
        warnings.warn(
            f"LinearDecay(n_epochs={self.n_epochs}, n_epochs_decay="
            f"{self.n_epochs_decay}) spans {total} epochs but fit() runs "
            f"{epochs}: {what}. Make n_epochs + n_epochs_decay equal the "
            "epochs of the run.", stacklevel=2)

    def get_config(self):
        return {"n_epochs": self.n_epochs,
                "n_epochs_decay": self.n_epochs_decay}


class LambdaSchedule(keras.callbacks.Callback):
    """Moves the L1 weight λ linearly from `start` to `end` over epochs.

    λ is `start` up to `start_epoch`, `end` from `end_epoch` on, and linear
    in between: a high λ early keeps training stable, a lower one late
    gives sharper output. The value is set from the absolute
    epoch into `model.l1_weight` (a variable saved with the model), so the
    schedule resumes exactly after `load_model`, `BackupAndRestore` or
    `fit(initial_epoch=...)`. Logged as `lambda_l1`.

    Args:
        end: float >= 0. Final λ. Defaults to `10.0`.
        start_epoch: int >= 0. Last epoch at `start`. Defaults to `0`.
        end_epoch: int > `start_epoch`. First epoch at `end`. Defaults to
            `100`.
        start: float >= 0 or `None`. Initial λ; `None` takes the
            `lambda_l1` given to `compile()`. Defaults to `None`.

    Example:

    ```python
    model.compile(lambda_l1=100.0)
    model.fit(train_ds, epochs=200,
              callbacks=[LambdaSchedule(end=10.0, start_epoch=100, end_epoch=200)])
    ```
    """

    def __init__(self, end=10.0, start_epoch=0, end_epoch=100, start=None):
        super().__init__()
        check_int(minimum=0, start_epoch=start_epoch)
        check_int(minimum=start_epoch + 1, end_epoch=end_epoch)
        for name, value in (("end", end), ("start", start)):
            if value is not None:
                _check_number(name, value, low=0)
        self.end = float(end)
        self.start = None if start is None else float(start)
        self.start_epoch = start_epoch
        self.end_epoch = end_epoch

    def value(self, epoch, start):
        """λ for 0-based `epoch` given the start value."""
        t = (epoch - self.start_epoch) / (self.end_epoch - self.start_epoch)
        t = min(max(t, 0.0), 1.0)
        return start + (self.end - start) * t

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model, "l1_weight"):
            raise ValueError("LambdaSchedule needs a Pix2Pix model (`l1_weight`).")
        start = self.start if self.start is not None else self.model.lambda_l1
        self.model.l1_weight.assign(self.value(epoch, start))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lambda_l1"] = float(
                keras.ops.convert_to_numpy(self.model.l1_weight)
            )


def to_display(images):
    """Maps `(n, h, w, c)` images in [-1, 1] to RGB floats in [0, 1].

    One channel becomes grey; three stay RGB; other counts (for example
    one-hot label maps) are shown as their argmax through a fixed palette.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(
            f"Expected images of shape (n, h, w, c). Received {images.shape}"
        )
    c = images.shape[-1]
    if c == 1:
        images = np.repeat(images, 3, axis=-1)
    elif c != 3:
        rng = np.random.default_rng(0)
        palette = rng.uniform(-1, 1, size=(c, 3)).astype("float32")
        images = palette[np.argmax(images, axis=-1)]
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def make_grid(source, generated, target, padding=2):
    """Lays out `source | generated | target` rows as one RGB image.

    Args:
        source: array `(n, h, w, c_in)` in [-1, 1].
        generated: array `(n, h, w, c_out)` in [-1, 1].
        target: array `(n, h, w, c_out)` in [-1, 1].
        padding: int. White pixels between tiles. Defaults to `2`.

    Returns:
        float32 array `(n * h + (n - 1) * padding, 3 * w + 2 * padding, 3)`
        with values in [0, 1].

    Example:
    >>> x = np.zeros((2, 8, 8, 3))
    >>> make_grid(x, x, x, padding=1).shape
    (17, 26, 3)
    """
    cols = [to_display(a) for a in (source, generated, target)]
    n, h, w = cols[0].shape[:3]
    for a in cols[1:]:
        if a.shape[:3] != (n, h, w):
            raise ValueError(
                "source, generated and target must have the same number of "
                f"images and size. Received {[c.shape for c in cols]}"
            )
    grid = np.ones(
        (n * h + (n - 1) * padding, 3 * w + 2 * padding, 3), dtype="float32"
    )
    for i in range(n):
        for j, col in enumerate(cols):
            y, x = i * (h + padding), j * (w + padding)
            grid[y : y + h, x : x + w] = col[i]
    return grid


def save_grid(path, grid):
    """Writes a grid from `make_grid` as a PNG, atomically. Returns the path."""
    # imsave needs no GUI backend; selecting one here would switch a
    # notebook's inline display off.
    import matplotlib.image

    with atomic_path(path, suffix=".png") as tmp:
        matplotlib.image.imsave(tmp, grid, format="png")
    return os.path.abspath(path)


class SampleGrid(keras.callbacks.Callback):
    """Writes `source | generated | target` grids of fixed samples as PNGs.

    Every `every` epochs it translates `samples` with the generator in
    inference mode and writes `directory/<prefix>_epoch{NNNN}.png` (1-based
    epoch), plus the same image as `directory/<prefix>_latest.png`.

    Args:
        samples: `(source, target)` arrays of shape `(n, h, w, c)` in
            [-1, 1], or a `tf.data.Dataset` yielding such batches (its
            first batch is used).
        directory: str. Output folder, created if missing.
        every: int >= 1. Period in epochs. Defaults to `1`.
        prefix: str. File name prefix. Defaults to `"samples"`.

    Example:

    ```python
    model.fit(train_ds, epochs=200,
              callbacks=[SampleGrid(val_ds, "runs/grids", every=5)])
    ```
    """

    def __init__(self, samples, directory, every=1, prefix="samples"):
        super().__init__()
        if hasattr(samples, "take") and hasattr(samples, "element_spec"):
            samples = next(iter(samples.take(1)))
        try:
            source, target = samples
        except (TypeError, ValueError):
            raise ValueError(
                "`samples` must be a (source, target) pair of arrays or a "
                "dataset of such pairs."
            ) from None
        self.source = np.asarray(source, dtype="float32")
        self.target = np.asarray(target, dtype="float32")
        if self.source.ndim != 4 or self.source.shape[:3] != self.target.shape[:3]:
            raise ValueError(
                "`samples` must hold source and target batches (n, h, w, c) "
                f"of equal n, h, w. Received {self.source.shape} and "
                f"{self.target.shape}."
            )
        check_int(every=every)
        self.directory = os.fspath(directory)
        self.every = every
        self.prefix = prefix
        self.paths = []

    def render(self):
        """Returns the current grid as an array (see `make_grid`)."""
        generated = self.model.generator.predict(self.source, verbose=0)
        return make_grid(self.source, generated, self.target)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        grid = self.render()
        path = os.path.join(self.directory, f"{self.prefix}_epoch{epoch + 1:04d}.png")
        save_grid(path, grid)
        save_grid(os.path.join(self.directory, f"{self.prefix}_latest.png"), grid)
        self.paths.append(path)


class FIDMonitor(keras.callbacks.Callback):
    """Logs the Fréchet distance of generated and real validation images.

    Every `every` epochs (and after the last one) it translates the sources
    of `data` with the generator in inference mode and adds
    `val_<name>` to the epoch's logs: the FID between those images and the
    targets of `data`, in the features of `extractor`. The targets'
    statistics are computed once, at the start of training. On the epochs
    in between the value is NaN, so `CSVLogger` keeps one column. Place it
    before the callbacks that read the logs (`CSVLogger`,
    `ModelCheckpoint`, `EarlyStopping`).

    FID is biased upwards for small sets: values are comparable between
    epochs and runs scored on the same images, not with FIDs of other
    image sets.

    Args:
        data: a `tf.data.Dataset` of `(source, target)` batches in [-1, 1],
            or a `(source, target)` pair of arrays `(n, h, w, c)`. Read
            whole at the start of training.
        extractor: the feature extractor, as `FrechetInceptionDistance`
            takes it: `"fid_inception_2015"` (the network of published
            FIDs, downloaded once), `"keras_inception_v3"`,
            `"random_inception_v3"` (fixed random weights, no download; a
            proxy for following a run) or a model. Defaults to
            `"fid_inception_2015"`.
        every: int >= 1. Period in epochs. Defaults to `1`.
        name: str. The logged key is `val_<name>`. Defaults to `"fid"`.
        batch_size: int >= 1. Images per generator and extractor call.
            Defaults to `32`.
        input_size: int or `None`. Size the images are resized to for the
            extractor, as in `FrechetInceptionDistance`. Defaults to `299`.

    Example:

    ```python
    monitor = FIDMonitor(val_ds, extractor="random_inception_v3",
                         name="fid_proxy")
    model.fit(train_ds, epochs=20, validation_data=val_ds,
              callbacks=[monitor, keras.callbacks.CSVLogger("log.csv")])
    ```
    """

    def __init__(self, data, extractor="fid_inception_2015", every=1,
                 name="fid", batch_size=32, input_size=299):
        super().__init__()
        check_int(every=every, batch_size=batch_size)
        if not isinstance(name, str) or not name:
            raise ValueError(f"`name` must be a non-empty str. Received: "
                             f"name={name!r}")
        self.data = data
        self.extractor = extractor
        self.every = every
        self.name = name
        self.batch_size = batch_size
        self.input_size = input_size
        self.key = f"val_{name}"
        self.history = {}
        self._fid = None
        self._source = None

    def _pairs(self):
        data = self.data
        if hasattr(data, "take") and hasattr(data, "element_spec"):
            sources, targets = [], []
            for batch in data:
                try:
                    source, target = batch[:2]
                except (TypeError, ValueError):
                    raise ValueError(
                        "FIDMonitor: `data` must yield (source, target) "
                        "batches."
                    ) from None
                sources.append(np.asarray(source, "float32"))
                targets.append(np.asarray(target, "float32"))
            if not sources:
                raise ValueError("FIDMonitor: `data` is empty.")
            return np.concatenate(sources), np.concatenate(targets)
        try:
            source, target = data
        except (TypeError, ValueError):
            raise ValueError(
                "FIDMonitor: `data` must be a dataset of (source, target) "
                "batches or a (source, target) pair of arrays."
            ) from None
        return np.asarray(source, "float32"), np.asarray(target, "float32")

    def on_train_begin(self, logs=None):
        if self._fid is not None:
            return
        from pix2pix_keras.metrics import FrechetInceptionDistance

        source, target = self._pairs()
        if len(source) < 2 or len(source) != len(target):
            raise ValueError(
                "FIDMonitor needs at least 2 (source, target) pairs of equal "
                f"count. Received {len(source)} sources and {len(target)} "
                "targets."
            )
        self._source = source
        self._fid = FrechetInceptionDistance(
            extractor=self.extractor, batch_size=self.batch_size,
            input_size=self.input_size)
        self._fid.update_real(target)

    def compute(self):
        """The FID of the generator's current outputs (a float)."""
        self._fid.reset_state(keep_real=True)
        generated = self.model.generator.predict(
            self._source, batch_size=self.batch_size, verbose=0)
        self._fid.update_fake(np.clip(generated, -1.0, 1.0))
        return self._fid.result()

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == self.params.get("epochs") if self.params else False
        value = math.nan
        if (epoch + 1) % self.every == 0 or last:
            value = self.compute()
            self.history[epoch] = value
        if logs is not None:
            logs[self.key] = value


# ----------------------------------------------------------------------
# Diagnostics: the troubleshooting table, watched during fit().

#: The troubleshooting table (docs/training_tips.md) plus a row for
#: non-finite losses:
#: row key -> symptom, likely cause, remedy and the rule `Diagnostics`
#: applies to the logged numbers. `troubleshooting_table()` renders it.
TROUBLESHOOTING = {
    "blurry": {
        "symptom": "blurry output",
        "cause": "L1 weight too high",
        "remedy": "lower λ (`LambdaSchedule(end=10.0)` or "
        "`compile(lambda_l1=10.0)`) or try L2",
        "rule": "over the last `window` batches the weighted reconstruction "
        "term λ·g_l1 is more than `l1_share` of λ·g_l1 + abs(g_gan) (the "
        "GAN term is negligible) and g_gan is not falling",
    },
    "colour_distortion": {
        "symptom": "colour distortion",
        "cause": "generator capacity too small",
        "remedy": "more U-Net channels or depth (`UNetGenerator(filters=..., "
        "max_filters=..., depth=...)`)",
        "rule": "the epoch mean of g_l1 is above `l1_high` and improved by "
        "less than `plateau` (relative) over the last `patience` epochs, "
        "while D is not winning",
    },
    "mode_collapse": {
        "symptom": "mode collapse",
        "cause": "discriminator too strong",
        "remedy": "lower the D learning rate or update it less often "
        "(`compile(d_every=2)`)",
        "rule": "over the last `window` batches D is winning (mean d_real > "
        "`d_real_high` and mean d_fake < `d_fake_low`, or mean d_loss < "
        "`d_loss_floor`) and g_gan is not falling",
    },
    "unstable": {
        "symptom": "unstable training",
        "cause": "learning rate too high",
        "remedy": "LR decay (`LearningRateHalving`) or gradient clipping "
        "(`global_clipnorm` on both optimizers)",
        "rule": "a batch g_loss or d_loss above `spike_factor` × the median "
        "of the previous `window` batches (active for `window` batches), or "
        "epoch means of g_loss or d_loss that alternate up and down by more "
        "than `oscillation` (relative) over the last `patience` epochs",
    },
    "non_finite": {
        "symptom": "NaN or Inf loss",
        "cause": "diverged training or non-finite input data",
        "remedy": "check that the data is finite and in [-1, 1]; lower the "
        "learning rate or clip gradients (`global_clipnorm`); resume from "
        "the last good checkpoint",
        "rule": "any logged value is NaN or ±Inf, at once (every batch and "
        "epoch end); `stop_on_nan=True` stops training",
    },
}


def troubleshooting_table():
    """Returns `TROUBLESHOOTING` as a Markdown table (one line per row).

    Example:
    >>> from pix2pix_keras.callbacks import troubleshooting_table
    >>> troubleshooting_table().splitlines()[0]
    '| row | symptom | likely cause | remedy | detected when |'
    """
    lines = [
        "| row | symptom | likely cause | remedy | detected when |",
        "|---|---|---|---|---|",
    ]
    for key, row in TROUBLESHOOTING.items():
        lines.append(
            f"| `{key}` | {row['symptom']} | {row['cause']} | "
            f"{row['remedy']} | {row['rule']} |"
        )
    return "\n".join(lines)


# Per-batch values the window rules read, and the totals checked for spikes.
_WATCHED = ("g_loss", "g_gan", "g_l1", "g_l2", "d_loss", "d_real", "d_fake")
_SPIKE_KEYS = ("g_loss", "d_loss")


def _print(message):
    # keras.utils.io_utils.print_msg through public API: stdout while
    # Keras logs interactively, else the `pix2pix_keras` logger.
    if keras.config.is_interactive_logging_enabled():
        sys.stdout.write(message + "\n")
        sys.stdout.flush()
    else:
        logging.getLogger("pix2pix_keras").warning(message)


def _scalars(logs):
    """The numeric scalar entries of `logs` as Python floats."""
    out = {}
    for key, value in (logs or {}).items():
        try:
            array = np.asarray(value)
            if array.ndim == 0 and array.dtype.kind in "biuf":
                out[key] = float(array)
        except (TypeError, ValueError):
            continue
    return out


def _fall(values):
    """Relative fall of the mean from the first to the second half."""
    h = len(values) // 2
    first, second = float(np.mean(values[:h])), float(np.mean(values[-h:]))
    return (first - second) / max(abs(first), 1e-12)


class Diagnostics(keras.callbacks.Callback):
    """Watches the logged losses and says which troubleshooting row applies.

    Implements the troubleshooting table (`TROUBLESHOOTING`, rendered by
    `troubleshooting_table()`): each row has a rule on the numbers that
    `Pix2Pix.fit` reports (`g_loss`, `g_gan`, `g_l1`, `d_loss`, `d_real`,
    `d_fake`). When a rule starts to hold, a finding is appended to
    `findings` and, with `verbose=1`, printed with its remedy. A row is
    reported once, and again only after its rule has stopped holding (for
    the window rules `mode_collapse` and `blurry`: at `window` batches in
    a row), so a rule that flickers near its threshold does not repeat.

    - `non_finite`: any logged value is NaN or ±Inf, checked at once at
      every batch and epoch end; with `stop_on_nan=True` it sets
      `model.stop_training`.
    - `mode_collapse` (D too strong): over the last `window` batches the
      mean `d_real > d_real_high` and mean `d_fake < d_fake_low` (for
      `gan_loss="hinge"` the outputs are mapped by `(o + 1) / 2`, so the
      margins −1 / +1 become 0 / 1), or mean `d_loss < d_loss_floor`, and
      `g_gan` is not falling.
    - `blurry` (L1 weight too high): over the last `window` batches the
      weighted reconstruction term `λ·g_l1` (`λ·g_l2` with
      `reconstruction="l2"`) is more than `l1_share` of
      `λ·g_l1 + |g_gan|`, and `g_gan` is not falling. λ is the model's
      current `l1_weight`; without it, `g_loss − g_gan` is used.
    - `colour_distortion` (generator too small): at an epoch end the epoch
      mean of `g_l1` is above `l1_high`, has improved by less than
      `plateau` (relative) over the last `patience` epochs, and D is not
      winning (the `mode_collapse` test on the epoch means fails).
    - `unstable` (learning rate too high): a batch `g_loss` or `d_loss`
      above `spike_factor` times the median of the previous `window`
      batches (the row stays active while the spike is within the last
      `window` batches; `d_loss` is not tested while its median is below
      `d_loss_floor`), or epoch means of `g_loss` or `d_loss` that go up
      and down alternately by more than `oscillation` (relative) at each
      of the last `patience` epochs.

    "Not falling" means the mean over the second half of the window is
    less than `plateau` (relative) below the mean over the first half.
    The window rules wait until `window` batches have been seen.

    `Pix2Pix.fit` logs running means over the epoch; with
    `running_means=True` the callback recovers each batch's value from
    consecutive means (`(k + 1)·m_k − k·m_{k−1}`), so spikes are not
    averaged away. With `steps_per_execution > 1` a value is the mean of
    its execution block.

    Each finding is a dict with `row`, `step` (0-based index of the
    batch, counted over all epochs this callback has seen), `epoch`
    (0-based), `batch` (index in the epoch), `symptom`, `cause`, `remedy`,
    `values` (the numbers that triggered it; for `non_finite` the
    offending keys and their values) and `message`.

    Args:
        window: int >= 4. Batches in the rolling window. Defaults to `50`.
        patience: int >= 2. Epochs compared by the epoch rules. Defaults
            to `3`.
        d_real_high: float in (0, 1). Mean `d_real` above it: D wins.
            Defaults to `0.9`.
        d_fake_low: float in (0, `d_real_high`). Mean `d_fake` below it:
            D wins. Defaults to `0.1`.
        d_loss_floor: float >= 0. Mean `d_loss` below it: D wins (`0`
            turns this test off). Defaults to `0.01`.
        l1_share: float in (0, 1). Share of the weighted reconstruction
            term above which the GAN term is negligible. Defaults to
            `0.99`.
        l1_high: float >= 0. Epoch `g_l1` above it is high. Defaults to
            `0.25`.
        plateau: float in [0, 1). Relative improvement below it counts as
            none. Defaults to `0.01`.
        spike_factor: float > 1. A batch loss above this multiple of the
            window median is a spike. Defaults to `5.0`.
        oscillation: float > 0. Relative epoch-to-epoch swing that counts
            as oscillation. Defaults to `0.25`.
        running_means: bool. Whether batch logs are running means over the
            epoch (as `Pix2Pix.fit` reports them); `False` for per-batch
            values. Defaults to `True`.
        stop_on_nan: bool. Stop training on a NaN or Inf. Defaults to
            `True`.
        verbose: int. `1` prints each finding (to stdout, or as a warning
            of the `pix2pix_keras` logger when Keras's interactive logging
            is off), `0` only records it. Defaults to `1`.

    Example:

    ```python
    diagnostics = Diagnostics()
    model.fit(train_ds, epochs=200, callbacks=[diagnostics])
    [(f["row"], f["step"]) for f in diagnostics.findings]
    ```
    """

    def __init__(
        self,
        window=50,
        patience=3,
        d_real_high=0.9,
        d_fake_low=0.1,
        d_loss_floor=0.01,
        l1_share=0.99,
        l1_high=0.25,
        plateau=0.01,
        spike_factor=5.0,
        oscillation=0.25,
        running_means=True,
        stop_on_nan=True,
        verbose=1,
    ):
        super().__init__()
        check_int(minimum=4, window=window)
        check_int(minimum=2, patience=patience)
        self.d_real_high = _check_number(
            "d_real_high", d_real_high, 0, 1, True, True)
        self.d_fake_low = _check_number(
            "d_fake_low", d_fake_low, 0, self.d_real_high, True, True)
        self.d_loss_floor = _check_number("d_loss_floor", d_loss_floor, 0)
        self.l1_share = _check_number("l1_share", l1_share, 0, 1, True, True)
        self.l1_high = _check_number("l1_high", l1_high, 0)
        self.plateau = _check_number("plateau", plateau, 0, 1, False, True)
        self.spike_factor = _check_number(
            "spike_factor", spike_factor, 1, low_open=True)
        self.oscillation = _check_number(
            "oscillation", oscillation, 0, low_open=True)
        for name, value in (("running_means", running_means),
                            ("stop_on_nan", stop_on_nan)):
            if not isinstance(value, bool):
                raise ValueError(
                    f"`{name}` must be a bool. Received: {name}={value!r}"
                )
        if verbose not in (0, 1):
            raise ValueError(
                f"`verbose` must be 0 or 1. Received: verbose={verbose!r}"
            )
        self.window = window
        self.patience = patience
        self.running_means = running_means
        self.stop_on_nan = stop_on_nan
        self.verbose = int(verbose)
        self.findings = []
        self._step = 0
        self._epoch = 0
        self._reset()

    # -- state ----------------------------------------------------------

    def _reset(self):
        self._buffers = {
            k: collections.deque(maxlen=self.window) for k in _WATCHED
        }
        self._epoch_means = {
            k: collections.deque(maxlen=self.patience + 1)
            for k in ("g_loss", "d_loss", "g_l1")
        }
        self._active = set()
        self._misses = {}
        self._last_spike = None  # step of the latest spike
        self._oscillating = False
        self._new_epoch()

    def _new_epoch(self):
        self._prev = {}
        self._prev_batch = -1
        self._lambda = None

    @property
    def active(self):
        """Sorted keys of the rows whose rule holds now."""
        return sorted(self._active)

    def recent(self, key):
        """The per-batch values of `key` in the window, oldest first."""
        return np.array(self._buffers.get(key, ()), dtype="float64")

    def _l1_weight(self):
        if self._lambda is None:
            weight = getattr(self.model, "l1_weight", None)
            if weight is not None:
                self._lambda = float(keras.ops.convert_to_numpy(weight))
        return self._lambda

    def _gan_loss(self):
        return getattr(self.model, "gan_loss", "lsgan")

    # -- reporting ------------------------------------------------------

    def _update(self, row, holds, step, values=None, clear_after=1):
        if not holds:
            # Cleared after `clear_after` failed checks in a row, so that
            # a noisy rule near its threshold is not reported again and
            # again.
            self._misses[row] = self._misses.get(row, 0) + 1
            if self._misses[row] >= clear_after:
                self._active.discard(row)
            return
        self._misses[row] = 0
        if row in self._active:
            return
        self._active.add(row)
        info = TROUBLESHOOTING[row]
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in values.items()
        )
        message = (
            f"Diagnostics: {info['symptom']} at step {step} (epoch "
            f"{self._epoch + 1}) [{row}]: likely {info['cause']}; "
            f"remedy: {info['remedy']}. ({shown})"
        )
        self.findings.append(dict(
            row=row, step=step, epoch=self._epoch,
            batch=max(self._prev_batch, 0), symptom=info["symptom"],
            cause=info["cause"], remedy=info["remedy"], values=dict(values),
            message=message,
        ))
        if self.verbose:
            _print(message)

    def _check_finite(self, values, step):
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        self._update("non_finite", bool(bad), step, bad)
        if bad and self.stop_on_nan and self.model is not None:
            self.model.stop_training = True
        return not bad

    # -- rules ----------------------------------------------------------

    def _d_winning(self, means):
        """(D wins?, numbers) from mean D outputs / loss, or None."""
        numbers_, wins = {}, False
        if "d_real" in means and "d_fake" in means:
            real, fake = means["d_real"], means["d_fake"]
            numbers_.update(d_real=real, d_fake=fake)
            if self._gan_loss() == "hinge":
                real, fake = (real + 1) / 2, (fake + 1) / 2
            wins = real > self.d_real_high and fake < self.d_fake_low
        if "d_loss" in means:
            numbers_["d_loss"] = means["d_loss"]
            wins = wins or means["d_loss"] < self.d_loss_floor
        return (wins, numbers_) if numbers_ else None

    def _window_rules(self, step):
        full = {
            k: np.array(b, dtype="float64") for k, b in self._buffers.items()
            if len(b) == self.window
        }
        means = {k: float(v.mean()) for k, v in full.items()}
        gan_fall = _fall(full["g_gan"]) if "g_gan" in full else None
        gan_flat = gan_fall is None or gan_fall < self.plateau

        d = self._d_winning(means)
        if d is not None:
            values = dict(d[1])
            if gan_fall is not None:
                values["g_gan_fall"] = gan_fall
            self._update("mode_collapse", d[0] and gan_flat, step, values,
                         clear_after=self.window)

        rec = "g_l2" if "g_l2" in full else "g_l1"
        if rec in full and "g_gan" in full:
            lam = self._l1_weight()
            if lam is not None:
                weighted = lam * means[rec]
            elif "g_loss" in full:
                weighted = means["g_loss"] - means["g_gan"]
            else:
                weighted = None
            total = None if weighted is None else weighted + abs(means["g_gan"])
            if total:
                share = weighted / total
                values = {"l1_share": share, rec: means[rec],
                          "g_gan": means["g_gan"], "g_gan_fall": gan_fall}
                if lam is not None:
                    values["lambda_l1"] = lam
                self._update("blurry", share > self.l1_share and gan_flat,
                             step, values, clear_after=self.window)

    def _spike(self, per_batch, step):
        for key in _SPIKE_KEYS:
            buf = self._buffers[key]
            if key not in per_batch or len(buf) < self.window:
                continue
            median = float(np.median(buf))
            if key == "d_loss" and median < self.d_loss_floor:
                continue  # a collapsed D loss jumps by large factors
            value = per_batch[key]
            if value - median > (self.spike_factor - 1) * abs(median):
                self._last_spike = step
                return {"trigger": "spike", "key": key, "value": value,
                        "median": median}
        return None

    def _unstable(self, step, values):
        spiking = (self._last_spike is not None
                   and step - self._last_spike < self.window)
        holds = spiking or bool(self._oscillating)
        self._update("unstable", holds, step, values or self._oscillating or {})

    # -- callback hooks -------------------------------------------------

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._new_epoch()

    def on_train_batch_end(self, batch, logs=None):
        if batch <= self._prev_batch:  # driven without on_epoch_begin
            self._new_epoch()
        n = batch - self._prev_batch
        self._step += n
        step = self._step - 1
        values = _scalars(logs)
        prev, self._prev, self._prev_batch = self._prev, values, batch
        if not self._check_finite(values, step):
            return
        per_batch = {}
        for key in _WATCHED:
            if key not in values:
                continue
            value = values[key]
            if self.running_means and batch + 1 > n:
                if not math.isfinite(prev.get(key, math.nan)):
                    continue  # the previous mean is unknown
                # The mean over this block from the running means around it.
                value = ((batch + 1) * value - (batch + 1 - n) * prev[key]) / n
            per_batch[key] = value
        spike = self._spike(per_batch, step)
        for key, value in per_batch.items():
            self._buffers[key].append(value)
        self._unstable(step, spike)
        self._window_rules(step)

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch
        step = self._step - 1
        values = _scalars(logs)
        if not self._check_finite(values, step):
            return
        for key, hist in self._epoch_means.items():
            if key in values:
                hist.append(values[key])

        # colour_distortion: a high g_l1 that stopped improving.
        l1 = self._epoch_means["g_l1"]
        if len(l1) == self.patience + 1:
            gain = (l1[0] - l1[-1]) / max(abs(l1[0]), 1e-12)
            d = self._d_winning(values)
            d_wins = d is not None and d[0]
            nums = {"g_l1": l1[-1], "g_l1_gain": gain}
            if d is not None:
                nums.update(d[1])
            self._update(
                "colour_distortion",
                l1[-1] > self.l1_high and gain < self.plateau and not d_wins,
                step, nums,
            )

        # unstable: epoch means that swing up and down.
        self._oscillating = False
        for key in ("g_loss", "d_loss"):
            hist = list(self._epoch_means[key])
            if len(hist) < self.patience + 1:
                continue
            rel = [(b - a) / max(abs(a), 1e-12) for a, b in zip(hist, hist[1:])]
            if all(abs(r) > self.oscillation for r in rel) and all(
                r * s < 0 for r, s in zip(rel, rel[1:])
            ):
                self._oscillating = {
                    "trigger": "oscillation", "key": key,
                    "swings": [round(r, 4) for r in rel],
                }
                break
        self._unstable(step, None)


# ----------------------------------------------------------------------
# Fault tolerance: Keras's BackupAndRestore with atomic writes and an exact
# mid-epoch resume.

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

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
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
        return (
            self.current_epoch == self._resume.get("epoch")
            and batch < self._resume.get("done", 0)
        )

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
            meta = {"epoch": self.current_epoch,
                    "batch": self.last_batch_seen,
                    "steps_done": done}
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
