"""Crash-resume: a run SIGKILLed mid-epoch and restarted ends bit-equal.

`tests/_resume_worker.py train` trains the tiny 32×32 model for 3 epochs of
8 batches with `pix2pix_keras.BackupAndRestore(save_freq=3)`, `d_every=2`,
dropout, LR halving every epoch, a λ schedule, and the bundled facades
sample reshuffled (and re-cropped) every iteration, with seeds and op
determinism. The test kills it twice in the middle of epoch 2 (each time
one batch after a backup, so that batch is lost and trained again),
restarts it with the same command each time and compares everything with
an uninterrupted run. See docs/reliability.md, "Resuming after a crash".
"""

import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np

WORKER = os.path.join(os.path.dirname(__file__), "_resume_worker.py")
TIMEOUT = 300  # seconds per worker run (about 10 s here)
STEPS = 8  # batches per epoch in the worker


def _run(out, kill_after=None):
    """Runs the worker in lockstep; SIGKILLs it after batch `kill_after`.

    Returns the parsed progress lines `(kind, payload)` (and the exit
    status: -SIGKILL after a kill).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen(
        [sys.executable, WORKER, "train", str(out), "--lockstep"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # A blocking readline with a watchdog (select() on a buffered pipe
    # misses lines already read into the buffer).
    watchdog = threading.Timer(TIMEOUT, proc.kill)
    watchdog.start()
    events = []
    try:
        for line in proc.stdout:
            kind, _, payload = line.strip().partition(" ")
            events.append((kind, json.loads(payload)))
            if kind != "batch":
                continue
            point = (events[-1][1]["epoch"], events[-1][1]["batch"])
            if point == kill_after:
                proc.send_signal(signal.SIGKILL)
                break
            proc.stdin.write("\n")
            proc.stdin.flush()
        status = proc.wait(timeout=TIMEOUT)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    return events, status


def _first(events, kind):
    return next(p for k, p in events if k == kind)


def _batches(events):
    return {(p["epoch"], p["batch"]): p for k, p in events if k == "batch"}


def test_sigkill_mid_epoch_resumes_bit_identically(tmp_path):
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    ref_dir.mkdir()
    run_dir.mkdir()
    reference, status = _run(ref_dir)
    assert status == 0
    assert len(_batches(reference)) == 3 * STEPS

    # Killed after batch 1 of epoch 2 (0-based epoch 1): the last backup
    # was written after batch 0, so batch 1 is lost.
    first, status = _run(run_dir, kill_after=(1, 1))
    assert status == -signal.SIGKILL
    backups = [p for k, p in first if k == "backup"]
    assert backups[-1] == {"epoch": 1, "batch": 0, "steps_done": 1, "data_skip": STEPS}

    # Same command: resumes at epoch 1, batch 1, with 9 G steps and 5 D
    # steps (d_every=2: D steps at G steps 0, 2, ..., 8) done.
    second, status = _run(run_dir, kill_after=(1, 4))
    assert status == -signal.SIGKILL
    assert _first(second, "begin") == {
        "initial_epoch": 1,
        "g_iterations": 9,
        "d_iterations": 5,
        "step_counter": 9,
    }
    trained = sorted(_batches(second))
    # Batch 0 is drawn from the data and dropped: the callbacks see it
    # with empty logs; batches 1.. are trained.
    assert trained[0] == (1, 0) and _batches(second)[(1, 0)]["logs"] == {}
    assert _batches(second)[(1, 1)]["g_iterations"] == 10
    # The backup written in the resumed epoch names that epoch (Keras
    # 3.15 would write epoch 0 here).
    assert [p for k, p in second if k == "backup"][-1] == {
        "epoch": 1,
        "batch": 3,
        "steps_done": 4,
        "data_skip": STEPS,
    }

    third, status = _run(run_dir)
    assert status == 0
    assert _first(third, "begin") == {
        "initial_epoch": 1,
        "g_iterations": 12,
        "d_iterations": 6,
        "step_counter": 12,
    }
    assert not (run_dir / "backup").exists()

    # Every batch trained after a restart logs what the uninterrupted run
    # logged at the same epoch and batch (running means of the epoch: the
    # restored metric totals plus the same data in the same order).
    ref_batches = _batches(reference)
    for events in (second, third):
        for point, payload in _batches(events).items():
            if payload["logs"]:
                assert payload == ref_batches[point], point
    # Learning rates and λ at each epoch start and at the end.
    ref_epochs = [p for k, p in reference if k == "epoch"]
    assert [p for k, p in third if k == "epoch"] == ref_epochs[1:]
    lrs = np.float32([[p["g_lr"], p["d_lr"]] for p in ref_epochs])
    assert (
        lrs.tolist()
        == np.float32([[2e-3, 1e-3], [1e-3, 5e-4], [5e-4, 2.5e-4]]).tolist()
    )
    assert [p["lambda"] for p in ref_epochs] == [100.0, 70.0, 40.0]
    assert _first(third, "end") == _first(reference, "end")
    assert _first(reference, "end")["g_iterations"] == 3 * STEPS
    assert _first(reference, "end")["d_iterations"] == 3 * STEPS // 2

    # All variables of G, D (incl. batch-norm statistics and the dropout
    # RNG states), both optimizers and the wrapper: bit-equal.
    with np.load(ref_dir / "final.npz") as a, np.load(run_dir / "final.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        assert len(a.files) > 100
        assert any("seed_generator_state" in k for k in a.files)
        unequal = [k for k in a.files if not np.array_equal(a[k], b[k])]
    assert unequal == []
    with open(ref_dir / "history.json") as f:
        ref_history = json.load(f)
    with open(run_dir / "history.json") as f:
        history = json.load(f)
    # The resumed fit() logs epochs 2 and 3, equal to the reference.
    assert {k: v[1:] for k, v in ref_history.items()} == history
