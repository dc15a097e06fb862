"""Shared helpers of the benchmark scripts: environment facts for the JSON."""

import os
import platform


def versions(**extra):
    """Versions of Python, TensorFlow, Keras, NumPy and the package."""
    import keras
    import numpy as np
    import tensorflow as tf

    import pix2pix_keras as pk

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        **extra,
        "pix2pix_keras": pk.__version__,
    }


def machine(load_start):
    """CPU, platform, TF thread settings and the load average before/after."""
    from tensorflow.config import threading

    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None
        ),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "tf_intra_op_threads": threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": threading.get_inter_op_parallelism_threads(),
        "loadavg_start": list(load_start),
        "loadavg_end": list(os.getloadavg()),
    }


def resolve_args(parser, args, full, quick, name, results_dir, extra=(),
                 minimums=None):
    """Fills unset flags from `full` / `quick`, checks minimums, sets output.

    Every key of the chosen preset, plus the `extra` keys, must be at least
    `minimums.get(key, 1)`; `args.output` defaults to
    `results_dir/<name>.json` (`<name>_quick.json` with `--quick`).
    """
    base = quick if args.quick else full
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    minimums = minimums or {}
    for key in list(base) + [k for k in extra if k not in base]:
        minimum = minimums.get(key, 1)
        if getattr(args, key) < minimum:
            parser.error(f"--{key.replace('_', '-')} must be >= {minimum}")
    if args.output is None:
        suffix = "_quick" if args.quick else ""
        args.output = os.path.join(results_dir, f"{name}{suffix}.json")
    return args
