"""Learning-rate and loss-weight schedules: `LearningRateHalving`,
`LinearDecay` and `LambdaSchedule`."""

import warnings

import keras

from pix2pix_keras._compat import learning_rate_schedule
from pix2pix_keras.models.training import current_learning_rate
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_number as _check_number

__all__ = ["LambdaSchedule", "LearningRateHalving", "LinearDecay"]


def _optimizers(model):
    """`{"g": ..., "d": ...}`, plus `"e"` / `"d2"` where the model has them
    (BicycleGAN's encoder and second discriminator)."""
    opts = {
        "g": getattr(model, "g_optimizer", None),
        "d": getattr(model, "d_optimizer", None),
    }
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
        return {"every": self.every, "factor": self.factor, "min_lr": self.min_lr}


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
            what = (
                f"the rates are 0 from epoch {total + 1} on, so the last "
                f"{epochs - total} epoch(s) learn nothing"
            )
        else:
            what = (
                f"the decay is cut off at {self.multiplier(epochs - 1):.3g}"
                " × the base rate"
            )
        warnings.warn(
            f"LinearDecay(n_epochs={self.n_epochs}, n_epochs_decay="
            f"{self.n_epochs_decay}) spans {total} epochs but fit() runs "
            f"{epochs}: {what}. Make n_epochs + n_epochs_decay equal the "
            "epochs of the run.",
            stacklevel=2,
        )

    def get_config(self):
        return {"n_epochs": self.n_epochs, "n_epochs_decay": self.n_epochs_decay}


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
            logs["lambda_l1"] = float(keras.ops.convert_to_numpy(self.model.l1_weight))
