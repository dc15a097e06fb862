"""Sample grids (`SampleGrid`, `make_grid`) and the per-epoch FID of a
validation set (`FIDMonitor`)."""

import math
import os

import keras
import numpy as np

from pix2pix_keras.utils import atomic_path
from pix2pix_keras.utils import check_int

__all__ = ["FIDMonitor", "SampleGrid", "make_grid", "save_grid", "to_display"]


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
    grid = np.ones((n * h + (n - 1) * padding, 3 * w + 2 * padding, 3), dtype="float32")
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

    def __init__(
        self,
        data,
        extractor="fid_inception_2015",
        every=1,
        name="fid",
        batch_size=32,
        input_size=299,
    ):
        super().__init__()
        check_int(every=every, batch_size=batch_size)
        if not isinstance(name, str) or not name:
            raise ValueError(f"`name` must be a non-empty str. Received: name={name!r}")
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
                        "FIDMonitor: `data` must yield (source, target) batches."
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
            extractor=self.extractor,
            batch_size=self.batch_size,
            input_size=self.input_size,
        )
        self._fid.update_real(target)

    def compute(self):
        """The FID of the generator's current outputs (a float)."""
        self._fid.reset_state(keep_real=True)
        generated = self.model.generator.predict(
            self._source, batch_size=self.batch_size, verbose=0
        )
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
