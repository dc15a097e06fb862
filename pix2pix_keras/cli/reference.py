"""The reference table of `pix2pix train`'s configuration keys.

`train_options_table()` renders every key of `TRAIN_OPTIONS` as one
Markdown table (key, flag, default, values, meaning): the key, flag,
default and accepted values come from the option table itself, the
meaning from `MEANINGS` (or the option's `--help` text). `docs/cli.md`
holds it between `TABLE_START` and `TABLE_END`;
`python -m pix2pix_keras.cli.reference docs/cli.md` rewrites it there, and
a test checks that the page and the code agree.
"""

import sys

from pix2pix_keras.cli.config import TRAIN_OPTIONS

__all__ = [
    "TABLE_END",
    "TABLE_START",
    "page_table",
    "train_options_table",
    "update_page",
]

TABLE_START = "<!-- train-options: start (generated) -->"
TABLE_END = "<!-- train-options: end -->"

#: The default column where the value alone would not say it.
DEFAULT_TEXT = {"data": "required", "output": "`runs/<date>-<time>`"}
#: The values column where the generic wording is not enough.
VALUES_TEXT = {
    "image_size": "int or `[height, width]` (`--image-size 256 512`)",
    "load_size": "int, `[h, w]` or null",
    "data": "folder",
    "output": "folder",
}
#: The meaning column (Markdown); keys not listed use their `--help` text.
MEANINGS = {
    "fid_every": (
        "log the FID of the val pairs every N epochs and after the last, as "
        "`val_fid_proxy` (or `val_fid` with `fid_network: "
        "fid_inception_2015`); 0: never; needs `val`"
    ),
    "fid_network": (
        "features of `fid_every`: fixed random weights (no download; "
        "compares epochs and runs on the same val pairs, not published "
        "FIDs), the network of published FIDs (downloaded once), or Keras's "
        "ImageNet InceptionV3 (see [evaluation.md](evaluation.md))"
    ),
    "data": (
        "training data: AB images, `A/` + `B/` folders, or pairs sharing a "
        "stem (see [data.md](data.md))"
    ),
    "val": (
        "validation data: validation losses, PSNR and SSIM every epoch, and"
        " the sample grids"
    ),
    "layout": ("data layout"),
    "direction": ("which side is the input"),
    "image_size": (
        "training resolution; the U-Net needs sides divisible by "
        "2^floor(log2(shorter side))"
    ),
    "load_size": ("resize before the random crop; null: `image_size` × 286 / 256"),
    "preprocess": (
        "training preprocessing (`none`: no resizing, so the images must "
        "have the training size; needs `batch_size` 1); validation and "
        "samples are resized to `image_size`"
    ),
    "flip": ("random horizontal flips in training"),
    "in_channels": ("input image channels"),
    "out_channels": ("output image channels"),
    "generator": (
        "generator network: `UNetGenerator` (with `depth`, `attention` and "
        "`residual_blocks`: Attention U-Net, residual U-Net) or "
        "`ResnetGenerator` (`resnet_blocks`, `resnet_downsampling`)"
    ),
    "filters": ("base filters of both networks"),
    "norm": ("normalization of both networks"),
    "dropout": ("generator dropout rate"),
    "resnet_blocks": ("residual blocks of the resnet generator"),
    "resnet_downsampling": (
        "`resnet` only: stride-2 convolutions before the residual blocks "
        "(and transposed ones after; `n_downsampling`); the image sides "
        "must be divisible by 2^N and leave at least 2 pixels"
    ),
    "depth": (
        "`unet` only: down blocks of the U-Net; null: the shorter side "
        "down to 1 pixel (8 at 256). The sides must be divisible by "
        "2^depth"
    ),
    "attention": (
        "`unet` only: attention gates on the skip connections (Attention "
        "U-Net, Oktay et al. 2018)"
    ),
    "residual_blocks": (
        "`unet` only: `ResidualBlock`s after every up block and every down "
        "block with an output of at least 2×2 (residual U-Net); 0: none"
    ),
    "d_layers": ("PatchGAN layers (receptive field 16, 34, 70, 142, 286)"),
    "discriminator": (
        "discriminator network: `PatchDiscriminator` (`d_layers` layers), "
        "`PixelDiscriminator` (1×1 PixelGAN) or `MultiScaleDiscriminator` "
        "(`d_scales` PatchGANs of `d_layers` layers on the image at full, "
        "half, quarter ... size)"
    ),
    "d_scales": (
        "`multiscale`: number of scales (the smallest must stay larger than"
        " 2^(`d_layers` + 1) pixels)"
    ),
    "spectral_norm": ("spectral normalization of the discriminator's convolutions"),
    "epochs": ("total epochs, also when resuming"),
    "steps_per_epoch": ("batches per epoch; null: one pass over the data"),
    "batch_size": ("batch size"),
    "lr": ("learning rate of G (and of D unless `d_lr` is set); Adam"),
    "d_lr": ("learning rate of D; null: `lr`"),
    "beta_1": ("Adam β1 of both optimizers"),
    "lr_policy": (
        "learning-rate schedule of every optimizer (see [Learning-rate "
        "schedules](#learning-rate-schedules))"
    ),
    "n_epochs": (
        "`linear`: epochs at the base rate; null: `epochs - epochs // 2` "
        "(100 of 200), or `epochs - n_epochs_decay` if that is set"
    ),
    "n_epochs_decay": (
        "`linear`: epochs of linear decay to 0 after `n_epochs`; null: "
        "`epochs // 2`, or `epochs - n_epochs` if that is set"
    ),
    "lr_halving_every": (
        "`halving`: halve the rates every N epochs (`LearningRateHalving`);"
        " null: 10. Set without `lr_policy` it selects `halving` (0: "
        "`constant`), as before `lr_policy` existed"
    ),
    "gan_loss": ("GAN loss"),
    "lambda_l1": (
        "λ: weight of the reconstruction loss (L1, or L2 with "
        "`reconstruction` `l2`); the start value of the λ schedule"
    ),
    "reconstruction": (
        "reconstruction loss weighted by λ: `l1` (paper) or `l2` (mean "
        "squared error, logged as `g_l2`; `g_l1` is logged either way)"
    ),
    "lambda_vgg": (
        "weight of the VGG19 perceptual loss (`VGGPerceptualLoss`, "
        "ImageNet weights downloaded once; logged as `g_vgg`); 0: off"
    ),
    "lambda_fm": (
        "weight of the pix2pixHD feature-matching loss: L1 between the "
        "discriminator's features of real and generated pairs (logged as "
        "`g_fm`); 0: off"
    ),
    "lambda_end": (
        "λ schedule (`LambdaSchedule`): λ moves linearly from `lambda_l1` "
        "to `lambda_end` between `lambda_start_epoch` and "
        "`lambda_end_epoch` (logged as `lambda_l1`); null: constant λ"
    ),
    "lambda_start_epoch": (
        "λ schedule: the last epoch (0-based) at `lambda_l1`; null: 0. "
        "Only with `lambda_end`"
    ),
    "lambda_end_epoch": (
        "λ schedule: the first epoch (0-based) at `lambda_end`, greater "
        "than `lambda_start_epoch`; null: `epochs`. Only with "
        "`lambda_end`"
    ),
    "d_every": ("update D every N steps"),
    "jit_compile": ("compile the training step with XLA"),
    "mixed_precision": (
        "compute precision. `bf16`: Keras's `mixed_bfloat16` policy, "
        "bfloat16 convolutions with float32 weights (the optimizers update "
        "float32 variables), float32 generator outputs, discriminator "
        "logits and losses; about 1.2–1.5× faster on CPUs with AVX-512-bf16"
        " or AMX (see [performance.md](performance.md)), slower on CPUs "
        "without. `auto`: `bf16` on a GPU or on a CPU with AVX-512-bf16 or "
        "AMX, else `off`. `float16`: `mixed_float16`, the same in float16 "
        "(for GPUs), with both optimizers wrapped in "
        "`keras.optimizers.LossScaleOptimizer` (dynamic loss scaling: an "
        "overflowing step is skipped and the scale halved). Saved with the "
        "model; fixed when resuming"
    ),
    "strategy": (
        "`tf.distribute` strategy the model is built, compiled and trained "
        "under (see [distributed.md](distributed.md)): `mirrored` "
        "(`MirroredStrategy`: the GPUs of this machine, else its CPU) or "
        "`multiworker` (`MultiWorkerMirroredStrategy`; every worker runs "
        "the same command with its own `TF_CONFIG`, worker 0 writes the "
        "run folder). `batch_size` is the global batch, a multiple of the "
        "replicas"
    ),
    "seed": ("seeds the weights, shuffling and augmentation"),
    "diagnostics": (
        "watch the losses with the `Diagnostics` callback (see "
        "[training_tips.md](training_tips.md)): each finding is printed "
        "(unless `--verbose 0`) and appended to `diagnostics.jsonl`, and "
        "the number found per epoch is logged as `diagnostics`"
    ),
    "diagnostics_window": (
        "`diagnostics`: batches in the rolling window of its batch rules"
    ),
    "output": ("the run folder"),
    "sample_every": (
        "sample grid (PNG and TensorBoard image) every N epochs; 0: never"
    ),
    "num_samples": ("examples in a grid (the first of `val`, else of `data`)"),
    "checkpoint_every": ("checkpoint every N epochs, and after the last"),
    "keep_checkpoints": ("checkpoints kept"),
    "tensorboard": ("TensorBoard logs in `tensorboard/`"),
}


def _number(value):
    return repr(value) if isinstance(value, float) else str(value)


def values_text(option):
    """The accepted values of `option`, as the table says them."""
    if option.name in VALUES_TEXT:
        return VALUES_TEXT[option.name]
    if option.kind == "choice":
        text = ", ".join(
            f"`{c}`" if isinstance(c, str) else str(c) for c in option.choices
        )
    elif option.kind == "bool":
        text = "bool"
    elif option.kind == "path":
        text = "folder"
    elif option.kind == "size":
        text = "int or `[height, width]`"
    elif option.kind == "int" and option.high is not None:
        text = f"{option.low}–{option.high}"
    elif option.kind == "int":
        text = f"int ≥ {option.low}"
    elif option.low is not None and option.high is not None:
        text = f"[{option.low:g}, {option.high:g}{')' if option.high_open else ']'}"
    elif option.low is not None:
        text = f"{'>' if option.low_open else '≥'} {option.low:g}"
    else:
        text = "number"
    return text + (" or null" if option.nullable else "")


def default_text(option):
    """The default of `option`, as the table says it."""
    if option.name in DEFAULT_TEXT:
        return DEFAULT_TEXT[option.name]
    value = option.default
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{_number(value)}`"


def flag_text(option):
    if option.kind == "bool":
        return f"`{option.flag}` / `--no-{option.flag[2:]}`"
    return f"`{option.flag}`"


def train_options_table(options=TRAIN_OPTIONS):
    """The Markdown table of every configuration key (a str, no final
    newline)."""
    lines = ["| key | flag | default | values | meaning |", "|---|---|---|---|---|"]
    for option in options:
        meaning = MEANINGS.get(option.name, option.help)
        lines.append(
            f"| `{option.name}` | {flag_text(option)} | "
            f"{default_text(option)} | {values_text(option)} | {meaning} |"
        )
    return "\n".join(lines)


def page_table(text):
    """The table between the markers of a page's text (`None`: no
    markers)."""
    if TABLE_START not in text or TABLE_END not in text:
        return None
    inner = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    return inner.strip("\n")


def update_page(path):
    """Rewrites the table between the markers of the page at `path`.
    Returns whether it changed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if page_table(text) is None:
        raise ValueError(f"{path} has no {TABLE_START} ... {TABLE_END}")
    head, rest = text.split(TABLE_START, 1)
    tail = rest.split(TABLE_END, 1)[1]
    new = f"{head}{TABLE_START}\n{train_options_table()}\n{TABLE_END}{tail}"
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != text


if __name__ == "__main__":
    for page in sys.argv[1:] or ["docs/cli.md"]:
        print(f"{page}: {'updated' if update_page(page) else 'up to date'}")
