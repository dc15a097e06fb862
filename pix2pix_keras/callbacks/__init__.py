"""Training callbacks: LR halving and linear decay, sample grids, diagnostics, backups.

Modules: `callbacks.schedules` (`LearningRateHalving`, `LinearDecay`,
`LambdaSchedule`), `callbacks.samples` (`SampleGrid`, `make_grid`,
`FIDMonitor`), `callbacks.diagnostics` (`Diagnostics` and its
troubleshooting table), `callbacks.backup` (`BackupAndRestore`) and
`callbacks.run` (the callbacks of `pix2pix train` that write its run
folder); every public name of the first four is importable from
`pix2pix_keras.callbacks` itself.
"""

from pix2pix_keras.callbacks.backup import BackupAndRestore
from pix2pix_keras.callbacks.diagnostics import TROUBLESHOOTING
from pix2pix_keras.callbacks.diagnostics import Diagnostics
from pix2pix_keras.callbacks.diagnostics import troubleshooting_table
from pix2pix_keras.callbacks.samples import FIDMonitor
from pix2pix_keras.callbacks.samples import SampleGrid
from pix2pix_keras.callbacks.samples import make_grid
from pix2pix_keras.callbacks.samples import save_grid
from pix2pix_keras.callbacks.samples import to_display
from pix2pix_keras.callbacks.schedules import LambdaSchedule
from pix2pix_keras.callbacks.schedules import LearningRateHalving
from pix2pix_keras.callbacks.schedules import LinearDecay

__all__ = [
    "TROUBLESHOOTING",
    "BackupAndRestore",
    "Diagnostics",
    "FIDMonitor",
    "LambdaSchedule",
    "LearningRateHalving",
    "LinearDecay",
    "SampleGrid",
    "make_grid",
    "save_grid",
    "to_display",
    "troubleshooting_table",
]
