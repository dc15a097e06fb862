"""pix2pix-keras: paired image-to-image translation (Pix2Pix) for Keras 3.

`import pix2pix_keras as pk` is quick: it does not import TensorFlow or
Keras. The public names (`pk.Pix2Pix`, `pk.load_paired_dataset`, ...) and
the modules `pk.datasets`, `pk.losses` and `pk.metrics` are imported on
first use. Once Keras is imported (by the first such use, or by the
program itself), all the package's layers, models, losses and metrics are
imported too, so they are registered for `keras.saving.load_model` as
before.
"""

__version__ = "0.1.0"

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING

#: Public name -> the module that defines it.
_NAMES = {
    "Augment": "augment",
    "color_jitter": "augment",
    "elastic_deform": "augment",
    "evaluate": "evaluation",
    "L1": "metrics",
    "PSNR": "metrics",
    "SSIM": "metrics",
    "FrechetInceptionDistance": "metrics",
    "KernelInceptionDistance": "metrics",
    "SegmentationScore": "metrics",
    "fcn_score": "metrics",
    "BackupAndRestore": "callbacks",
    "Diagnostics": "callbacks",
    "LambdaSchedule": "callbacks",
    "LearningRateHalving": "callbacks",
    "LinearDecay": "callbacks",
    "SampleGrid": "callbacks",
    "FIDMonitor": "callbacks",
    "make_grid": "callbacks",
    "LabelMaps": "data",
    "default_load_size": "data",
    "facades_labels": "data",
    "find_pairs": "data",
    "load_paired_dataset": "data",
    "random_jitter": "data",
    "sample_data_dir": "data",
    "VGGPerceptualLoss": "losses",
    "ConcatLatent": "models",
    "LatentNoise": "models",
    "MultiScaleDiscriminator": "models",
    "NonFiniteError": "models.training",
    "BatchNormalization": "models",
    "NoiseDropout": "models",
    "PatchDiscriminator": "models",
    "Pix2Pix": "models",
    "PixelDiscriminator": "models",
    "ResidualBlock": "models",
    "ResnetGenerator": "models",
    "UNetGenerator": "models",
    "export_generator": "models",
    "receptive_field": "models",
    "list_pretrained": "pretrained",
    "load_pretrained": "pretrained",
    "convert_pytorch": "pytorch",
    "load_pytorch_checkpoint": "pytorch",
    "show_augmentations": "plotting",
    "show_pairs": "plotting",
    "TensorBoard": "tensorboard_logging",
    "tile_layout": "extensions.tiling",
    "translate_tiled": "extensions.tiling",
    "FadeIn": "models",
    "ProgressivePatchDiscriminator": "models",
    "ProgressiveUNetGenerator": "models",
    "get_alpha": "models",
    "grow": "models",
    "set_alpha": "models",
    "stabilize": "models",
    "train_progressive": "models",
    "BicycleGAN": "models",
    "LatentEncoder": "models",
}

if TYPE_CHECKING:  # the same names, for type checkers and the API docs
    from pix2pix_keras import datasets
    from pix2pix_keras import losses
    from pix2pix_keras import metrics
    from pix2pix_keras.augment import Augment
    from pix2pix_keras.augment import color_jitter
    from pix2pix_keras.augment import elastic_deform
    from pix2pix_keras.callbacks import BackupAndRestore
    from pix2pix_keras.callbacks import Diagnostics
    from pix2pix_keras.callbacks import FIDMonitor
    from pix2pix_keras.callbacks import LambdaSchedule
    from pix2pix_keras.callbacks import LearningRateHalving
    from pix2pix_keras.callbacks import LinearDecay
    from pix2pix_keras.callbacks import SampleGrid
    from pix2pix_keras.callbacks import make_grid
    from pix2pix_keras.data import LabelMaps
    from pix2pix_keras.data import default_load_size
    from pix2pix_keras.data import facades_labels
    from pix2pix_keras.data import find_pairs
    from pix2pix_keras.data import load_paired_dataset
    from pix2pix_keras.data import random_jitter
    from pix2pix_keras.data import sample_data_dir
    from pix2pix_keras.evaluation import evaluate
    from pix2pix_keras.extensions.tiling import tile_layout
    from pix2pix_keras.extensions.tiling import translate_tiled
    from pix2pix_keras.losses import VGGPerceptualLoss
    from pix2pix_keras.metrics import L1
    from pix2pix_keras.metrics import PSNR
    from pix2pix_keras.metrics import SSIM
    from pix2pix_keras.metrics import FrechetInceptionDistance
    from pix2pix_keras.metrics import KernelInceptionDistance
    from pix2pix_keras.metrics import SegmentationScore
    from pix2pix_keras.metrics import fcn_score
    from pix2pix_keras.models import BatchNormalization
    from pix2pix_keras.models import BicycleGAN
    from pix2pix_keras.models import ConcatLatent
    from pix2pix_keras.models import FadeIn
    from pix2pix_keras.models import LatentEncoder
    from pix2pix_keras.models import LatentNoise
    from pix2pix_keras.models import MultiScaleDiscriminator
    from pix2pix_keras.models import NoiseDropout
    from pix2pix_keras.models import PatchDiscriminator
    from pix2pix_keras.models import Pix2Pix
    from pix2pix_keras.models import PixelDiscriminator
    from pix2pix_keras.models import ProgressivePatchDiscriminator
    from pix2pix_keras.models import ProgressiveUNetGenerator
    from pix2pix_keras.models import ResidualBlock
    from pix2pix_keras.models import ResnetGenerator
    from pix2pix_keras.models import UNetGenerator
    from pix2pix_keras.models import export_generator
    from pix2pix_keras.models import get_alpha
    from pix2pix_keras.models import grow
    from pix2pix_keras.models import receptive_field
    from pix2pix_keras.models import set_alpha
    from pix2pix_keras.models import stabilize
    from pix2pix_keras.models import train_progressive
    from pix2pix_keras.models.training import NonFiniteError
    from pix2pix_keras.plotting import show_augmentations
    from pix2pix_keras.plotting import show_pairs
    from pix2pix_keras.pretrained import list_pretrained
    from pix2pix_keras.pretrained import load_pretrained
    from pix2pix_keras.pytorch import convert_pytorch
    from pix2pix_keras.pytorch import load_pytorch_checkpoint
    from pix2pix_keras.tensorboard_logging import TensorBoard

#: Submodules that are public attributes (`pk.metrics.PSNR`).
_MODULES = ("datasets", "losses", "metrics")
#: The other modules, imported on first use as `pk.<name>` too (they were
#: attributes when the package imported them all).
_SUBMODULES = (
    "augment",
    "callbacks",
    "data",
    "evaluation",
    "extensions",
    "models",
    "plotting",
    "pretrained",
    "pytorch",
    "tensorboard_logging",
    "tiling",
    "utils",
)

__all__ = [*_MODULES, *_NAMES]

#: The modules that register Keras serializables (every public one).
_REGISTERING = sorted({*_NAMES.values(), *_MODULES})
_registered = False


def _import(module):
    return importlib.import_module(f"{__name__}.{module}")


def _register():
    """Imports every public module once Keras is loaded: their layers,
    models, losses and metrics register themselves for deserialisation."""
    global _registered
    if _registered or "keras" not in sys.modules or _initialising():
        return
    _registered = True
    for module in _REGISTERING:
        _import(module)


def _initialising():
    """Whether a module of this package is being imported right now (then
    importing the others could meet it half-initialised)."""
    prefix = __name__ + "."
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name.startswith(prefix)
    )


def __getattr__(name):
    if name in _MODULES or name in _SUBMODULES:
        value = _import(name)
    elif name in _NAMES:
        value = getattr(_import(_NAMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    _register()
    return value


def __dir__():
    return sorted({*globals(), *__all__})


class _KerasLoader(importlib.abc.Loader):
    """Keras's own loader, then `_register()`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        _register()

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _KerasFinder(importlib.abc.MetaPathFinder):
    """Registers the package's serializables when Keras is first imported,
    so that `keras.saving.load_model` finds them after `import
    pix2pix_keras` as it did when the package imported Keras itself."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _KerasLoader(spec.loader)
        return spec


if "keras" in sys.modules:
    _register()
else:
    sys.meta_path.insert(0, _KerasFinder())
