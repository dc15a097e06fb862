"""`pix2pix train --strategy multiworker` with two real worker processes.

Two `python -m pix2pix_keras train --strategy multiworker` processes form a
2-worker cluster on free local ports (TF_CONFIG), next to a third process
that trains the same configuration without a strategy. Each worker holds one
replica, so every global batch of 2 is split into one image per worker; with
instance normalization and no dropout that is the computation of the single
process on the whole batch, up to the order of float32 sums (the gradient
all-reduce adds two per-replica means of one image each, halved, where the
single run takes one mean of two). The chief (worker 0) writes the run
folder; worker 1 trains in a scratch folder and writes nothing.

Tolerances: the runs take 4 Adam steps (lr 2e-4, then 1e-4). Adam divides
each update by the root of its second moment, so a gradient component that
is rounding noise gets full steps of ±lr in a direction set by that noise.
That is the case of the biases of the convolutions whose outputs are
instance-normalized (the normalization removes them, so their gradients are
zero up to rounding): they differ between any two runs that add float32
numbers in another order (measured: up to 1.7e-4, about one step), and the
outputs do not depend on them. So the test compares the kernels, the
generator's outputs on the held-out images and the logged losses. Measured
here: kernels within 5.9e-7, outputs within 5.4e-7 (images in [-1, 1]),
losses within 2e-7 relative, while the last epoch's 2 steps moved the
kernels by 2.4e-4. The asserts allow 1e-5 on kernels and outputs (over ten
times the measured differences, and 1/20 of that movement) and 1e-5
relative on the losses. Workers that each trained on the same half of every
batch, or on other batches, would log other losses and move the kernels by
whole steps.
"""

import csv
import json
import os
import sys

import numpy as np

import pix2pix_keras as pk
from tests._helpers import free_ports
from tests._helpers import start_logged
from tests._helpers import wait_all
from tests.conftest import facades_val

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TIMEOUT = 900  # seconds for the three processes together (a busy machine)
WEIGHT_ATOL = 1e-5
OUTPUT_ATOL = 1e-5
LOSS_RTOL = 1e-5
EPOCHS, STEPS = 2, 2
ARGS = [
    "train",
    "--data",
    pk.sample_data_dir("train"),
    "--direction",
    "BtoA",
    "--image-size",
    "32",
    "--filters",
    "8",
    "--d-layers",
    "2",
    "--norm",
    "instance",
    "--dropout",
    "0",
    "--batch-size",
    "2",
    "--epochs",
    str(EPOCHS),
    "--steps-per-epoch",
    str(STEPS),
    "--seed",
    "7",
    "--sample-every",
    "0",
    "--no-tensorboard",
    "--checkpoint-every",
    "1",
    "--keep-checkpoints",
    "2",
    "--verbose",
    "0",
]


def _start(output, log_path, tf_config=None, strategy="none"):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p
    )
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    argv = [sys.executable, "-m", "pix2pix_keras", *ARGS]
    argv += ["--output", str(output), "--strategy", strategy]
    return start_logged(argv, log_path, env=env, cwd=ROOT)


def _rows(run):
    with open(os.path.join(run, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def test_two_workers_train_as_one_process_with_the_same_global_batch(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    chief, other, single = tmp_path / "chief", tmp_path / "worker1", tmp_path / "single"
    procs = [
        _start(single, tmp_path / "single.log"),
        *(
            _start(
                out,
                tmp_path / f"worker{i}.log",
                tf_config={"cluster": cluster, "task": {"type": "worker", "index": i}},
                strategy="multiworker",
            )
            for i, out in enumerate((chief, other))
        ),
    ]
    errors = wait_all(procs, TIMEOUT)
    assert errors == {}

    # The chief wrote the run folder; worker 1 wrote nothing where it was
    # told to (its files went to a scratch folder, removed at the end).
    assert not other.exists()
    for name in ("model.keras", "metrics.csv", "config.json"):
        assert (chief / name).is_file(), name
    config = json.loads((chief / "config.json").read_text())
    assert config["strategy"] == "multiworker"
    assert config["batch_size"] == 2 and config["seed"] == 7

    rows, want = _rows(chief), _rows(single)
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    assert len(want) == EPOCHS
    assert set(rows[0]) == set(want[0])
    losses = ("g_loss", "g_l1", "g_gan", "d_loss")
    for got_row, want_row in zip(rows, want):
        for key in losses:
            got, ref = float(got_row[key]), float(want_row[key])
            assert np.isfinite(got) and ref > 0, key
            np.testing.assert_allclose(got, ref, rtol=LOSS_RTOL, err_msg=key)

    def load(run, name="model.keras"):
        model = pk.Pix2Pix.load(str(run / name))
        steps = STEPS * (EPOCHS if name == "model.keras" else 1)
        for opt in (model.g_optimizer, model.d_optimizer):
            assert int(opt.iterations) == steps
        return model

    def kernels(model):
        return [w.numpy() for w in model.trainable_weights if "bias" not in w.path]

    def max_diff(u, v):
        assert len(u) == len(v) > 0
        return max(float(np.max(np.abs(a - b))) for a, b in zip(u, v))

    got, want = load(chief), load(single)
    first = load(single, "checkpoints/epoch_0001.keras")
    diff = max_diff(kernels(got), kernels(want))
    moved = max_diff(kernels(want), kernels(first))  # the last epoch's 2 steps
    val = facades_val(batch_size=6)
    source, target = (t.numpy() for t in next(iter(val)))
    outputs = [m.generator(source, training=False).numpy() for m in (got, want)]
    out_diff = float(np.max(np.abs(outputs[0] - outputs[1])))
    print(
        f"max |multiworker - single|: kernels {diff:.2g}, outputs "
        f"{out_diff:.2g}; kernels moved by the last epoch {moved:.2g}"
    )
    assert diff < WEIGHT_ATOL
    assert out_diff < OUTPUT_ATOL
    assert moved > 20 * WEIGHT_ATOL
    # The generator was trained, and equally: far from its photo still,
    # but the same distance in both runs.
    assert outputs[0].shape == (6, 32, 32, 3)
    assert float(np.mean(np.abs(outputs[1] - target))) > 100 * OUTPUT_ATOL
