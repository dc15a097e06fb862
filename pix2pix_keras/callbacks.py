"""Training callbacks: learning-rate halving and sample grids."""

import os

import keras
import numpy as np

from pix2pix_keras.utils import atomic_path
from pix2pix_keras.utils import check_int


def _optimizers(model):
    opts = {"g": getattr(model, "g_optimizer", None),
            "d": getattr(model, "d_optimizer", None)}
    if opts["g"] is None or opts["d"] is None:
        raise ValueError(
            "This callback needs a compiled Pix2Pix-style model with "
            "`g_optimizer` and `d_optimizer`; call model.compile() first."
        )
    return opts


class LearningRateHalving(keras.callbacks.Callback):
    """Multiplies both learning rates by `factor` every `every` epochs.

    The rate of epoch `e` is `base * factor ** (e // every)` (never below
    `min_lr`), where `base` is each optimizer's rate when the model was
    compiled (`model.base_learning_rates`, saved with the model). Setting
    it from the absolute epoch makes the schedule idempotent: it resumes
    correctly with `fit(initial_epoch=...)`, `BackupAndRestore` or a
    reloaded model. Both rates are logged as `g_lr` and `d_lr`.

    Args:
        every: int >= 1. Period in epochs. Defaults to `10`.
        factor: float in (0, 1]. Multiplier per period. Defaults to `0.5`.
        min_lr: float >= 0. Lower bound. Defaults to `0.0`.

    Example:

    ```python
    model.fit(train_ds, epochs=200, callbacks=[LearningRateHalving(every=10)])
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

    def learning_rate(self, base, epoch):
        """The rate for 0-based `epoch` starting from `base`."""
        return max(base * self.factor ** (epoch // self.every), self.min_lr)

    def on_train_begin(self, logs=None):
        for key, opt in _optimizers(self.model).items():
            if not isinstance(opt.learning_rate, keras.Variable):
                raise ValueError(
                    f"LearningRateHalving needs a float learning rate on the "
                    f"{key}_optimizer, not a schedule "
                    f"({type(opt._learning_rate).__name__})."
                )

    def on_epoch_begin(self, epoch, logs=None):
        base = getattr(self.model, "base_learning_rates", {})
        for key, opt in _optimizers(self.model).items():
            if base.get(key) is None:
                base[key] = float(keras.ops.convert_to_numpy(opt.learning_rate))
            opt.learning_rate.assign(self.learning_rate(base[key], epoch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key, opt in _optimizers(self.model).items():
            logs[f"{key}_lr"] = float(keras.ops.convert_to_numpy(opt.learning_rate))


class LambdaSchedule(keras.callbacks.Callback):
    """Moves the L1 weight λ linearly from `start` to `end` over epochs.

    λ is `start` up to `start_epoch`, `end` from `end_epoch` on, and linear
    in between: a high λ early keeps training stable, a lower one late
    gives sharper output (SPEC §4). The value is set from the absolute
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
            if value is not None and not (value >= 0 and np.isfinite(value)):
                raise ValueError(
                    f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
                )
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
    import matplotlib

    matplotlib.use("Agg", force=False)
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
