"""Pix2Pix.fit under tf.distribute strategies against single-device training.

Each scenario runs `tests/_distribute_worker.py` in fresh processes (logical
CPUs and MultiWorkerMirroredStrategy must be configured before TensorFlow
starts): one device; MirroredStrategy over 2 logical CPUs; and
MultiWorkerMirroredStrategy with 2 local worker processes on 127.0.0.1
(TF_CONFIG). Every run starts from the same saved weights and trains 3 SGD
steps on the same global batches of 4 (2 per replica); the instance-norm
models are then evaluated once. See docs/distributed.md.

Tolerances: the strategies split each batch, all-reduce the per-replica
gradients (sums of means over 2 images instead of one mean over 4) and, with
synchronized batch norm, compute the variance as E[x²] − E[x]² instead of
two-pass, so float32 sums are reassociated. Measured on this machine: weights
within 7e-7 of single-device training (they move by up to 3), logged values
within 7e-7 relative. The asserts allow 1e-5 on both, over ten times that;
without the division of the losses by the number of replicas the weights
differ by 1.6 (checked by removing it).
"""

import json
import os
import sys

import numpy as np
import pytest

from tests._helpers import PIX2PIX_LOGS
from tests._helpers import free_ports
from tests._helpers import start_logged
from tests._helpers import wait_all

WORKER = os.path.join(os.path.dirname(__file__), "_distribute_worker.py")
# Seconds all the runs together may take before they are killed: a hung
# collective fails the tests instead of blocking CI.
TIMEOUT = 300
WEIGHT_ATOL = 1e-5
LOG_RTOL = 1e-5
STRATEGIES = ("mirrored", "multiworker")
# (strategy, normalization) pairs that must equal single-device training.
# Synchronized batch norm runs under MirroredStrategy only, to keep the file
# fast; its cross-replica statistics use the same replica-context all-reduce
# as the gradients, which the multi-worker run checks.
MATCHING = [
    ("mirrored", "instance"),
    ("mirrored", "sync_batch"),
    ("multiworker", "instance"),
]


def _start(out, mode, norms=(), tf_config=None, tag=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    log_path = out / f"{tag or mode}.log"
    return start_logged(
        [sys.executable, WORKER, mode, str(out), *norms], log_path, env=env
    )


def _load(out, mode):
    with open(out / f"{mode}.json") as f:
        report = json.load(f)
    with np.load(out / f"{mode}.npz") as npz:
        report["arrays"] = dict(npz)
    return report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("distribute")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    # All at once: the strategy runs wait for the single run's initial
    # weights while TensorFlow starts.
    procs = [_start(out, "single"), _start(out, "mirrored")] + [
        _start(
            out,
            "multiworker",
            [n for m, n in MATCHING if m == "multiworker"],
            tf_config={"cluster": cluster, "task": {"type": "worker", "index": i}},
            tag=f"multiworker{i}",
        )
        for i in range(2)
    ]
    errors = wait_all(procs, TIMEOUT)
    results = {"errors": errors}
    for mode in ("single",) + STRATEGIES:
        if os.path.exists(out / f"{mode}.json"):
            results[mode] = _load(out, mode)
    return results


def _get(runs, mode):
    if mode not in runs:
        pytest.fail(f"the {mode} run failed: {runs['errors']}")
    return runs[mode]


def _weights(report, norm, stage):
    arrays = report["arrays"]
    prefix = f"{norm}/{stage}/"
    return [arrays[k] for k in sorted(arrays) if k.startswith(prefix)]


def _assert_logs_close(got, want, what):
    assert sorted(got) == sorted(want), what
    for key in want:
        np.testing.assert_allclose(
            got[key],
            want[key],
            rtol=LOG_RTOL,
            atol=1e-6,
            err_msg=f"{what}: {key}",
        )


@pytest.mark.parametrize("mode, norm", MATCHING)
def test_weights_match_single_device(runs, mode, norm):
    single, dist = _get(runs, "single"), _get(runs, mode)
    got, want = dist[norm], single[norm]
    assert got["replicas"] == 2 and want["replicas"] == 1
    for key in ("g_iterations", "d_iterations", "step_counter"):
        assert got[key] == want[key] == 3, key
    if norm == "sync_batch":
        assert got["synchronized_bn_layers"] == 9
    init = _weights(dist, norm, "init")
    ref_init = _weights(single, norm, "init")
    for a, b in zip(init, ref_init):
        np.testing.assert_array_equal(a, b)
    final = _weights(dist, norm, "final")
    ref_final = _weights(single, norm, "final")
    assert len(final) == len(ref_final) == len(want["weight_paths"])
    for path, a, b in zip(want["weight_paths"], final, ref_final):
        np.testing.assert_allclose(a, b, rtol=0, atol=WEIGHT_ATOL, err_msg=path)
    # The steps moved the weights far more than the tolerance: a loss
    # scaled twice or not at all would be caught.
    moved = max(np.max(np.abs(a - b)) for a, b in zip(ref_final, ref_init))
    assert moved > 1e4 * WEIGHT_ATOL


@pytest.mark.parametrize("mode, norm", MATCHING)
def test_logged_metrics_match_single_device(runs, mode, norm):
    got, want = _get(runs, mode)[norm], _get(runs, "single")[norm]
    assert len(got["batch_logs"]) == len(want["batch_logs"]) == 3
    for step, (a, b) in enumerate(zip(got["batch_logs"], want["batch_logs"])):
        _assert_logs_close(a, b, f"train step {step}")
    assert sorted(want["history"]) == PIX2PIX_LOGS
    _assert_logs_close(got["history"], want["history"], "history")
    if norm == "instance":  # the worker evaluates this model only
        assert sorted(want["evaluate"]) == PIX2PIX_LOGS + ["psnr", "ssim"]
        _assert_logs_close(got["evaluate"], want["evaluate"], "evaluate")


def test_per_replica_batch_norm_differs_from_single_device(runs):
    # Plain BatchNormalization normalizes each replica's 2 images with their
    # own statistics: a different computation from one batch of 4. Each
    # replica also keeps its own moving statistics, which drift apart.
    got, want = _get(runs, "mirrored"), _get(runs, "single")
    diff = max(
        np.max(np.abs(a - b))
        for a, b in zip(
            _weights(got, "batch", "final"), _weights(want, "batch", "final")
        )
    )
    assert diff > 100 * WEIGHT_ATOL
    assert got["batch"]["synchronized_bn_layers"] == 0
    assert got["batch"]["moving_stats_replica_spread"] > 1e-5


def test_synchronized_batch_norm_keeps_replicas_identical(runs):
    report = _get(runs, "mirrored")["sync_batch"]
    assert report["synchronized_bn_layers"] == 9
    assert report["moving_stats_replica_spread"] == 0.0


@pytest.mark.parametrize("mode", STRATEGIES)
def test_d_every_is_refused_under_replicas(runs, mode):
    assert _get(runs, "single")["d_every_2"] == "accepted"
    assert _get(runs, mode)["d_every_2"].startswith(
        "ValueError: `d_every`=2 is not supported under a multi-replica"
    )
