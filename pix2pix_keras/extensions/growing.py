"""Growing a progressive Pix2Pix between `fit()` calls.

- `grow(model)`: a new `Pix2Pix` at twice the size, every existing layer's
  weights copied, fading in from `alpha = 0`;
- `FadeIn(fade_steps)`: the callback that moves `alpha` from 0 to 1;
- `stabilize(model)`: drops the fade-in branch once `alpha = 1`;
- `train_progressive(model, datasets, epochs, fade_steps)`: one `fit()`
  per size, growing in between.

The networks are in `pix2pix_keras.extensions.progressive`.
"""

import collections.abc

import keras
import tensorflow as tf
from keras import ops

from pix2pix_keras._compat import flatten_layers
from pix2pix_keras.extensions.progressive import Fade
from pix2pix_keras.extensions.progressive import ProgressivePatchDiscriminator
from pix2pix_keras.extensions.progressive import ProgressiveUNetGenerator
from pix2pix_keras.extensions.progressive import _fade_layer
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_number

__all__ = [
    "FadeIn",
    "get_alpha",
    "grow",
    "set_alpha",
    "stabilize",
    "train_progressive",
]


def _networks(model, what):
    g = getattr(model, "generator", None)
    d = getattr(model, "discriminator", None)
    if not isinstance(g, ProgressiveUNetGenerator) or not isinstance(
        d, ProgressivePatchDiscriminator
    ):
        raise ValueError(
            f"{what} needs a Pix2Pix whose generator is a "
            "ProgressiveUNetGenerator and whose discriminator is a "
            "ProgressivePatchDiscriminator. Received generator "
            f"{type(g).__name__} and discriminator {type(d).__name__}."
        )
    if g.stage != d.stage or g.image_size != d.image_size:
        raise ValueError(
            f"{what}: the generator (stage {g.stage}, {g.image_size}) and the "
            f"discriminator (stage {d.stage}, {d.image_size}) must be at the "
            "same stage and size."
        )
    return g, d


def get_alpha(model):
    """The fade-in weight of a progressive `Pix2Pix` (or network).

    Returns:
        float, or `None` when nothing is fading in.
    """
    fade = _fade_layer(model)
    return None if fade is None else float(ops.convert_to_numpy(fade.alpha))


def set_alpha(model, alpha):
    """Sets the fade-in weight of every `Fade` layer of `model` (both
    networks of a `Pix2Pix`).

    Raises:
        ValueError: `alpha` outside [0, 1], or nothing to fade in.
    """
    alpha = check_number("alpha", alpha, low=0.0, high=1.0)
    fades = [
        layer
        for layer in flatten_layers(model, include_self=True)
        if isinstance(layer, Fade)
    ]
    if not fades:
        raise ValueError(
            f"{model.name!r} has no Fade layer: only a model made by grow() "
            "(or built with alpha set) fades in."
        )
    for fade in fades:
        fade.alpha.assign(alpha)


def _copy_weights(source, target):
    """Copies every layer's weights from `source` into the same-named layer
    of `target`; returns the names copied."""
    by_name = {layer.name: layer for layer in source.layers}
    copied = []
    for layer in target.layers:
        old = by_name.get(layer.name)
        if old is None or not layer.weights or isinstance(layer, Fade):
            continue
        values = old.get_weights()
        shapes = [tuple(v.shape) for v in values]
        expected = [tuple(w.shape) for w in layer.weights]
        if shapes != expected:
            raise ValueError(
                f"Cannot copy layer {layer.name!r}: its weights have shapes "
                f"{shapes} in the old network and {expected} in the new one."
            )
        layer.set_weights(values)
        copied.append(layer.name)
    return copied


def _rebuild(model, **changes):
    """A new Pix2Pix (same class and settings) with networks rebuilt from
    their configs plus `changes`, weights copied by layer name, not
    compiled."""
    g, d = model.generator, model.discriminator
    with model.distribute_strategy.scope():
        new_g = type(g).from_config({**g.get_config(), **changes})
        new_d = type(d).from_config({**d.get_config(), **changes})
        config = model.get_config()
        config.pop("generator")
        config.pop("discriminator")
        new = type(model)(generator=new_g, discriminator=new_d, **config)
    _copy_weights(g, new_g)
    _copy_weights(d, new_d)
    new.step_counter.assign(model.step_counter)
    return new


def _compile_like(model, new):
    """Compiles `new` with `model`'s settings and fresh optimizers of the
    same configuration (class, current learning rate, ...)."""
    config = model.get_compile_config()
    if config is None:
        return False
    config = dict(config)
    base = config.pop("base_learning_rates", None)
    optimizers = {
        key: keras.saving.deserialize_keras_object(config.pop(key))
        for key in ("g_optimizer", "d_optimizer")
    }
    if config.get("perceptual_loss") is not None:
        config["perceptual_loss"] = model.perceptual_loss  # no VGG reload
    with new.distribute_strategy.scope():
        new.compile(**optimizers, **config)
    if base:
        new.base_learning_rates = dict(base)
    new.l1_weight.assign(model.l1_weight)
    return True


def grow(model):
    """Doubles the size of a progressive `Pix2Pix`, keeping its weights.

    Builds a new model of the same class at stage `s + 1` (twice the
    height and width) whose networks fade in the new stage from `alpha =
    0`: at first it computes exactly the old model on 2×2-average-pooled
    inputs, upsampled. Every layer of the old networks that the new ones
    keep (all of them when the old model is not fading) gets its weights
    copied by name, bit for bit; the new layers are initialised as
    usual. A model that was fading in stage `s` (with `alpha = 1`) loses
    its stage-`s - 1` fade-in branch (`from_rgb{s-1}`, `to_rgb{s-1}`,
    `fade{s}`).

    The optimizers are fresh instances of the same configuration (class,
    current learning rate, betas, clipping): their moments and
    `iterations` start at zero, as ProGAN resets Adam for every new
    resolution; Keras optimizers are built for a fixed list of variables,
    and stale moments next to zero ones for the new layers would
    mis-scale the first steps. `step_counter`, the L1 weight in use, the
    base learning rates and every compile setting are carried over.

    Args:
        model: `Pix2Pix` with a `ProgressiveUNetGenerator` and a
            `ProgressivePatchDiscriminator` at the same stage, not fading
            or fading with `alpha = 1`. Compiled or not.

    Returns:
        A new `Pix2Pix` (compiled if `model` was) at twice the size, with
        `alpha = 0`.

    Raises:
        ValueError: other networks, or `alpha < 1` (finish the fade-in
            first: growing would drop a branch that still contributes).

    Example:

    ```python
    model = grow(model)            # 2x size, alpha = 0
    model.fit(ds_2x, epochs=10, callbacks=[FadeIn(fade_steps=1000)])
    ```
    """
    g, _ = _networks(model, "grow()")
    alpha = get_alpha(model)
    if alpha is not None and alpha < 1.0:
        raise ValueError(
            f"grow(): the model is still fading in stage {g.stage} "
            f"(alpha={alpha:.4g}). Finish the fade-in (alpha = 1, see FadeIn) "
            "before growing again: the branch growing would drop still "
            f"makes {1 - alpha:.0%} of the output."
        )
    h, w = g.image_size
    new = _rebuild(model, image_size=(2 * h, 2 * w), stage=g.stage + 1, alpha=0.0)
    _compile_like(model, new)
    return new


def _carry_optimizer(old, new):
    """Copies `old`'s state into `new`, matched by variable path (the
    slots are named after the model variables, whose paths are the layer
    names)."""

    def key(v):
        return v.path.split("/", 1)[-1]

    source = {key(v): v for v in old.variables}
    for v in new.variables:
        src = source.get(key(v))
        if src is None or tuple(src.shape) != tuple(v.shape):
            raise ValueError(
                f"Cannot carry the state of optimizer {old.name!r}: no "
                f"variable {key(v)!r} of shape {tuple(v.shape)} in it."
            )
        v.assign(src)


def stabilize(model):
    """Ends a finished fade-in: the same `Pix2Pix` without the fade branch.

    After the fade-in (`alpha = 1`) the old stage's from-RGB and to-RGB
    convolutions no longer contribute; this rebuilds both networks
    without them (and without the `Fade` layers), weights copied by
    name. Unlike `grow()`, the optimizers keep their state (moments and
    `iterations`): the model is the same function, training continues.

    Args:
        model: a progressive `Pix2Pix` with `alpha = 1`, or without a
            fade-in (returned unchanged).

    Returns:
        A `Pix2Pix` whose networks have `alpha = None`.

    Raises:
        ValueError: `alpha < 1`.
    """
    g, _ = _networks(model, "stabilize()")
    alpha = get_alpha(model)
    if alpha is None:
        return model
    if alpha < 1.0:
        raise ValueError(
            f"stabilize(): the fade-in of stage {g.stage} is not finished "
            f"(alpha={alpha:.4g}); the old branch still makes "
            f"{1 - alpha:.0%} of the output."
        )
    new = _rebuild(model, alpha=None)
    if _compile_like(model, new):
        _carry_optimizer(model.g_optimizer, new.g_optimizer)
        _carry_optimizer(model.d_optimizer, new.d_optimizer)
    return new


class FadeIn(keras.callbacks.Callback):
    """Moves `alpha` linearly from 0 to 1 over `fade_steps` training steps.

    Before each batch, sets the fade-in weight of both networks to
    `min(1, t / fade_steps)`, where `t` is `model.g_optimizer.iterations`
    (the steps trained since `grow()`, which resets the optimizers).
    Keyed on the optimizer, which `.keras` files save, the fade resumes
    exactly after `keras.saving.load_model`. Logs `alpha` at each epoch's
    end. With `steps_per_execution = k`, alpha moves every `k` steps.

    Args:
        fade_steps: int >= 1. Steps from `alpha = 0` to `alpha = 1`.

    Example:

    ```python
    model = grow(model)
    model.fit(ds_2x, epochs=10, callbacks=[FadeIn(fade_steps=1000)])
    ```
    """

    def __init__(self, fade_steps):
        super().__init__()
        check_int(fade_steps=fade_steps)
        self.fade_steps = fade_steps

    def alpha(self, step):
        """Alpha after `step` training steps."""
        return min(1.0, step / self.fade_steps)

    def _update(self):
        step = int(ops.convert_to_numpy(self.model.g_optimizer.iterations))
        value = self.alpha(step)
        set_alpha(self.model, value)
        return value

    def on_train_begin(self, logs=None):
        if getattr(self.model, "g_optimizer", None) is None or (
            get_alpha(self.model) is None
        ):
            raise ValueError(
                "FadeIn needs a compiled Pix2Pix that is fading in a new "
                "stage (made by grow()); this model has no Fade layer."
            )
        self._update()

    def on_train_batch_begin(self, batch, logs=None):
        self._update()

    def on_epoch_end(self, epoch, logs=None):
        value = self._update()
        if logs is not None:
            logs["alpha"] = value


# ----------------------------------------------------------------------
# training


def _by_stage(value, n, name):
    """`value` (an int or a sequence of n ints) as a list of n ints >= 1."""
    try:
        values = [value] * n if isinstance(value, int) else list(value)
    except TypeError:
        values = None
    if values is None or len(values) != n:
        raise ValueError(
            f"`{name}` must be an int or a list of {n} ints (one per "
            f"{'grown ' if name == 'fade_steps' else ''}stage). Received: "
            f"{name}={value!r}"
        )
    for v in values:
        check_int(**{name: v})
    return values


def _steps_per_epoch(dataset, steps_per_epoch):
    if steps_per_epoch is not None:
        return steps_per_epoch
    if isinstance(dataset, tf.data.Dataset):
        n = int(dataset.cardinality())
        return n if n > 0 else None
    try:
        return len(dataset)
    except TypeError:
        return None


def _check_sizes(sizes, first):
    if sizes[0] != first:
        raise ValueError(
            f"The first size of `datasets` must be the model's size {first}. "
            f"Received sizes {sizes}."
        )
    for a, b in zip(sizes, sizes[1:]):
        if b != (2 * a[0], 2 * a[1]):
            raise ValueError(
                "Every size in `datasets` must be twice the one before (each "
                f"stage doubles the size). Received {a} then {b}, in sizes "
                f"{sizes}."
            )


def _check_dataset_size(dataset, size, what):
    spec = getattr(dataset, "element_spec", None)
    if isinstance(spec, (tuple, list)) and spec:
        shape = getattr(spec[0], "shape", None)
        if shape is not None and shape.rank == 4:
            hw = tuple(shape[1:3])
            if None not in hw and hw != size:
                raise ValueError(
                    f"{what} yields {hw} images, not {size}: load it at that "
                    "size (load_paired_dataset(..., image_size=...))."
                )


def train_progressive(
    model,
    datasets,
    epochs,
    fade_steps,
    *,
    validation_data=None,
    steps_per_epoch=None,
    callbacks=None,
    verbose="auto",
):
    """Trains a progressive `Pix2Pix` size by size, growing in between.

    Stage 0 trains `model` at its size with `fit()`. Every following
    stage calls `grow()` (twice the size, weights kept, fresh optimizers)
    and `fit()`s the grown model on the next dataset, with `FadeIn`
    moving `alpha` from 0 to 1 over the stage's first `fade_steps` steps.
    The epochs are numbered on across stages (`initial_epoch`), so
    epoch-keyed callbacks (`LearningRateHalving`, `LambdaSchedule`) run
    one schedule. The returned model has its last fade-in branch dropped
    (`stabilize()`).

    Args:
        model: compiled `Pix2Pix` with a `ProgressiveUNetGenerator` and a
            `ProgressivePatchDiscriminator`, not fading (or at `alpha =
            1`).
        datasets: dict `{image_size: dataset}` of `(source, target)`
            batches, one per stage in training order; the first size is
            the model's and each next one twice the previous (e.g. `{128:
            ds_128, 256: ds_256, 512: ds_512}`). Sizes are ints or
            `(height, width)`.
        epochs: int or list (one per stage). Epochs of each stage.
        fade_steps: int or list (one per grown stage). Steps of each
            fade-in; at most the stage's steps.
        validation_data: dict like `datasets` (same sizes) or `None`.
            Defaults to `None`.
        steps_per_epoch: int or `None`. Passed to `fit()`; needed when a
            dataset's length is unknown. Defaults to `None`.
        callbacks: list of callbacks for every stage, or a function
            `(stage, image_size) -> list` (for callbacks tied to one size,
            such as `SampleGrid`). Defaults to `None`.
        verbose: passed to `fit()`. Defaults to `"auto"`.

    Returns:
        `(model, stages)`: the trained model at the last size, and one
        dict per stage with `image_size`, `epochs`, `fade_steps` (0 for
        stage 0), `g_steps` / `d_steps` (the optimizers' steps in the
        stage) and `history` (the `fit()` history dict).

    Raises:
        ValueError: another kind of model, an uncompiled or mid-fade
            model, sizes that do not start at the model's size or do not
            double, a dataset of the wrong size, a fade longer than its
            stage, or bad `epochs` / `fade_steps`.

    Example:

    ```python
    datasets = {s: pk.load_paired_dataset(d, image_size=s, load_size=s + s // 8)
                for s in (128, 256, 512)}
    model, stages = train_progressive(model, datasets, epochs=[50, 50, 100],
                                      fade_steps=20_000)
    ```
    """
    g, _ = _networks(model, "train_progressive()")
    if getattr(model, "g_optimizer", None) is None:
        raise ValueError(
            "train_progressive() needs a compiled model: every stage is "
            "compiled with its settings and optimizer configuration."
        )
    alpha = get_alpha(model)
    if alpha is not None and alpha < 1.0:
        raise ValueError(
            f"train_progressive(): the model is fading in (alpha={alpha:.4g}); "
            "finish that fade-in first."
        )
    if not isinstance(datasets, collections.abc.Mapping) or not datasets:
        raise ValueError(
            "`datasets` must be a non-empty dict {image_size: dataset}, one "
            f"entry per stage. Received: {type(datasets).__name__}"
        )
    sizes = [_image_size(s, "datasets key") for s in datasets]
    sets = list(datasets.values())
    _check_sizes(sizes, tuple(g.image_size))
    n = len(sizes)
    epochs = _by_stage(epochs, n, "epochs")
    fades = [0] + (_by_stage(fade_steps, n - 1, "fade_steps") if n > 1 else [])
    if validation_data is None:
        validation = [None] * n
    else:
        if not isinstance(validation_data, collections.abc.Mapping):
            raise ValueError(
                "`validation_data` must be a dict {image_size: dataset} like "
                f"`datasets`. Received: {type(validation_data).__name__}"
            )
        val_sizes = [_image_size(s, "validation_data key") for s in validation_data]
        if val_sizes != sizes:
            raise ValueError(
                f"`validation_data` must have the sizes of `datasets` "
                f"{sizes}, in order. Received {val_sizes}."
            )
        validation = list(validation_data.values())
    if callbacks is not None and not callable(callbacks):
        callbacks = list(callbacks)
    for k, (size, ds) in enumerate(zip(sizes, sets)):
        _check_dataset_size(ds, size, f"datasets[{size}]")
        if validation[k] is not None:
            _check_dataset_size(validation[k], size, f"validation_data[{size}]")
        if k == 0:
            continue
        steps = _steps_per_epoch(ds, steps_per_epoch)
        if steps is None:
            raise ValueError(
                f"The length of datasets[{size}] is unknown, so the fade-in "
                "cannot be checked to fit in its stage: pass "
                "`steps_per_epoch`."
            )
        if fades[k] > epochs[k] * steps:
            raise ValueError(
                f"`fade_steps`={fades[k]} for stage {k} ({size}) is longer "
                f"than the stage ({epochs[k]} epochs × {steps} steps = "
                f"{epochs[k] * steps} steps): the fade-in must finish "
                "before the next stage grows."
            )

    stages = []
    epoch = 0
    for k, (size, ds) in enumerate(zip(sizes, sets)):
        own = []
        if k > 0:
            model = grow(model)
            own = [FadeIn(fades[k])]
        if callable(callbacks):
            user = list(callbacks(k, size) or [])
        else:
            user = list(callbacks or [])
        history = model.fit(
            ds,
            epochs=epoch + epochs[k],
            initial_epoch=epoch,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation[k],
            callbacks=own + user,
            verbose=verbose,
        )
        epoch += epochs[k]
        stages.append(
            {
                "image_size": size,
                "epochs": epochs[k],
                "fade_steps": fades[k],
                "g_steps": int(ops.convert_to_numpy(model.g_optimizer.iterations)),
                "d_steps": int(ops.convert_to_numpy(model.d_optimizer.iterations)),
                "history": dict(history.history),
            }
        )
    return stabilize(model), stages
