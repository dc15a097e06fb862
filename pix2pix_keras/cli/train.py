"""`pix2pix train`: a new run or `--resume`, the model and data of a
config, the run folder's callbacks and its training curves."""

import contextlib
import csv
import datetime
import json
import math
import os
import shutil
import sys
import tempfile
import warnings

import keras

import pix2pix_keras as pk
from pix2pix_keras.callbacks.run import LogLearningRates
from pix2pix_keras.callbacks.run import RunCheckpoint
from pix2pix_keras.callbacks.run import RunCSVLogger
from pix2pix_keras.callbacks.run import RunDiagnostics
from pix2pix_keras.cli.common import EXIT_OK
from pix2pix_keras.cli.common import PROG
from pix2pix_keras.cli.common import UsageError
from pix2pix_keras.cli.common import say
from pix2pix_keras.cli.config import _PATH_KEYS
from pix2pix_keras.cli.config import OPTIONS
from pix2pix_keras.cli.config import RESUME_KEYS
from pix2pix_keras.cli.config import TRAIN_OPTIONS
from pix2pix_keras.cli.config import _infer_lr_policy
from pix2pix_keras.cli.config import _load_size
from pix2pix_keras.cli.config import _pair
from pix2pix_keras.cli.config import check_config
from pix2pix_keras.cli.config import compute_policy
from pix2pix_keras.cli.config import default_config
from pix2pix_keras.cli.config import lambda_schedule
from pix2pix_keras.cli.config import lr_schedule
from pix2pix_keras.cli.config import read_config_file
from pix2pix_keras.cli.config import schedule_warnings
from pix2pix_keras.runs import CHECKPOINT_DIR
from pix2pix_keras.runs import CONFIG_FILE
from pix2pix_keras.runs import CURVES_FILE
from pix2pix_keras.runs import METRICS_FILE
from pix2pix_keras.runs import MODEL_FILE
from pix2pix_keras.runs import SAMPLES_DIR
from pix2pix_keras.runs import STATE_FILE
from pix2pix_keras.runs import TENSORBOARD_DIR
from pix2pix_keras.runs import read_state
from pix2pix_keras.runs import write_json
from pix2pix_keras.utils import atomic_path

__all__ = ["cmd_train", "dtype_policy", "fid_name", "plot_training_curves"]


def _new_run_config(args, overrides):
    config = default_config()
    given = set(overrides)
    if args.config:
        from_file = read_config_file(args.config)
        config.update(from_file)
        given.update(from_file)
    for key, value in overrides.items():
        if key in _PATH_KEYS and value is not None:
            value = os.path.abspath(value)
        config[key] = OPTIONS[key].check(value, OPTIONS[key].flag)
    _infer_lr_policy(config, given)
    where = f"{args.config} + flags" if args.config else "flags"
    config = check_config(config, where)
    if config["data"] is None:
        raise UsageError(
            "train needs training data: pass --data DIR or set `data` in "
            "the config file"
        )
    if config["output"] is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        config["output"] = os.path.abspath(os.path.join("runs", stamp))
    config["output"] = os.path.abspath(config["output"])
    for key in ("data", "val"):
        if config[key] is not None:
            config[key] = os.path.abspath(config[key])
    for name in (CONFIG_FILE, METRICS_FILE, CHECKPOINT_DIR, MODEL_FILE):
        if os.path.exists(os.path.join(config["output"], name)):
            raise UsageError(
                f"{config['output']} already holds a run ({name}): continue "
                f"it with 'pix2pix train --resume {config['output']}' or "
                "choose another --output"
            )
    return config


def _resume_config(args, overrides):
    run_dir = os.path.abspath(args.resume)
    if args.config:
        raise UsageError(
            "--resume takes its configuration from the run folder; it "
            "cannot be combined with --config (change epochs and paths with "
            "flags)"
        )
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise UsageError(f"--resume {args.resume}: not a run folder (no {CONFIG_FILE})")
    saved = read_config_file(path)
    config = default_config()
    config.update(saved)
    _infer_lr_policy(config, set(saved))
    for key, value in overrides.items():
        if key in _PATH_KEYS and value is not None:
            value = os.path.abspath(value)
        value = OPTIONS[key].check(value, OPTIONS[key].flag)
        if key not in RESUME_KEYS and value != config[key]:
            raise UsageError(
                f"{OPTIONS[key].flag} cannot change when resuming: the run "
                f"was started with {key}={config[key]!r}. Only "
                f"{', '.join(OPTIONS[k].flag for k in RESUME_KEYS)} can."
            )
        if key == "val" and (value is None) != (config["val"] is None):
            raise UsageError(
                "--val cannot be added or removed when resuming (the "
                "columns of metrics.csv would change); it can only point "
                "to another folder"
            )
        config[key] = value
    config["output"] = run_dir
    config = check_config(config, path)
    state = read_state(run_dir)
    if state is None:
        raise UsageError(
            f"{run_dir} has no checkpoint yet ({CHECKPOINT_DIR}/{STATE_FILE}): "
            "it stopped before its first epoch ended; start it again"
        )
    if state["epoch"] >= config["epochs"]:
        raise UsageError(
            f"the run in {run_dir} has trained {state['epoch']} of "
            f"{config['epochs']} epochs: pass --epochs N with N > "
            f"{state['epoch']} to train further"
        )
    return config, state


def _check_dirs(config):
    for key in ("data", "val"):
        path = config[key]
        if path is not None and not os.path.isdir(path):
            raise UsageError(f"`{key}`: no such folder: {path}")


def _truncate_metrics(path, epochs):
    """Keeps the header and the rows of epochs < `epochs` (0-based)."""
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    keep = [r for r in body if r and r[0].isdigit() and int(r[0]) < epochs]
    if len(keep) == len(body):
        return
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([header] + keep)


def _build_model(config):
    size = _pair(config["image_size"])
    channels = dict(
        in_channels=config["in_channels"], out_channels=config["out_channels"]
    )
    try:
        if config["generator"] == "unet":
            generator = pk.UNetGenerator(
                image_size=size,
                filters=config["filters"],
                norm=config["norm"],
                dropout=config["dropout"],
                depth=config.get("depth"),
                attention=config.get("attention", False),
                residual_blocks=config.get("residual_blocks", 0),
                **channels,
            )
        else:
            generator = pk.ResnetGenerator(
                image_size=size,
                filters=config["filters"],
                n_blocks=config["resnet_blocks"],
                n_downsampling=config.get("resnet_downsampling", 2),
                norm=config["norm"],
                dropout=config["dropout"],
                **channels,
            )
        common = dict(
            image_size=size,
            filters=config["filters"],
            norm=config["norm"],
            spectral_norm=config["spectral_norm"],
            **channels,
        )
        if config["discriminator"] == "patch":
            discriminator = pk.PatchDiscriminator(n_layers=config["d_layers"], **common)
        elif config["discriminator"] == "pixel":
            discriminator = pk.PixelDiscriminator(**common)
        else:
            discriminator = pk.MultiScaleDiscriminator(
                num_scales=config["d_scales"], n_layers=config["d_layers"], **common
            )
        model = pk.Pix2Pix(
            generator=generator,
            discriminator=discriminator,
            image_size=size,
            **channels,
        )
        d_lr = config["d_lr"] if config["d_lr"] is not None else config["lr"]
        model.compile(
            g_optimizer=keras.optimizers.Adam(config["lr"], beta_1=config["beta_1"]),
            d_optimizer=keras.optimizers.Adam(d_lr, beta_1=config["beta_1"]),
            gan_loss=config["gan_loss"],
            lambda_l1=config["lambda_l1"],
            reconstruction=config.get("reconstruction", "l1"),
            perceptual_weight=config.get("lambda_vgg", 0.0),
            perceptual_loss=_perceptual_loss(config),
            feature_matching_weight=config.get("lambda_fm", 0.0),
            d_every=config["d_every"],
            jit_compile=config["jit_compile"],
        )
    except ValueError as e:
        raise UsageError(f"invalid model configuration: {e}") from None
    return model


def _perceptual_loss(config):
    """The VGG19 perceptual loss of `lambda_vgg` > 0 (ImageNet weights),
    else `None`."""
    if config.get("lambda_vgg", 0.0) > 0:
        return pk.VGGPerceptualLoss()
    return None


def check_strategy_environment(config, environ=None):
    """Raises `UsageError` when `strategy` is `multiworker` and `TF_CONFIG`
    is missing or not a JSON object with a `cluster` and a `task`."""
    if config.get("strategy", "none") != "multiworker":
        return
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    hint = (
        "--strategy multiworker needs the TF_CONFIG environment variable "
        'on every worker, e.g. TF_CONFIG=\'{"cluster": {"worker": '
        '["hostA:12345", "hostB:12345"]}, "task": {"type": '
        '"worker", "index": 0}}\' (see docs/distributed.md)'
    )
    if not text:
        raise UsageError(f"{hint}; it is not set")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{hint}; it is not valid JSON ({e.msg})") from None
    if not isinstance(parsed, dict) or "cluster" not in parsed or "task" not in parsed:
        raise UsageError(f"{hint}; it has no `cluster` or no `task`")


def make_strategy(config):
    """The `tf.distribute` strategy of `strategy` (`None` for `none`)."""
    name = config.get("strategy", "none")
    if name == "none":
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    check_strategy_environment(config)
    return tf.distribute.MultiWorkerMirroredStrategy()


def _is_chief(strategy):
    """Whether this process writes the run folder (not a multi-worker
    worker other than worker 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if strategy is None or resolver is None:
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )


def _distributed_train_data(train, config, strategy):
    """The training data for `strategy`: global batches of `batch_size`
    split over the replicas (each must get the same number of images)."""
    if strategy is None:
        return train
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    if config["batch_size"] % replicas:
        raise UsageError(
            f"--batch-size {config['batch_size']} is the global batch of "
            f"--strategy {config['strategy']}, which has {replicas} "
            "replicas: use a multiple of it"
        )
    if replicas > 1:
        train = train.rebatch(config["batch_size"], drop_remainder=True)
    if config["strategy"] == "multiworker":
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        train = train.with_options(options)
    return train


def _datasets(config):
    common = dict(
        layout=config["layout"],
        direction=config["direction"],
        image_size=_pair(config["image_size"]),
        load_size=_load_size(config),
        preprocess=config["preprocess"],
        in_channels=config["in_channels"],
        out_channels=config["out_channels"],
        batch_size=config["batch_size"],
    )
    # Always the run's seed: a resumed segment replays the shuffle and
    # jitter sequence up to its first epoch (see `_resume_point`).
    train = pk.load_paired_dataset(
        config["data"],
        training=True,
        flip=config["flip"],
        seed=config["seed"],
        **common,
    )
    # Validation and samples are resized to the training size whatever
    # the training preprocessing (the networks have a fixed input size).
    common["preprocess"] = "resize_and_crop"
    val = None
    if config["val"] is not None:
        val = pk.load_paired_dataset(config["val"], training=False, **common)
    samples = None
    if config["sample_every"]:
        source = val
        if source is None:
            source = pk.load_paired_dataset(config["data"], training=False, **common)
        n = config["num_samples"]
        samples = next(iter(source.unbatch().take(n).batch(n)))
    return train, val, samples


def _resume_point(train, epochs_done, steps_per_epoch):
    """`(dataset, steps_per_epoch)` for `fit`, from epoch `epochs_done` on.

    `fit` gets ONE iterator for the whole run, over the `.repeat()`ed
    data (one pass an epoch when `steps_per_epoch` is `None`): the
    pipeline draws a new shuffle order and new crops and flips per pass,
    deterministically from the run's seed, so a resumed run skips the
    batches already trained on and then sees exactly the batches of an
    unbroken run. (Skipping recomputes the skipped crops and flips, not
    the training steps.)
    """
    if steps_per_epoch is None:
        steps_per_epoch = int(train.cardinality())
        if steps_per_epoch < 1:
            raise RuntimeError(
                "cannot tell how many batches one pass over the training "
                f"data has (tf.data cardinality {steps_per_epoch}); set "
                "steps_per_epoch"
            )
    return (train.repeat().skip(epochs_done * steps_per_epoch), steps_per_epoch)


def fid_name(config):
    """The logged name of `fid_every` (as `val_<name>`): `fid` for the
    network of published FIDs, `fid_proxy` for the others."""
    if config["fid_network"] == "fid_inception_2015":
        return "fid"
    return "fid_proxy"


#: The findings of `--diagnostics`, one JSON object a line.
DIAGNOSTICS_FILE = "diagnostics.jsonl"


def _callbacks(config, run_dir, samples, val=None, verbose=1):
    callbacks = []
    schedule = lr_schedule(config)
    if schedule is not None:
        callbacks.append(schedule)
    schedule = lambda_schedule(config)
    if schedule is not None:
        callbacks.append(schedule)
    callbacks.append(LogLearningRates())
    if config.get("diagnostics", False):
        callbacks.append(
            RunDiagnostics(
                os.path.join(run_dir, DIAGNOSTICS_FILE),
                window=config.get("diagnostics_window", 50),
                verbose=1 if verbose else 0,
            )
        )
    if samples is not None:
        callbacks.append(
            pk.SampleGrid(
                samples,
                os.path.join(run_dir, SAMPLES_DIR),
                every=config["sample_every"],
            )
        )
    if config["tensorboard"]:
        callbacks.append(
            pk.TensorBoard(
                os.path.join(run_dir, TENSORBOARD_DIR),
                samples=samples,
                image_every=config["sample_every"] or 1,
            )
        )
    if config["fid_every"]:
        callbacks.append(
            pk.FIDMonitor(
                val,
                extractor=config["fid_network"],
                every=config["fid_every"],
                name=fid_name(config),
            )
        )
    callbacks.append(RunCSVLogger(os.path.join(run_dir, METRICS_FILE), append=True))
    callbacks.append(
        RunCheckpoint(
            os.path.join(run_dir, CHECKPOINT_DIR),
            every=config["checkpoint_every"],
            keep=config["keep_checkpoints"],
        )
    )
    return callbacks


#: Panel order of `plot_training_curves`; other values follow, sorted.
_PANEL_ORDER = (
    "g_loss",
    "g_gan",
    "g_l1",
    "g_l2",
    "g_vgg",
    "g_fm",
    "d_loss",
    "d_real",
    "d_fake",
    "learning rate",
    "lambda_l1",
    "psnr",
    "ssim",
    "fid",
    "fid_proxy",
)


def plot_training_curves(csv_path, png_path, columns=3):
    """Draws every column of a `metrics.csv` into a PNG, one panel each.

    A value and its `val_` counterpart share a panel (train and validation
    lines; a panel with validation values only says so in its title);
    `g_lr` and `d_lr` share the "learning rate" panel. Losses come first
    (`g_loss`, `g_gan`, `g_l1`, ..., `d_loss`, `d_real`, `d_fake`). Drawn
    on matplotlib's Agg canvas (no pyplot state) and written atomically;
    each panel is 400×300 pixels.

    Args:
        csv_path: str. A CSV with an `epoch` column (0-based) and one column
            per logged value, as `keras.callbacks.CSVLogger` writes.
        png_path: str. The PNG to write.
        columns: int. Panels per row. Defaults to `3`.

    Returns:
        list of str. The panel titles, in order.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{csv_path} has no rows to plot")
    panels = {}
    for key in rows[0]:
        if key == "epoch":
            continue
        base = key[4:] if key.startswith("val_") else key
        title = "learning rate" if base in ("g_lr", "d_lr") else base
        panels.setdefault(title, []).append(key)
    order = sorted(
        panels,
        key=lambda t: (
            _PANEL_ORDER.index(t) if t in _PANEL_ORDER else len(_PANEL_ORDER),
            t,
        ),
    )
    epochs = [int(r["epoch"]) + 1 for r in rows]
    n_rows = math.ceil(len(order) / columns)
    fig = Figure(figsize=(4 * columns, 3 * n_rows), dpi=100)
    axes = fig.subplots(n_rows, columns, squeeze=False).ravel()
    titles = []
    for ax, title in zip(axes, order):
        series = sorted(panels[title], key=lambda k: k.startswith("val_"))
        for key in series:
            values = []
            for r in rows:
                try:
                    values.append(float(r[key]))
                except (TypeError, ValueError):
                    values.append(math.nan)
            if title == "learning rate":
                label = key
            else:
                label = "validation" if key.startswith("val_") else "train"
            ax.plot(epochs, values, marker="o", markersize=3, label=label)
        if all(k.startswith("val_") for k in series):
            title = f"{title} (validation)"
        titles.append(title)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    for ax in axes[len(order) :]:
        ax.set_visible(False)
    fig.tight_layout()
    with atomic_path(png_path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi)
    return titles


@contextlib.contextmanager
def dtype_policy(config):
    """Sets Keras's global dtype policy of `mixed_precision` while the
    model is built (or loaded) and trained; restores the previous one."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(
        compute_policy(config.get("mixed_precision", "off"))
    )
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def cmd_train(args):
    overrides = {
        o.name: getattr(args, o.name) for o in TRAIN_OPTIONS if hasattr(args, o.name)
    }
    if args.resume:
        config, state = _resume_config(args, overrides)
    else:
        config, state = _new_run_config(args, overrides), None
    _check_dirs(config)
    check_strategy_environment(config)
    for warning in schedule_warnings(config):
        print(f"{PROG} train: warning: {warning}", file=sys.stderr, flush=True)
    with dtype_policy(config):
        return _train(args, config, state)


def _train(args, config, state):
    # First: a multi-worker strategy must exist before other TF work.
    strategy = make_strategy(config)
    if not _is_chief(strategy):
        # Other workers train the same model but write nothing to the run
        # folder: their files go to a temporary folder, removed at the end.
        scratch = tempfile.mkdtemp(prefix="pix2pix-worker-")
        try:
            return _train_in(args, {**config, "output": scratch}, state, strategy)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _train_in(args, config, state, strategy)


def _train_in(args, config, state, strategy):
    run_dir = config["output"]
    args.run_dir = run_dir  # for the hint after an interruption

    initial_epoch = state["epoch"] if state else 0
    # The run's seed also when resuming: tf.data combines it with the
    # pipeline's op seeds (see `_resume_point`); the model's dropout RNG
    # states come from the checkpoint.
    keras.utils.set_random_seed(config["seed"])
    train, val, samples = _datasets(config)
    train = _distributed_train_data(train, config, strategy)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        if state:
            model = pk.Pix2Pix.load(state["checkpoint"])
        else:
            model = _build_model(config)
    if state:
        _truncate_metrics(os.path.join(run_dir, METRICS_FILE), initial_epoch)
        say(
            args,
            f"Resuming {run_dir} at epoch {initial_epoch + 1} of "
            f"{config['epochs']} from {state['checkpoint']}",
        )
    else:
        say(
            args,
            f"Training into {run_dir} (compute dtype "
            f"{model.generator.dtype_policy.compute_dtype})",
        )
    os.makedirs(run_dir, exist_ok=True)
    write_json(os.path.join(run_dir, CONFIG_FILE), config)
    train, steps = _resume_point(train, initial_epoch, config["steps_per_epoch"])
    metrics_path = os.path.join(run_dir, METRICS_FILE)
    try:
        with warnings.catch_warnings():
            # schedule_warnings said it above, naming the flags.
            warnings.filterwarnings(
                "ignore", message=r"LinearDecay\(", category=UserWarning
            )
            model.fit(
                train,
                epochs=config["epochs"],
                initial_epoch=initial_epoch,
                steps_per_epoch=steps,
                validation_data=val,
                callbacks=_callbacks(
                    config, run_dir, samples, val, verbose=args.verbose
                ),
                verbose=args.verbose,
                shuffle=False,  # the dataset shuffles itself
            )
    finally:
        if os.path.isfile(metrics_path):
            try:
                plot_training_curves(metrics_path, os.path.join(run_dir, CURVES_FILE))
            except (OSError, ValueError):
                pass  # nothing logged yet
    model_path = os.path.join(run_dir, MODEL_FILE)
    _write_final_model(model, run_dir, config["epochs"])
    say(args, f"Wrote {model_path}")
    return EXIT_OK


def _write_final_model(model, run_dir, epochs):
    """Writes `model.keras`: a hard link to the last epoch's checkpoint.

    The checkpoint of the last epoch holds exactly the final model, so
    linking it saves a second write of the file (655 MB at 256×256) and its
    disk space. The link is made under a temporary name and renamed into
    place (atomic); where hard links are not possible, the model is saved.
    """
    path = os.path.join(run_dir, MODEL_FILE)
    state = read_state(run_dir)
    if state is not None and state["epoch"] == epochs:
        try:
            with atomic_path(path, suffix=".keras") as tmp:
                os.remove(tmp)
                os.link(state["checkpoint"], tmp)
            return path
        except OSError:
            pass
    model.save(path)
    return path
