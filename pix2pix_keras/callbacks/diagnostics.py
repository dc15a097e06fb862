"""`Diagnostics`: the troubleshooting table, watched during `fit()`."""

import collections
import logging
import math
import sys

import keras
import numpy as np

from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_number as _check_number

__all__ = ["TROUBLESHOOTING", "Diagnostics", "troubleshooting_table"]

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
        self.d_real_high = _check_number("d_real_high", d_real_high, 0, 1, True, True)
        self.d_fake_low = _check_number(
            "d_fake_low", d_fake_low, 0, self.d_real_high, True, True
        )
        self.d_loss_floor = _check_number("d_loss_floor", d_loss_floor, 0)
        self.l1_share = _check_number("l1_share", l1_share, 0, 1, True, True)
        self.l1_high = _check_number("l1_high", l1_high, 0)
        self.plateau = _check_number("plateau", plateau, 0, 1, False, True)
        self.spike_factor = _check_number(
            "spike_factor", spike_factor, 1, low_open=True
        )
        self.oscillation = _check_number("oscillation", oscillation, 0, low_open=True)
        for name, value in (
            ("running_means", running_means),
            ("stop_on_nan", stop_on_nan),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool. Received: {name}={value!r}")
        if verbose not in (0, 1):
            raise ValueError(f"`verbose` must be 0 or 1. Received: verbose={verbose!r}")
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
        self._buffers = {k: collections.deque(maxlen=self.window) for k in _WATCHED}
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
        self.findings.append(
            dict(
                row=row,
                step=step,
                epoch=self._epoch,
                batch=max(self._prev_batch, 0),
                symptom=info["symptom"],
                cause=info["cause"],
                remedy=info["remedy"],
                values=dict(values),
                message=message,
            )
        )
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
            k: np.array(b, dtype="float64")
            for k, b in self._buffers.items()
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
            self._update(
                "mode_collapse",
                d[0] and gan_flat,
                step,
                values,
                clear_after=self.window,
            )

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
                values = {
                    "l1_share": share,
                    rec: means[rec],
                    "g_gan": means["g_gan"],
                    "g_gan_fall": gan_fall,
                }
                if lam is not None:
                    values["lambda_l1"] = lam
                self._update(
                    "blurry",
                    share > self.l1_share and gan_flat,
                    step,
                    values,
                    clear_after=self.window,
                )

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
                return {
                    "trigger": "spike",
                    "key": key,
                    "value": value,
                    "median": median,
                }
        return None

    def _unstable(self, step, values):
        spiking = self._last_spike is not None and step - self._last_spike < self.window
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
                step,
                nums,
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
                    "trigger": "oscillation",
                    "key": key,
                    "swings": [round(r, 4) for r in rel],
                }
                break
        self._unstable(step, None)
