"""Parameter counts and inputs shared by the network tests."""

import numpy as np

NORM_PARAMS = {"batch": 4, "instance": 0, "none": 0}  # per channel

# A non-square network from 1 to 2 channels: swapped height and width, or
# swapped channel counts, show in its shapes and parameter counts.
ODD_SHAPE = dict(image_size=(32, 64), in_channels=1, out_channels=2)


def patch_widths(n_layers, filters, max_filters):
    """Filters of the PatchGAN's `n_layers + 1` LeakyReLU convolutions."""
    return [min(filters * 2**i, max_filters) for i in range(n_layers + 1)]


def patchgan_param_count(
    in_channels=3,
    out_channels=3,
    n_layers=3,
    filters=64,
    max_filters=512,
    norm="batch",
    spectral_norm=False,
):
    """Parameters of the PatchGAN, counted layer by layer.

    All convs are 4×4. The first conv sees source and image concatenated,
    has a bias and no norm; the next `n_layers - 1` stride-2 convs and the
    stride-1 conv are normalized (no bias under batch norm); the last conv
    maps to one logit with a bias. Spectral normalization adds a
    non-trainable `vector_u` with one value per output channel of each of
    the `n_layers + 2` convolutions.
    """
    widths = patch_widths(n_layers, filters, max_filters)
    bias = norm != "batch"
    total = 16 * (in_channels + out_channels) * widths[0] + widths[0]
    for cin, f in zip(widths, widths[1:]):
        total += 16 * cin * f + (f if bias else 0) + NORM_PARAMS[norm] * f
    total += 16 * widths[-1] + 1
    if spectral_norm:
        total += sum(widths) + 1
    return total


def random_pair(size, batch=1, seed=0, channels=(3, 3)):
    """`[source, image]` float32 arrays, uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    h, w = (size, size) if isinstance(size, int) else size
    src = rng.uniform(-1, 1, (batch, h, w, channels[0])).astype("float32")
    img = rng.uniform(-1, 1, (batch, h, w, channels[1])).astype("float32")
    return [src, img]
