"""Every configuration key of `pix2pix train`: its default, type, range
and `--flag` (`TRAIN_OPTIONS`), and the keys a resumed run may change.
`pix2pix_keras.cli.config` reads and checks configurations made of them.
"""

import dataclasses
import math

from pix2pix_keras.cli.common import UsageError

__all__ = [
    "DEFAULT_HALVING_EVERY",
    "DEFAULT_LR_POLICY",
    "LR_POLICIES",
    "MIN_RATE_FRACTION",
    "MIXED_PRECISION",
    "OPTIONS",
    "Option",
    "RESUME_KEYS",
    "STRATEGIES",
    "TRAIN_OPTIONS",
]


#: The learning-rate schedules of `pix2pix train` (`--lr-policy`).
LR_POLICIES = ("linear", "halving", "constant")
#: The default `--lr-policy`: the PyTorch reference's default, `linear`
#: (constant rates for the first half of the run, then linear to 0).
DEFAULT_LR_POLICY = "linear"
#: `--lr-halving-every` of the halving policy when not given.
DEFAULT_HALVING_EVERY = 10
#: A schedule that drives the rate below this fraction of the base rate
#: before the last tenth of the run gets a warning.
MIN_RATE_FRACTION = 1e-3
#: `--mixed-precision` values (see `compute_policy`).
MIXED_PRECISION = ("off", "auto", "bf16", "float16")
#: `--strategy` values: no `tf.distribute` strategy, `MirroredStrategy`
#: (the GPUs of this machine, else its CPU) or
#: `MultiWorkerMirroredStrategy` (several machines; needs `TF_CONFIG`).
STRATEGIES = ("none", "mirrored", "multiworker")

# ----------------------------------------------------------------------
# The training configuration: every key, its default, type and range.


@dataclasses.dataclass(eq=False, repr=False)
class Option:
    """One configuration key of `pix2pix train` (and its `--flag`)."""

    name: str
    default: object
    help: str
    kind: str  # int, float, bool, str, path, choice, size
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def describe(self):
        """The accepted values, as the error messages and docs say them."""
        if self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "size":
            text = "an int >= 1 or a [height, width] pair of them"
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind in ("str", "path"):
            text = "a non-empty string"
        else:
            kind = "an int" if self.kind == "int" else "a number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {self.low}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {self.high}")
            text = kind + (" " + " and ".join(bounds) if bounds else "")
        return text + (" or null" if self.nullable else "")

    def check(self, value, where, yaml_source=False):
        """Returns the value, normalised; raises `UsageError` naming it."""
        if value is None:
            if self.nullable:
                return None
            raise self._error(value, where)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise self._error(value, where)
        if self.kind in ("str", "path"):
            if isinstance(value, str) and value:
                return value
            raise self._error(value, where)
        if self.kind == "choice":
            if value in self.choices:
                return value
            raise self._error(value, where)
        if self.kind == "size":
            sizes = [value] if not isinstance(value, (list, tuple)) else value
            if len(sizes) in (1, 2) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes
            ):
                return sizes[0] if len(sizes) == 1 else [sizes[0], sizes[1]]
            raise self._error(value, where)
        if yaml_source and self.kind == "float" and isinstance(value, str):
            # YAML 1.1 reads `2e-4` (no dot) as a string.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(value, where)
        if self.kind == "int" and not isinstance(value, int):
            raise self._error(value, where)
        if not math.isfinite(value):
            raise self._error(value, where)
        if self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        ):
            raise self._error(value, where)
        if self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        ):
            raise self._error(value, where)
        return float(value) if self.kind == "float" else value

    def _error(self, value, where):
        return UsageError(
            f"{where}: `{self.name}` must be {self.describe()}. "
            f"Received: {self.name}={value!r}"
        )


TRAIN_OPTIONS = (
    # data
    Option(
        "data",
        None,
        "training data folder (AB images, A/ + B/ folders, or pairs sharing a stem)",
        "path",
        nullable=True,
    ),
    Option(
        "val",
        None,
        "validation data folder: validation losses, PSNR "
        "and SSIM every epoch, and the sample grids",
        "path",
        nullable=True,
    ),
    Option(
        "layout",
        "auto",
        "data layout",
        "choice",
        choices=("auto", "ab", "folders", "stems"),
    ),
    Option(
        "direction",
        "AtoB",
        "which side is the input: AtoB or BtoA",
        "choice",
        choices=("AtoB", "BtoA"),
    ),
    Option("image_size", 256, "training resolution: SIZE or HEIGHT WIDTH", "size"),
    Option(
        "load_size",
        None,
        "resize before the random crop (null: image_size * 286 / 256)",
        "size",
        nullable=True,
    ),
    Option(
        "preprocess",
        "resize_and_crop",
        "preprocessing mode",
        "choice",
        choices=("resize_and_crop", "crop", "scale_width", "none"),
    ),
    Option("flip", True, "random horizontal flips in training", "bool"),
    Option("in_channels", 3, "input image channels", "choice", choices=(1, 3, 4)),
    Option("out_channels", 3, "output image channels", "choice", choices=(1, 3, 4)),
    # model
    Option(
        "generator", "unet", "generator network", "choice", choices=("unet", "resnet")
    ),
    Option("filters", 64, "base filters of both networks", "int", low=1),
    Option(
        "norm",
        "batch",
        "normalization of both networks",
        "choice",
        choices=("batch", "instance", "none"),
    ),
    Option(
        "dropout",
        0.5,
        "generator dropout rate",
        "float",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    Option("resnet_blocks", 9, "residual blocks of the resnet generator", "int", low=0),
    Option(
        "resnet_downsampling",
        2,
        "resnet generator: stride-2 "
        "convolutions before the residual blocks (and transposed ones "
        "after)",
        "int",
        low=0,
    ),
    Option(
        "depth",
        None,
        "U-Net generator: down blocks (null: the "
        "shorter side down to 1 pixel, 8 at 256)",
        "int",
        low=2,
        nullable=True,
    ),
    Option(
        "attention",
        False,
        "U-Net generator: attention gates on the skip connections (Attention U-Net)",
        "bool",
    ),
    Option(
        "residual_blocks",
        0,
        "U-Net generator: residual blocks after "
        "each up block and each down block of at least 2x2 (residual "
        "U-Net; 0: none)",
        "int",
        low=0,
    ),
    Option(
        "d_layers",
        3,
        "PatchGAN layers (receptive field 16, 34, 70, 142, 286 for 1..5)",
        "int",
        low=1,
        high=5,
    ),
    Option(
        "discriminator",
        "patch",
        "discriminator network: patch "
        "(PatchGAN, d_layers layers), pixel (1x1 PixelGAN) or multiscale "
        "(d_scales PatchGANs on 1, 1/2, 1/4 ... of the image)",
        "choice",
        choices=("patch", "pixel", "multiscale"),
    ),
    Option("d_scales", 3, "multiscale discriminator: number of scales", "int", low=1),
    Option(
        "spectral_norm",
        False,
        "spectral normalization of the discriminator's convolutions",
        "bool",
    ),
    # optimisation
    Option("epochs", 200, "total epochs (also when resuming)", "int", low=1),
    Option(
        "steps_per_epoch",
        None,
        "batches per epoch (null: one pass over the data)",
        "int",
        low=1,
        nullable=True,
    ),
    Option("batch_size", 1, "batch size", "int", low=1),
    Option(
        "lr",
        2e-4,
        "learning rate of the generator (and of the discriminator unless d_lr is set)",
        "float",
        low=0.0,
        low_open=True,
    ),
    Option(
        "d_lr",
        None,
        "learning rate of the discriminator (null: lr)",
        "float",
        low=0.0,
        low_open=True,
        nullable=True,
    ),
    Option(
        "beta_1",
        0.5,
        "Adam beta_1 of both optimizers",
        "float",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    Option(
        "lr_policy",
        DEFAULT_LR_POLICY,
        "learning-rate schedule of all "
        "optimizers: linear (constant for n_epochs, then linear to 0 over "
        "n_epochs_decay, as the PyTorch reference), halving (halve every "
        "lr_halving_every epochs) or constant",
        "choice",
        choices=LR_POLICIES,
    ),
    Option(
        "n_epochs",
        None,
        "linear policy: epochs at the base rate "
        "(null: the first half of the run, epochs - epochs // 2)",
        "int",
        low=0,
        nullable=True,
    ),
    Option(
        "n_epochs_decay",
        None,
        "linear policy: epochs of linear decay "
        "to 0 after n_epochs (null: the rest of the run)",
        "int",
        low=0,
        nullable=True,
    ),
    Option(
        "lr_halving_every",
        None,
        "halving policy: halve the learning "
        "rates every N epochs (null: 10). Given without lr_policy it "
        "selects halving (0: constant)",
        "int",
        low=0,
        nullable=True,
    ),
    Option(
        "gan_loss", "lsgan", "GAN loss", "choice", choices=("lsgan", "vanilla", "hinge")
    ),
    Option("lambda_l1", 100.0, "weight of the L1 loss", "float", low=0.0),
    Option(
        "reconstruction",
        "l1",
        "reconstruction loss weighted by "
        "lambda_l1: l1 (paper) or l2 (mean squared error)",
        "choice",
        choices=("l1", "l2"),
    ),
    Option(
        "lambda_vgg",
        0.0,
        "weight of the VGG19 perceptual loss (ImageNet "
        "weights, downloaded once; 0: off)",
        "float",
        low=0.0,
    ),
    Option(
        "lambda_fm",
        0.0,
        "weight of the discriminator feature-matching loss (0: off)",
        "float",
        low=0.0,
    ),
    Option(
        "lambda_end",
        None,
        "lambda schedule: move the reconstruction "
        "weight linearly from lambda_l1 to this value between "
        "lambda_start_epoch and lambda_end_epoch (null: constant)",
        "float",
        low=0.0,
        nullable=True,
    ),
    Option(
        "lambda_start_epoch",
        None,
        "lambda schedule: the last epoch at lambda_l1 (null: 0)",
        "int",
        low=0,
        nullable=True,
    ),
    Option(
        "lambda_end_epoch",
        None,
        "lambda schedule: the first epoch at lambda_end (null: epochs)",
        "int",
        low=1,
        nullable=True,
    ),
    Option("d_every", 1, "update the discriminator every N steps", "int", low=1),
    Option("jit_compile", False, "compile the training step with XLA", "bool"),
    Option(
        "mixed_precision",
        "off",
        "compute in bfloat16 with float32 "
        "weights, generator outputs, logits and losses: bf16, auto (bf16 "
        "on a GPU or on a CPU with AVX-512-bf16 or AMX) or off; float16: "
        "the same in float16, with dynamic loss scaling of both "
        "optimizers",
        "choice",
        choices=MIXED_PRECISION,
    ),
    Option(
        "strategy",
        "none",
        "tf.distribute strategy the model is built "
        "and trained under: none, mirrored (the GPUs of this machine, "
        "else its CPU) or multiworker (several machines, set up by "
        "TF_CONFIG)",
        "choice",
        choices=STRATEGIES,
    ),
    Option("seed", 0, "seed of the weights, shuffling and augmentation", "int", low=0),
    Option(
        "diagnostics",
        False,
        "watch the losses with the Diagnostics "
        "callback: print each troubleshooting finding, log the number "
        "per epoch as `diagnostics` and append them to diagnostics.jsonl",
        "bool",
    ),
    Option(
        "diagnostics_window",
        50,
        "diagnostics: batches in the rolling window of its batch rules",
        "int",
        low=4,
    ),
    # outputs
    Option(
        "output", None, "run folder (null: runs/<date>-<time>)", "path", nullable=True
    ),
    Option(
        "sample_every",
        1,
        "write a sample grid (PNG and TensorBoard image) every N epochs (0: never)",
        "int",
        low=0,
    ),
    Option("num_samples", 4, "examples in a sample grid", "int", low=1),
    Option(
        "checkpoint_every",
        1,
        "save a checkpoint every N epochs (and after the last)",
        "int",
        low=1,
    ),
    Option("keep_checkpoints", 1, "checkpoints kept in checkpoints/", "int", low=1),
    Option("tensorboard", True, "write TensorBoard logs to tensorboard/", "bool"),
    Option(
        "fid_every",
        0,
        "log the FID of the val pairs every N epochs "
        "(and after the last) as val_fid_proxy, or val_fid with "
        "fid_network fid_inception_2015 (0: never; needs val)",
        "int",
        low=0,
    ),
    Option(
        "fid_network",
        "random_inception_v3",
        "features of fid_every: "
        "random_inception_v3 (fixed random weights, no download; follows "
        "a run, not comparable with published FIDs), fid_inception_2015 "
        "(the network of published FIDs, downloaded once) or "
        "keras_inception_v3",
        "choice",
        choices=("random_inception_v3", "fid_inception_2015", "keras_inception_v3"),
    ),
)
OPTIONS = {o.name: o for o in TRAIN_OPTIONS}
#: Keys that `train --resume` may change; the others define the model,
#: the optimizers or the data and stay as the run was started.
RESUME_KEYS = (
    "epochs",
    "n_epochs",
    "n_epochs_decay",
    "data",
    "val",
    "sample_every",
    "num_samples",
    "checkpoint_every",
    "keep_checkpoints",
    "tensorboard",
    "fid_every",
    "fid_network",
    "diagnostics",
    "diagnostics_window",
)
_PATH_KEYS = ("data", "val", "output")
