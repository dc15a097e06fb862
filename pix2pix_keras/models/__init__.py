from pix2pix_keras.losses import feature_matching_loss
from pix2pix_keras.losses import kl_divergence
from pix2pix_keras.models.blocks import ConcatLatent
from pix2pix_keras.models.blocks import LatentNoise
from pix2pix_keras.models.blocks import BatchNormalization
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
from pix2pix_keras.models.progressive import Fade
from pix2pix_keras.models.progressive import FadeIn
from pix2pix_keras.models.progressive import ProgressivePatchDiscriminator
from pix2pix_keras.models.progressive import ProgressiveUNetGenerator
from pix2pix_keras.models.progressive import get_alpha
from pix2pix_keras.models.progressive import grow
from pix2pix_keras.models.progressive import set_alpha
from pix2pix_keras.models.progressive import stabilize
from pix2pix_keras.models.progressive import train_progressive
from pix2pix_keras.models.bicycle import BicycleGAN
from pix2pix_keras.models.bicycle import LatentEncoder

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
