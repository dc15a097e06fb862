from pix2pix_keras.models.blocks import ResidualBlock
from pix2pix_keras.models.blocks import apply_downsample
from pix2pix_keras.models.blocks import apply_upsample
from pix2pix_keras.models.discriminator import PatchDiscriminator
from pix2pix_keras.models.discriminator import receptive_field
from pix2pix_keras.models.generator import UNetGenerator
from pix2pix_keras.models.pix2pix import Pix2Pix
from pix2pix_keras.models.pix2pix import export_generator
