"""Run folders of `pix2pix train` and the models they hold.

Shared by the command line and `pix2pix serve`: the file names of a run
folder, its checkpoint state, and how a model argument (a `.keras` file, a
run folder or a pretrained name) becomes a loaded `Pix2Pix`.

```text
runs/facades/
  config.json          the effective configuration (defaults < file < flags)
  metrics.csv          one row per epoch (keras.callbacks.CSVLogger)
  training_curves.png  one panel per logged value, train and validation
  samples/             source | generated | target grids (SampleGrid)
  checkpoints/         epoch_NNNN.keras + state.json (for --resume)
  tensorboard/         train/ and validation/ event files
  model.keras          the final model (both networks and optimizers)
```

TensorFlow and Keras are imported only by `load_model`.
"""

import json
import os

from pix2pix_keras.utils import atomic_path

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "CURVES_FILE",
    "Failure",
    "METRICS_FILE",
    "MODEL_FILE",
    "SAMPLES_DIR",
    "STATE_FILE",
    "TENSORBOARD_DIR",
    "UsageError",
    "is_pretrained_name",
    "load_model",
    "model_path",
    "model_size",
    "pretrained_file",
    "read_state",
    "write_json",
]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
CURVES_FILE = "training_curves.png"
MODEL_FILE = "model.keras"
SAMPLES_DIR = "samples"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"
TENSORBOARD_DIR = "tensorboard"


class UsageError(Exception):
    """A usage or configuration error (a bad flag, key, file or folder):
    exit code 2 of the command line. The message names what is wrong."""


class Failure(Exception):
    """A runtime failure with a complete message: exit code 1 of the
    command line."""


def write_json(path, data):
    """Writes `data` as indented JSON, atomically."""
    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")


def read_state(run_dir):
    """The last checkpoint of a run: `{"epoch", "checkpoint"}` or `None`.

    Raises:
        UsageError: an unreadable `state.json`, or one naming a missing
            checkpoint.
    """
    path = os.path.join(run_dir, CHECKPOINT_DIR, STATE_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        epoch = int(state["epoch"])
        checkpoint = os.path.join(run_dir, CHECKPOINT_DIR, state["checkpoint"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: unreadable checkpoint state ({e})") from None
    if not os.path.isfile(checkpoint):
        raise UsageError(f"{path} points to {checkpoint}, which is missing")
    return {"epoch": epoch, "checkpoint": checkpoint}


def pretrained_file(name):
    """The converted .keras file of a pretrained name (downloaded once)."""
    from pix2pix_keras import pretrained

    try:
        return pretrained.pretrained_path(name)
    except (ValueError, OSError) as e:
        raise Failure(str(e)) from None


def is_pretrained_name(path):
    """Whether `path` names a pretrained model (and no file or folder)."""
    from pix2pix_keras.pretrained import PRETRAINED

    return path in PRETRAINED and not os.path.exists(path)


def model_path(path):
    """The .keras file of a model argument and its run folder.

    Args:
        path: a `.keras` file, a run folder (its `model.keras`, else its
            last checkpoint) or a pretrained name.

    Returns:
        `(file, run_dir)`; `run_dir` is `None` unless `path` is a run
        folder.
    """
    if is_pretrained_name(path):
        return pretrained_file(path), None
    path = os.path.abspath(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise UsageError(
                f"{path} is a SavedModel export (for serving), not a .keras "
                "model or a run folder"
            )
        final = os.path.join(path, MODEL_FILE)
        if os.path.isfile(final):
            return final, path
        state = read_state(path)
        if state is not None:
            return state["checkpoint"], path
        raise UsageError(f"{path}: no {MODEL_FILE} and no checkpoint in this folder")
    if not os.path.isfile(path):
        raise UsageError(f"no such model file: {path}")
    return path, None


def load_model(path):
    """`(Pix2Pix, run_dir)` of a model argument (see `model_path`)."""
    import pix2pix_keras as pk  # pk.Pix2Pix: registers every serializable

    file, run_dir = model_path(path)
    return pk.Pix2Pix.load(file), run_dir


def model_size(model):
    """`(height, width, in_channels, out_channels)` of a Pix2Pix."""
    shape = model.generator.inputs[0].shape
    return shape[1], shape[2], shape[3], model.generator.outputs[0].shape[3]
