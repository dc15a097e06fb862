"""Config round trips and argument checks shared by every network class.

The networks share their config plumbing (`_config_keys`, `get_config`,
`from_config`) and their argument checks; these tests pin, per class, the
config keys in order, that `from_config(get_config())` rebuilds the same
network, that unknown config keys are refused and that a bad argument is
named in the error.
"""

import json

import pytest

import pix2pix_keras as pk
from pix2pix_keras.models.bicycle import LatentEncoder
from pix2pix_keras.models.progressive import ProgressivePatchDiscriminator
from pix2pix_keras.models.progressive import ProgressiveUNetGenerator

BASE = ["name", "trainable", "image_size"]
# The U-Net arguments the progressive U-Net keeps, in the same order.
UNET_DECODER = [
    "norm",
    "dropout",
    "num_dropout",
    "inference_dropout",
    "inference_statistics",
    "bn_momentum",
]

NETWORKS = {
    "unet": (
        pk.UNetGenerator,
        dict(
            image_size=32,
            depth=4,
            filters=8,
            max_filters=16,
            norm="instance",
            dropout=0.25,
            attention=True,
            latent_dim=2,
        ),
        BASE
        + [
            "in_channels",
            "out_channels",
            "depth",
            "filters",
            "max_filters",
            "decoder_filters",
            *UNET_DECODER,
            "normalize_innermost",
            "attention",
            "residual_blocks",
            "latent_dim",
            "latent_injection",
            "pytorch_layout",
        ],
    ),
    "resnet": (
        pk.ResnetGenerator,
        dict(
            image_size=16,
            filters=4,
            n_blocks=1,
            n_downsampling=1,
            dropout=0.5,
            inference_dropout=True,
        ),
        BASE
        + [
            "in_channels",
            "out_channels",
            "filters",
            "n_blocks",
            "n_downsampling",
            "norm",
            "dropout",
            "inference_dropout",
            "inference_statistics",
            "latent_dim",
            "latent_injection",
            "pytorch_layout",
        ],
    ),
    "patch": (
        pk.PatchDiscriminator,
        dict(
            image_size=(32, 48),
            in_channels=1,
            n_layers=2,
            filters=4,
            spectral_norm=True,
        ),
        BASE
        + [
            "in_channels",
            "out_channels",
            "n_layers",
            "filters",
            "max_filters",
            "norm",
            "spectral_norm",
        ],
    ),
    "pixel": (
        pk.PixelDiscriminator,
        dict(image_size=16, filters=4, norm="none"),
        BASE + ["in_channels", "out_channels", "filters", "norm", "spectral_norm"],
    ),
    "multiscale": (
        pk.MultiScaleDiscriminator,
        dict(image_size=32, num_scales=2, n_layers=1, filters=4, norm="instance"),
        BASE
        + [
            "in_channels",
            "out_channels",
            "num_scales",
            "n_layers",
            "filters",
            "max_filters",
            "norm",
            "spectral_norm",
        ],
    ),
    "progressive_generator": (
        ProgressiveUNetGenerator,
        dict(
            image_size=32,
            stage=1,
            alpha=0.25,
            depth=3,
            filters=8,
            min_filters=4,
            bn_momentum=0.95,
        ),
        BASE
        + [
            "stage",
            "alpha",
            "in_channels",
            "out_channels",
            "depth",
            "filters",
            "max_filters",
            "min_filters",
            *UNET_DECODER,
        ],
    ),
    "progressive_discriminator": (
        ProgressivePatchDiscriminator,
        dict(
            image_size=32,
            stage=1,
            alpha=0.5,
            n_layers=1,
            filters=4,
            min_filters=4,
            norm="none",
        ),
        BASE
        + [
            "stage",
            "in_channels",
            "out_channels",
            "n_layers",
            "filters",
            "max_filters",
            "min_filters",
            "norm",
            "alpha",
        ],
    ),
    "latent_encoder": (
        LatentEncoder,
        dict(
            image_size=16,
            filters=4,
            latent_dim=3,
            n_blocks=2,
            max_multiplier=2,
            norm="batch",
        ),
        BASE
        + [
            "in_channels",
            "latent_dim",
            "filters",
            "n_blocks",
            "max_multiplier",
            "norm",
        ],
    ),
}


@pytest.mark.parametrize("key", sorted(NETWORKS))
def test_config_keys_and_round_trip(key):
    cls, kwargs, keys = NETWORKS[key]
    net = cls(**kwargs)
    config = net.get_config()
    assert list(config) == keys
    for arg, value in kwargs.items():
        if arg != "image_size":
            assert config[arg] == value, arg
    # Through JSON, as a .keras file stores it.
    rebuilt = cls.from_config(json.loads(json.dumps(config)))
    assert type(rebuilt) is cls
    assert json.dumps(rebuilt.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    assert rebuilt.count_params() == net.count_params()
    assert [w.path for w in rebuilt.weights] == [w.path for w in net.weights]


@pytest.mark.parametrize("key", sorted(NETWORKS))
def test_from_config_refuses_unknown_keys(key):
    cls, kwargs, _ = NETWORKS[key]
    with pytest.raises(ValueError, match=r"Unknown key\(s\).*'filtres'"):
        cls.from_config({**kwargs, "filtres": 8})


def test_progressive_discriminator_config_follows_alpha():
    cls, kwargs, _ = NETWORKS["progressive_discriminator"]
    d = cls(**kwargs)
    d.alpha = 0.75
    assert d.get_config()["alpha"] == 0.75


@pytest.mark.parametrize(
    "cls, kwargs, arg",
    [
        (pk.UNetGenerator, dict(image_size=32, depth=1), "depth"),
        (pk.UNetGenerator, dict(image_size=32, depth=True), "depth"),
        (pk.UNetGenerator, dict(image_size=32, max_filters=0), "max_filters"),
        (pk.UNetGenerator, dict(image_size=32, norm="layer"), "norm"),
        (pk.UNetGenerator, dict(image_size=32, bn_momentum=1.0), "bn_momentum"),
        (pk.ResnetGenerator, dict(image_size=32, out_channels=0), "out_channels"),
        (pk.ResnetGenerator, dict(image_size=32, n_downsampling=-1), "n_downsampling"),
        (pk.ResnetGenerator, dict(image_size=32, norm="layer"), "norm"),
        (pk.PatchDiscriminator, dict(image_size=64, n_layers=0), "n_layers"),
        (pk.PatchDiscriminator, dict(image_size=64, spectral_norm=1), "spectral_norm"),
        (pk.PatchDiscriminator, dict(image_size=64, max_filters=0), "max_filters"),
        (pk.PixelDiscriminator, dict(image_size=32, in_channels=0), "in_channels"),
        (pk.PixelDiscriminator, dict(image_size=32, norm="layer"), "norm"),
        (
            pk.PixelDiscriminator,
            dict(image_size=32, spectral_norm="no"),
            "spectral_norm",
        ),
        (pk.MultiScaleDiscriminator, dict(image_size=64, num_scales=0), "num_scales"),
        (
            pk.MultiScaleDiscriminator,
            dict(image_size=64, spectral_norm=None),
            "spectral_norm",
        ),
        (pk.MultiScaleDiscriminator, dict(image_size=64, filters=0), "filters"),
        (ProgressiveUNetGenerator, dict(image_size=32, stage=-1), "stage"),
        (ProgressiveUNetGenerator, dict(image_size=32, depth=1), "depth"),
        (ProgressiveUNetGenerator, dict(image_size=32, min_filters=0), "min_filters"),
        (ProgressiveUNetGenerator, dict(image_size=32, stage=1, alpha=2), "alpha"),
        (ProgressiveUNetGenerator, dict(image_size=32, dropout=1.0), "dropout"),
        (ProgressivePatchDiscriminator, dict(image_size=32, n_layers=0), "n_layers"),
        (ProgressivePatchDiscriminator, dict(image_size=32, norm="layer"), "norm"),
        (
            ProgressivePatchDiscriminator,
            dict(image_size=32, min_filters=0),
            "min_filters",
        ),
        (
            ProgressivePatchDiscriminator,
            dict(image_size=32, stage=1, n_layers=3),
            "image_size",
        ),
        (LatentEncoder, dict(image_size=32, latent_dim=0), "latent_dim"),
        (LatentEncoder, dict(image_size=32, max_multiplier=0), "max_multiplier"),
        (LatentEncoder, dict(image_size=32, norm="layer"), "norm"),
        (LatentEncoder, dict(image_size=16, n_blocks=5), "n_blocks"),
    ],
)
def test_bad_argument_is_named(cls, kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        cls(**kwargs)


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        # Checks run in argument order: the first bad argument is named.
        (
            pk.UNetGenerator,
            dict(image_size=32, filters=0, norm="layer"),
            "`filters` must be an int >= 1. Received: filters=0",
        ),
        (
            pk.PatchDiscriminator,
            dict(image_size=64, norm="layer", filters=0),
            "`norm` must be one of ('batch', 'instance', 'none'). Received: "
            "norm='layer'",
        ),
        (
            pk.PixelDiscriminator,
            dict(image_size=32, spectral_norm=0, filters=0),
            "`spectral_norm` must be a bool. Received: spectral_norm=0",
        ),
        (
            ProgressiveUNetGenerator,
            dict(image_size=32, norm="layer", filters=0),
            "`filters` must be an int >= 1. Received: filters=0",
        ),
        (
            ProgressivePatchDiscriminator,
            dict(image_size=32, norm="layer", min_filters=0),
            "`norm` must be one of ('batch', 'instance', 'none'). Received: "
            "norm='layer'",
        ),
        (
            ProgressiveUNetGenerator,
            dict(image_size=32, stage=2, depth=4),
            "The base size (8, 8) (image_size (32, 32) / 2**stage) must be "
            "divisible by 2**depth = 16 (depth=4).",
        ),
    ],
)
def test_error_message_and_check_order(cls, kwargs, message):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    assert str(info.value) == message
