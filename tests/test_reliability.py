"""Atomic saves: kills during `save` / `save_weights`, checkpoint callbacks.

The kill loop runs `tests/_reliability_worker.py save_loop` in fresh
processes that save the tiny model to the same two files over and over, and
SIGKILLs each at a seeded random moment; after every kill both files must
load and hold one complete save. See docs/reliability.md.
"""

import json
import os
import random
import select
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from pix2pix_keras import utils
from pix2pix_keras.callbacks import BackupAndRestore
from tests._helpers import disk_full
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix

WORKER = os.path.join(os.path.dirname(__file__), "_reliability_worker.py")
KILLS = 10
SEED = 1234
# Seconds after "go" before the kill: from inside the first save to a few
# saves later (one save of each file takes about 0.3 s here).
DELAY = (0.05, 1.5)
STARTUP_TIMEOUT = 120


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _temporaries(directory, name):
    return [f for f in os.listdir(directory) if f.startswith(f".{name}.tmp-")]


def _spawn(directory, base):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen(
        [sys.executable, WORKER, "save_loop", str(directory), str(base)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    proc.base = base
    return proc


def _wait_ready(proc):
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP_TIMEOUT)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "ready":
        proc.kill()
        proc.wait()
        raise RuntimeError(f"worker did not start: {line!r}")


def _owner(temporary):
    """The process id in a temporary's name (`.<name>.tmp-<pid>@...`)."""
    return int(temporary.split(".tmp-", 1)[1].split("@", 1)[0])


def _single_value(variables, what):
    values = np.unique(np.concatenate([v.ravel() for v in variables]))
    assert len(values) == 1, f"{what} mixes saves: {values[:10]}"
    return int(values[0])


def test_kill_during_save_never_leaves_a_partial_file(tmp_path):
    rng = random.Random(SEED)
    keras_path = tmp_path / "model.keras"
    weights_path = tmp_path / "model.weights.h5"
    reader = tiny_pix2pix()
    reader.compile()
    done = {"keras": None, "weights": None}  # last value known complete
    interrupted = 0
    outcomes = []
    proc = _spawn(tmp_path, 0)
    _wait_ready(proc)
    try:
        for k in range(KILLS):
            # The next worker starts TensorFlow while this one saves.
            following = _spawn(tmp_path, (k + 1) * 1000) if k + 1 < KILLS else None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            time.sleep(rng.uniform(*DELAY))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            printed = {"keras": [], "weights": []}
            for line in proc.stdout.read().split("\n"):
                parts = line.split()
                if len(parts) == 2 and parts[0] in printed:
                    printed[parts[0]].append(int(parts[1]))

            strays = {
                name: _temporaries(tmp_path, name)
                for name in ("model.keras", "model.weights.h5")
            }
            # Only the killed process's own temporary can remain: the
            # first write of each process removes those of dead ones.
            assert all(len(s) <= 1 for s in strays.values()), strays
            interrupted += sum(
                _owner(t) == proc.pid for s in strays.values() for t in s
            )

            for kind in ("keras", "weights"):
                if done[kind] is None and not printed[kind]:
                    # Killed before the first save completed: maybe no file.
                    started = os.path.exists(
                        keras_path if kind == "keras" else weights_path
                    )
                    if not started:
                        continue
                # The file is the last complete save, or the one that was
                # being renamed into place when the kill came.
                nxt = printed[kind][-1] + 1 if printed[kind] else proc.base
                allowed = {printed[kind][-1] if printed[kind] else done[kind], nxt}
                if kind == "keras":
                    model = keras.saving.load_model(keras_path)
                    variables = _values(model.weights) + _values(
                        model.g_optimizer.variables + model.d_optimizer.variables
                    )
                else:
                    reader.load_weights(weights_path)
                    model = reader
                    variables = _values(model.weights)
                value = _single_value(variables, f"{kind} after kill {k}")
                assert value in allowed, (kind, value, allowed)
                assert int(keras.ops.convert_to_numpy(model.step_counter)) == value
                done[kind] = value
            outcomes.append((len(printed["keras"]), len(printed["weights"])))
            proc = following
            if proc is not None:
                _wait_ready(proc)
    finally:
        for p in (proc,):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

    print(
        f"saves completed per killed worker (keras, weights): {outcomes}; "
        f"kills inside a write: {interrupted}"
    )
    # Most kills landed inside a write (which left its temporary).
    assert interrupted >= 3, outcomes
    # The next save from a live process removes the dead one's leftovers.
    reader.save(keras_path)
    reader.save_weights(weights_path)
    assert sorted(os.listdir(tmp_path)) == ["model.keras", "model.weights.h5"]


# ----------------------------------------------------------------------
# atomic_path details


def test_atomic_path_removes_only_dead_processes_temporaries(tmp_path):
    target = tmp_path / "out.json"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = utils._host()
    names = {
        "dead": f".out.json.tmp-{dead.pid}@{host}-aaaa",
        "alive": f".out.json.tmp-{os.getppid()}@{host}-bbbb",
        "mine": f".out.json.tmp-{os.getpid()}@{host}-cccc",
        "other_host": f".out.json.tmp-{dead.pid}@elsewhere-dddd",
        "other_file": f".other.json.tmp-{dead.pid}@{host}-eeee",
    }
    for name in names.values():
        (tmp_path / name).write_text("partial")
    with utils.atomic_path(target) as tmp:
        assert os.path.basename(tmp).startswith(f".out.json.tmp-{os.getpid()}@{host}-")
        with open(tmp, "w") as f:
            f.write("{}")
    left = set(os.listdir(tmp_path))
    assert names["dead"] not in left
    assert {names[k] for k in ("alive", "mine", "other_host", "other_file")} <= left
    assert target.read_text() == "{}"


def test_atomic_path_gives_usual_permissions_and_keeps_a_files_mode(tmp_path):
    old_umask = os.umask(0o022)
    try:
        target = tmp_path / "new.txt"
        with utils.atomic_path(target) as tmp:
            open(tmp, "w").write("a")
        # tempfile.mkstemp would have made it 0600.
        assert os.stat(target).st_mode & 0o777 == 0o644
        os.chmod(target, 0o640)
        with utils.atomic_path(target) as tmp:
            open(tmp, "w").write("b")
        assert os.stat(target).st_mode & 0o777 == 0o640
        assert target.read_text() == "b"
    finally:
        os.umask(old_umask)


def test_save_weights_leaves_previous_file_when_interrupted(tmp_path):
    path = tmp_path / "m.weights.h5"
    model = tiny_pix2pix()
    model.compile()
    model.save_weights(path)
    before = path.read_bytes()

    with disk_full("save_weights", b"\x89HDF half a file"):
        model.save_weights(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.weights.h5"]
    with pytest.raises(FileExistsError):
        model.save_weights(path, overwrite=False)


@pytest.mark.parametrize("weights_only", [False, True])
def test_keras_model_checkpoint_writes_through_a_rename(
    tmp_path, monkeypatch, weights_only
):
    """Keras's ModelCheckpoint calls model.save / save_weights: atomic."""
    name = "ckpt.weights.h5" if weights_only else "ckpt.keras"
    path = tmp_path / name
    renames = []
    real_replace = os.replace

    def spy(src, dst, *args, **kwargs):
        renames.append((os.path.basename(src), os.path.basename(dst)))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    model = tiny_pix2pix()
    model.compile()
    model.fit(
        tiny_dataset(n=4),
        epochs=2,
        verbose=0,
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(path), save_weights_only=weights_only)
        ],
    )
    monkeypatch.undo()
    assert len(renames) == 2  # one per epoch
    assert all(src.startswith(f".{name}.tmp-") and dst == name for src, dst in renames)
    assert os.listdir(tmp_path) == [name]


def test_backup_and_restore_writes_atomically_and_resumes(tmp_path, monkeypatch):
    backup = tmp_path / "backup"
    model = tiny_pix2pix()
    model.compile()
    renames = []
    real_replace = os.replace

    def spy(src, dst, *args, **kwargs):
        renames.append(os.path.basename(dst))
        return real_replace(src, dst, *args, **kwargs)

    class Preempted(Exception):
        pass

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Preempted()

    monkeypatch.setattr(os, "replace", spy)
    with pytest.raises(Preempted):
        model.fit(
            tiny_dataset(n=4),
            epochs=4,
            verbose=0,
            callbacks=[
                BackupAndRestore(str(backup), double_checkpoint=True),
                Interrupt(),
            ],
        )
    monkeypatch.undo()
    # Two epoch ends, each: weights and metadata (+ the .bkp copies of the
    # previous ones from the second on), all renamed into place (a
    # Pix2Pix's own atomic save_weights adds a rename into the temporary).
    assert [name for name in renames if not name.startswith(".")] == [
        "latest.weights.h5",
        "training_metadata.json",
        "latest.weights.h5.bkp",
        "training_metadata.json.bkp",
        "latest.weights.h5",
        "training_metadata.json",
    ]
    assert json.loads((backup / "training_metadata.json").read_text()) == {
        "epoch": 2,
        "batch": 0,
    }
    assert not [f for f in os.listdir(backup) if ".tmp-" in f]
    saved = _values(model.weights)

    # A fresh process would rebuild the model: resume from the backup.
    fresh = tiny_pix2pix()
    fresh.compile()
    history = fresh.fit(
        tiny_dataset(n=4),
        epochs=4,
        verbose=0,
        callbacks=[BackupAndRestore(str(backup))],
    )
    assert len(history.history["g_loss"]) == 2  # epochs 3 and 4 only
    assert int(fresh.g_optimizer.iterations.numpy()) == 8
    assert not backup.exists()  # deleted after a completed fit, as Keras
    assert any(not np.array_equal(a, b) for a, b in zip(saved, _values(fresh.weights)))
