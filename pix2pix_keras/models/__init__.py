import importlib
from typing import TYPE_CHECKING

from pix2pix_keras.losses import feature_matching_loss
from pix2pix_keras.losses import kl_divergence
from pix2pix_keras.models.blocks import BatchNormalization
from pix2pix_keras.models.blocks import ConcatLatent
from pix2pix_keras.models.blocks import LatentNoise
from pix2pix_keras.models.blocks import NoiseDropout
from pix2pix_keras.models.blocks import ReflectionPadding2D
from pix2pix_keras.models.blocks import ResidualBlock
from pix2pix_keras.models.blocks import apply_attention_gate
from pix2pix_keras.models.blocks import apply_downsample
from pix2pix_keras.models.blocks import apply_upsample
from pix2pix_keras.models.discriminator import MultiScaleDiscriminator
from pix2pix_keras.models.discriminator import PatchDiscriminator
from pix2pix_keras.models.discriminator import PixelDiscriminator
from pix2pix_keras.models.discriminator import receptive_field
from pix2pix_keras.models.generator import UNetGenerator
from pix2pix_keras.models.pix2pix import Pix2Pix
from pix2pix_keras.models.pix2pix import export_generator
from pix2pix_keras.models.resnet import ResnetGenerator

#: The extensions' names: name -> module of `pix2pix_keras.extensions`.
_EXTENSIONS = {
    "Fade": "progressive",
    "FadeIn": "growing",
    "ProgressivePatchDiscriminator": "progressive",
    "ProgressiveUNetGenerator": "progressive",
    "get_alpha": "growing",
    "grow": "growing",
    "set_alpha": "growing",
    "stabilize": "growing",
    "train_progressive": "growing",
    "BicycleGAN": "bicycle",
    "LatentEncoder": "encoder",
}

if TYPE_CHECKING:
    from pix2pix_keras.extensions.bicycle import BicycleGAN
    from pix2pix_keras.extensions.encoder import LatentEncoder
    from pix2pix_keras.extensions.growing import FadeIn
    from pix2pix_keras.extensions.growing import get_alpha
    from pix2pix_keras.extensions.growing import grow
    from pix2pix_keras.extensions.growing import set_alpha
    from pix2pix_keras.extensions.growing import stabilize
    from pix2pix_keras.extensions.growing import train_progressive
    from pix2pix_keras.extensions.progressive import Fade
    from pix2pix_keras.extensions.progressive import ProgressivePatchDiscriminator
    from pix2pix_keras.extensions.progressive import ProgressiveUNetGenerator

__all__ = [
    "BatchNormalization",
    "BicycleGAN",
    "ConcatLatent",
    "Fade",
    "FadeIn",
    "LatentEncoder",
    "LatentNoise",
    "MultiScaleDiscriminator",
    "NoiseDropout",
    "PatchDiscriminator",
    "Pix2Pix",
    "PixelDiscriminator",
    "ProgressivePatchDiscriminator",
    "ProgressiveUNetGenerator",
    "ReflectionPadding2D",
    "ResidualBlock",
    "ResnetGenerator",
    "UNetGenerator",
    "apply_attention_gate",
    "apply_downsample",
    "apply_upsample",
    "export_generator",
    "feature_matching_loss",
    "get_alpha",
    "grow",
    "kl_divergence",
    "receptive_field",
    "set_alpha",
    "stabilize",
    "train_progressive",
]


def __getattr__(name):
    if name in _EXTENSIONS:
        module = importlib.import_module(
            f"pix2pix_keras.extensions.{_EXTENSIONS[name]}"
        )
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Importing the core imports the extension models too, so that their
# classes are registered for `keras.saving.load_model`.
for _module in ("progressive", "growing", "encoder", "bicycle"):
    importlib.import_module(f"pix2pix_keras.extensions.{_module}")
del _module
