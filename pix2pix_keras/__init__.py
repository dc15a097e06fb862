"""pix2pix-keras: paired image-to-image translation (Pix2Pix) for Keras 3."""

__version__ = "0.1.0"

from pix2pix_keras import datasets
from pix2pix_keras.augment import Augment
from pix2pix_keras.augment import color_jitter
from pix2pix_keras.augment import elastic_deform
from pix2pix_keras import losses
from pix2pix_keras import metrics
from pix2pix_keras.evaluation import evaluate
from pix2pix_keras.metrics import L1
from pix2pix_keras.metrics import PSNR
from pix2pix_keras.metrics import SSIM
from pix2pix_keras.metrics import FrechetInceptionDistance
from pix2pix_keras.metrics import KernelInceptionDistance
from pix2pix_keras.metrics import SegmentationScore
from pix2pix_keras.metrics import fcn_score
from pix2pix_keras.callbacks import BackupAndRestore
from pix2pix_keras.callbacks import Diagnostics
from pix2pix_keras.callbacks import LambdaSchedule
from pix2pix_keras.callbacks import LearningRateHalving
from pix2pix_keras.callbacks import SampleGrid
from pix2pix_keras.callbacks import make_grid
from pix2pix_keras.data import LabelMaps
from pix2pix_keras.data import facades_labels
from pix2pix_keras.data import find_pairs
from pix2pix_keras.data import load_paired_dataset
from pix2pix_keras.data import random_jitter
from pix2pix_keras.data import sample_data_dir
from pix2pix_keras.losses import VGGPerceptualLoss
from pix2pix_keras.models import MultiScaleDiscriminator
from pix2pix_keras.models.pix2pix import NonFiniteError
from pix2pix_keras.models import NoiseDropout
from pix2pix_keras.models import PatchDiscriminator
from pix2pix_keras.models import Pix2Pix
from pix2pix_keras.models import PixelDiscriminator
from pix2pix_keras.models import ResidualBlock
from pix2pix_keras.models import ResnetGenerator
from pix2pix_keras.models import UNetGenerator
from pix2pix_keras.models import export_generator
from pix2pix_keras.models import receptive_field
from pix2pix_keras.plotting import show_augmentations
from pix2pix_keras.plotting import show_pairs
from pix2pix_keras.tensorboard_logging import TensorBoard
