"""The `pix2pix` command line, run in-process through `main([...])`.

The training runs use the bundled CMP facades sample (label map -> photo,
`--direction BtoA`) at 32×32 with 8 base filters and 2 steps per epoch.
"""

import configparser
import csv
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import pix2pix_keras as pk
from pix2pix_keras import cli
from pix2pix_keras.cli import main
from tests.test_cli_options import TINY as TINY_MODEL
from tests.test_cli_options import tiny_argv
from tests.test_cli_options import train_argv
from tests.test_tensorboard import read_run
from tests.test_tensorboard import scalars

ROOT = os.path.join(os.path.dirname(__file__), "..")
TRAIN = pk.sample_data_dir("train")
VAL = pk.sample_data_dir("val")
LOSSES = ("d_fake", "d_loss", "d_real", "g_gan", "g_l1", "g_loss")
#: metrics.csv columns of a run with validation (CSVLogger sorts them).
COLUMNS = ["epoch"] + sorted(
    list(LOSSES) + ["g_lr", "d_lr"] + [f"val_{k}" for k in LOSSES + ("psnr", "ssim")]
)
TINY = {**TINY_MODEL, "lr_halving_every": 1, "num_samples": 3, "sample_every": 2}


def tiny_train(output, epochs, **extra):
    return train_argv(output, epochs, val=VAL, **{**TINY, **extra})


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def column(path, name):
    header, rows = read_csv(path)
    return [float(r[header.index(name)]) for r in rows]


@pytest.fixture(scope="module")
def run4(tmp_path_factory):
    """A finished 4-epoch run (LR halved every epoch, grids every 2)."""
    run_dir = tmp_path_factory.mktemp("runs") / "run4"
    assert main(tiny_train(run_dir, 4)) == 0
    return str(run_dir)


# ----------------------------------------------------------------------
# parser


def test_help_of_every_command(capsys):
    for argv in (
        ["--help"],
        ["train", "--help"],
        ["evaluate", "--help"],
        ["predict", "--help"],
        ["export", "--help"],
        ["datasets", "--help"],
        ["datasets", "list", "--help"],
        ["datasets", "download", "--help"],
    ):
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert out.startswith(f"usage: pix2pix {' '.join(argv[:-1])}".strip())
        if argv[0] == "train":
            for option in cli.TRAIN_OPTIONS:
                assert option.flag in out
            assert "--resume" in out and "--config" in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"pix2pix {pk.__version__}\n"
    assert main([]) == 2
    assert "usage: pix2pix" in capsys.readouterr().err
    assert main(["datasets"]) == 2
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_entry_points_declared_and_python_m_runs():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    scripts = parser["options.entry_points"]["console_scripts"].strip()
    assert scripts == "pix2pix = pix2pix_keras.cli:main"
    installed = {
        e.name: e.value
        for e in importlib.metadata.entry_points(group="console_scripts")
    }
    assert installed["pix2pix"] == "pix2pix_keras.cli:main"
    result = subprocess.run(
        [sys.executable, "-m", "pix2pix_keras", "datasets", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("facades ")


# ----------------------------------------------------------------------
# train


def test_train_writes_the_run_folder(run4):
    assert sorted(os.listdir(run4)) == [
        "checkpoints",
        "config.json",
        "metrics.csv",
        "model.keras",
        "samples",
        "tensorboard",
        "training_curves.png",
    ]

    with open(os.path.join(run4, "config.json")) as f:
        config = json.load(f)
    expected = cli.default_config()
    # lr_halving_every without lr_policy selects halving.
    expected.update(
        TINY, data=TRAIN, val=VAL, epochs=4, output=run4, lr_policy="halving"
    )
    assert config == expected
    assert config["lambda_l1"] == 100.0 and config["gan_loss"] == "lsgan"

    header, rows = read_csv(os.path.join(run4, "metrics.csv"))
    assert header == COLUMNS
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3]
    for key in ("g_lr", "d_lr"):
        np.testing.assert_allclose(
            column(os.path.join(run4, "metrics.csv"), key),
            [2e-4, 1e-4, 5e-5, 2.5e-5],
            rtol=1e-6,
        )
    assert all(np.isfinite(float(v)) for r in rows for v in r)

    samples = os.path.join(run4, "samples")
    assert sorted(os.listdir(samples)) == [
        "samples_epoch0002.png",
        "samples_epoch0004.png",
        "samples_latest.png",
    ]
    for name in os.listdir(samples):
        # 3 rows and 3 columns of 32-pixel tiles with 2-pixel gaps.
        assert Image.open(os.path.join(samples, name)).size == (100, 100)

    checkpoints = os.path.join(run4, "checkpoints")
    assert sorted(os.listdir(checkpoints)) == ["epoch_0004.keras", "state.json"]
    with open(os.path.join(checkpoints, "state.json")) as f:
        assert json.load(f) == {"epoch": 4, "checkpoint": "epoch_0004.keras"}

    # 9 panels (6 losses, learning rate, psnr, ssim) of 400×300, 3 a row.
    curves = Image.open(os.path.join(run4, "training_curves.png"))
    assert curves.size == (1200, 900)

    # model.keras is the last checkpoint, hard-linked.
    assert os.path.samefile(
        os.path.join(run4, "model.keras"), os.path.join(checkpoints, "epoch_0004.keras")
    )
    model = pk.Pix2Pix.load(os.path.join(run4, "model.keras"))
    assert tuple(model.generator.inputs[0].shape) == (None, 32, 32, 3)
    assert int(model.g_optimizer.iterations) == 8
    assert int(model.d_optimizer.iterations) == 8
    assert float(model.g_optimizer.learning_rate) == pytest.approx(2.5e-5)

    train = read_run(os.path.join(run4, "tensorboard", "train"))
    for key in LOSSES + ("g_lr", "d_lr"):
        assert scalars(train, f"epoch_{key}")[0] == [0, 1, 2, 3]
    assert [s for s, _ in train["samples"][1]] == [1, 3]
    assert [s for s, _ in train["train_step"][1]] == [0]
    validation = read_run(os.path.join(run4, "tensorboard", "validation"))
    assert sorted(validation) == sorted(f"epoch_{k}" for k in LOSSES + ("psnr", "ssim"))


def test_resume_continues_like_an_uninterrupted_run(run4, tmp_path, capsys):
    run2 = tmp_path / "run2"
    assert main(tiny_train(run2, 2)) == 0
    metrics = os.path.join(run2, "metrics.csv")
    header, rows = read_csv(metrics)
    assert len(rows) == 2
    # As if killed after logging epoch 3 but before its checkpoint.
    with open(metrics, "a", newline="") as f:
        csv.writer(f).writerow(["2"] + rows[1][1:])

    assert (
        main(
            [
                "train",
                "--resume",
                str(run2),
                "--epochs",
                "4",
                "--keep-checkpoints",
                "2",
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    header, rows = read_csv(metrics)
    assert header == COLUMNS
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3]
    for key in ("g_lr", "d_lr"):
        np.testing.assert_allclose(
            column(metrics, key),
            column(os.path.join(run4, "metrics.csv"), key),
            rtol=1e-6,
        )

    resumed = pk.Pix2Pix.load(os.path.join(run2, "model.keras"))
    reference = pk.Pix2Pix.load(os.path.join(run4, "model.keras"))
    for model in (resumed, reference):
        assert int(model.g_optimizer.iterations) == 8
        assert int(model.d_optimizer.iterations) == 8
        assert int(model.step_counter) == 8
        assert float(model.g_optimizer.learning_rate) == pytest.approx(2.5e-5)
        assert float(model.d_optimizer.learning_rate) == pytest.approx(2.5e-5)
    # The same batches (shuffle, crops, flips) and dropout masks in the same
    # order: the resumed run ends with the unbroken run's weights.
    for a, b in zip(resumed.weights, reference.weights, strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    np.testing.assert_array_equal(
        column(metrics, "g_loss"), column(os.path.join(run4, "metrics.csv"), "g_loss")
    )

    with open(os.path.join(run2, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(run4, "config.json")) as f:
        config4 = json.load(f)
    assert config == {**config4, "output": str(run2), "keep_checkpoints": 2}
    assert sorted(os.listdir(run2 / "checkpoints")) == [
        "epoch_0003.keras",
        "epoch_0004.keras",
        "state.json",
    ]
    assert sorted(os.listdir(os.path.join(run2, "samples"))) == [
        "samples_epoch0002.png",
        "samples_epoch0004.png",
        "samples_latest.png",
    ]
    train = read_run(os.path.join(run2, "tensorboard", "train"))
    assert scalars(train, "epoch_g_loss")[0] == [0, 1, 2, 3]
    assert [s for s, _ in train["train_step"][1]] == [0, 2]

    capsys.readouterr()
    assert main(["train", "--resume", str(run2)]) == 2
    assert "has trained 4 of 4 epochs: pass --epochs N with N > 4" in (
        capsys.readouterr().err
    )


def test_yaml_config_with_flag_overrides(tmp_path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    for name in sorted(os.listdir(TRAIN))[:8]:  # 4 pairs
        shutil.copy(os.path.join(TRAIN, name), data)
    (tmp_path / "configs").mkdir()
    config_file = tmp_path / "configs" / "p2p.yaml"
    config_file.write_text(
        "# paths are relative to this file\n"
        "data: ../data/train\n"
        "direction: BtoA\n"
        "image_size: 32\n"
        "filters: 8\n"
        "d_layers: 2\n"
        "epochs: 1\n"
        "steps_per_epoch: 1\n"
        "batch_size: 2\n"
        "lr: 1e-3  # YAML 1.1 reads this as a string: accepted\n"
        "lambda_l1: 50\n"
        "sample_every: 0\n"
        "tensorboard: true\n"
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(config_file),
                "--lambda-l1",
                "10",
                "--no-tensorboard",
                "--output",
                str(run),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    with open(run / "config.json") as f:
        config = json.load(f)
    assert config["data"] == str(data)
    assert config["lr"] == 1e-3
    assert config["lambda_l1"] == 10.0  # the flag wins over the file
    assert config["tensorboard"] is False
    assert config["filters"] == 8 and config["val"] is None
    assert sorted(os.listdir(run)) == [
        "checkpoints",
        "config.json",
        "metrics.csv",
        "model.keras",
        "training_curves.png",
    ]
    header, rows = read_csv(run / "metrics.csv")
    assert header == ["epoch"] + sorted(list(LOSSES) + ["g_lr", "d_lr"])
    assert len(rows) == 1
    assert float(rows[0][header.index("g_lr")]) == pytest.approx(1e-3)
    # The written config is a valid config file for a new run.
    assert cli.read_config_file(run / "config.json") == config


@pytest.mark.parametrize(
    "name,text,message",
    [
        (
            "c.yaml",
            "filtres: 8\n",
            "unknown key(s) 'filtres' (did you mean 'filters'?). Allowed keys: "
            "data, val,",
        ),
        (
            "c.json",
            '{"epochs": "ten"}',
            "`epochs` must be an int >= 1. Received: epochs='ten'",
        ),
        ("c.json", '{"epochs": 2.5}', "`epochs` must be an int >= 1"),
        (
            "c.json",
            '{"dropout": 1.0}',
            "`dropout` must be a number >= 0.0 and < 1.0. Received: dropout=1.0",
        ),
        ("c.json", '{"flip": 1}', "`flip` must be true or false"),
        (
            "c.json",
            '{"norm": "group"}',
            "`norm` must be one of 'batch', 'instance', 'none'",
        ),
        ("c.json", '{"lr": null}', "`lr` must be a number > 0.0."),
        ("c.json", '{"epochs": 1', "invalid JSON at line 1, column 13"),
        ("c.yaml", "a: [1,\n", "invalid YAML"),
        (
            "c.json",
            "[1, 2]",
            "the config must be a mapping of keys to values, not a list",
        ),
        ("c.toml", "epochs = 1", "a config file must end in .json, .yaml or .yml"),
        (
            "c.json",
            '{"data": "train", "image_size": 48}',
            "`image_size` [48, 48] does not suit the U-Net generator",
        ),
        ("c.json", '{"epochs": 1}', "train needs training data: pass --data DIR"),
        ("c.json", '{"data": "nowhere"}', "`data`: no such folder: "),
        (
            "c.json",
            '{"data": "train", "load_size": 16, "image_size": 32}',
            "`load_size` [16, 16] must be at least `image_size` [32, 32]",
        ),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path, capsys, name, text, message):
    (tmp_path / "train").mkdir()
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["train", "--config", str(path), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pix2pix train: error: ")
    assert message in err
    if not message.startswith(("train needs", "`data`")):
        assert str(path) in err  # the file is named
    assert not out.exists()


def test_resume_of_a_finite_reshuffled_dataset_is_exact(tmp_path):
    """Without steps_per_epoch, fit draws a fresh (reshuffled, re-jittered)
    pass over the data each epoch; a resumed run replays that sequence
    and ends with the unbroken run's weights and per-epoch losses."""

    def argv(out, epochs):
        full = tiny_train(out, epochs, lr_halving_every=0, sample_every=0)
        i = full.index(cli.OPTIONS["steps_per_epoch"].flag)
        return full[:i] + full[i + 2 :]  # one pass over the data per epoch

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(argv(straight, 3)) == 0
    assert main(argv(resumed, 1)) == 0
    assert (
        main(["train", "--resume", str(resumed), "--epochs", "3", "--verbose", "0"])
        == 0
    )
    models = [
        pk.Pix2Pix.load(os.path.join(run, "model.keras")) for run in (straight, resumed)
    ]
    # 24 training pairs in batches of 2: 12 steps an epoch.
    assert [int(m.g_optimizer.iterations) for m in models] == [36, 36]
    for a, b in zip(models[0].weights, models[1].weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    for key in ("g_loss", "d_loss", "val_g_l1"):
        np.testing.assert_array_equal(
            column(os.path.join(resumed, "metrics.csv"), key),
            column(os.path.join(straight, "metrics.csv"), key),
        )


def test_flag_and_resume_errors(run4, tmp_path, capsys):
    out = str(tmp_path / "out")
    cases = [
        (
            ["train", "--data", TRAIN, "--epochs", "0", "--output", out],
            "--epochs: `epochs` must be an int >= 1. Received: epochs=0",
        ),
        (
            ["train", "--data", TRAIN, "--epochs", "x"],
            "argument --epochs: invalid int value: 'x'",
        ),
        (
            ["train", "--data", TRAIN, "--norm", "group"],
            "argument --norm: invalid choice: 'group'",
        ),
        (
            ["train", "--config", str(tmp_path / "missing.json")],
            f"config file not found: {tmp_path / 'missing.json'}",
        ),
        (
            ["train", "--data", TRAIN, "--output", run4],
            f"{run4} already holds a run (config.json): continue it with "
            f"'pix2pix train --resume {run4}'",
        ),
        (
            ["train", "--resume", out],
            f"--resume {out}: not a run folder (no config.json)",
        ),
        (
            ["train", "--resume", run4, "--filters", "16"],
            "--filters cannot change when resuming: the run was started with "
            "filters=8.",
        ),
        (
            ["train", "--resume", run4, "--config", str(tmp_path / "c.json")],
            "cannot be combined with --config",
        ),
        (
            ["train", "--resume", run4],
            "has trained 4 of 4 epochs: pass --epochs N with N > 4",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not os.path.exists(out)


# ----------------------------------------------------------------------
# learning-rate policies


def resolved(**keys):
    """The schedule keys and warnings of a config given `keys` (as flags)."""
    config = cli.default_config()
    config.update(data=TRAIN, **keys)
    cli._infer_lr_policy(config, set(keys))
    config = cli.check_config(config, "flags")
    names = ("lr_policy", "n_epochs", "n_epochs_decay", "lr_halving_every")
    return {k: config[k] for k in names}, cli.schedule_warnings(config)


def test_lr_policy_defaults_and_inference():
    assert cli.DEFAULT_LR_POLICY == "linear"
    # The reference's 100 + 100 for the default 200 epochs, no warning.
    assert resolved() == (
        {
            "lr_policy": "linear",
            "n_epochs": 100,
            "n_epochs_decay": 100,
            "lr_halving_every": None,
        },
        [],
    )
    # The split follows --epochs; one count given, the other is the rest.
    assert [resolved(epochs=e)[0]["n_epochs"] for e in (1, 5, 30)] == [1, 3, 15]
    assert [resolved(epochs=e)[0]["n_epochs_decay"] for e in (1, 5, 30)] == [0, 2, 15]
    assert resolved(n_epochs=150)[0]["n_epochs_decay"] == 50
    assert resolved(n_epochs_decay=30)[0]["n_epochs"] == 170
    # Explicit values win and are kept.
    assert resolved(n_epochs=120, n_epochs_decay=80)[0]["n_epochs"] == 120
    # lr_halving_every alone means halving (0: constant), as before.
    assert resolved(lr_halving_every=20, epochs=100)[0] == {
        "lr_policy": "halving",
        "n_epochs": None,
        "n_epochs_decay": None,
        "lr_halving_every": 20,
    }
    assert resolved(lr_halving_every=0)[0]["lr_policy"] == "constant"
    assert resolved(lr_halving_every=0)[0]["lr_halving_every"] is None
    assert resolved(lr_policy="halving", epochs=100)[0]["lr_halving_every"] == 10
    assert resolved(lr_policy="constant") == (
        {
            "lr_policy": "constant",
            "n_epochs": None,
            "n_epochs_decay": None,
            "lr_halving_every": None,
        },
        [],
    )
    assert isinstance(
        cli.lr_schedule(cli.check_config({**cli.default_config(), "data": TRAIN})),
        pk.LinearDecay,
    )


def test_lr_policy_warnings_name_the_flags():
    # Halving every 10 on 200 epochs: 0.5 ** 17 at epoch 180 (1-based).
    _, warnings = resolved(lr_policy="halving")
    assert warnings == [
        "--lr-halving-every 10 with --epochs 200 drives the rates to 7.6e-06 "
        "× the base rate by epoch 180 of 200, below 0.001 × base before the "
        "last tenth of the run, so its later epochs learn almost nothing: use "
        "--lr-policy linear, or --lr-halving-every 18 or more"
    ]
    # The suggestion is the smallest period that passes: 0.5 ** 9 at 180.
    assert resolved(lr_halving_every=18)[1] == []
    assert len(resolved(lr_halving_every=17)[1]) == 1
    # 100 epochs: 0.5 ** 8 = 3.9e-3 at epoch 90, no warning.
    assert resolved(lr_halving_every=10, epochs=100)[1] == []
    # A decay longer than the run.
    _, warnings = resolved(n_epochs=100, n_epochs_decay=150)
    assert warnings == [
        "--n-epochs 100 + --n-epochs-decay 150 = 250 epochs is longer than "
        "the run (--epochs 200): the decay is cut off and the last epoch "
        "trains at 0.338 × the base rate instead of 1/151; set "
        "--n-epochs-decay 100 (or raise --epochs to 250)"
    ]
    assert resolved(n_epochs_decay=300)[1][0].startswith(
        "--n-epochs 0 + --n-epochs-decay 300 = 300 epochs is longer than the "
        "run (--epochs 200)"
    )
    # A decay that ends before the run: rate 0 at the end (also < 1e-3,
    # said once).
    _, warnings = resolved(n_epochs=100, n_epochs_decay=50)
    assert warnings == [
        "--n-epochs 100 + --n-epochs-decay 50 = 150 epochs is shorter than "
        "the run (--epochs 200): the rates are 0 from epoch 151 on, so the "
        "last 50 epoch(s) learn nothing; set --n-epochs-decay 100"
    ]
    # A decay that never starts.
    assert resolved(n_epochs=250, n_epochs_decay=10)[1] == [
        "--n-epochs 250 with --epochs 200: the linear decay would start "
        "after the last epoch, so the rates stay constant; lower --n-epochs "
        "below 200 (or use --lr-policy constant)"
    ]
    assert resolved(n_epochs=250)[1] == []  # constant, as asked


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lr-policy", "cosine"], "argument --lr-policy: invalid choice: 'cosine'"),
        (
            ["--n-epochs", "-1"],
            "--n-epochs: `n_epochs` must be an int >= 0 or null. Received: n_epochs=-1",
        ),
        (
            ["--n-epochs-decay", "2.5"],
            "argument --n-epochs-decay: invalid int value: '2.5'",
        ),
        (
            ["--lr-halving-every", "-2"],
            "`lr_halving_every` must be an int >= 0 or null",
        ),
        (
            ["--lr-policy", "linear", "--lr-halving-every", "5"],
            "flags: `lr_halving_every` (--lr-halving-every 5) is a setting of "
            "lr_policy 'halving', but lr_policy is 'linear': drop it (or set it to "
            "null) or choose --lr-policy halving",
        ),
        (
            ["--lr-policy", "halving", "--n-epochs", "5"],
            "`n_epochs` (--n-epochs 5) is a setting of lr_policy 'linear', but "
            "lr_policy is 'halving'",
        ),
        (
            ["--lr-policy", "halving", "--lr-halving-every", "0"],
            "`lr_halving_every` must be >= 1 with lr_policy 'halving' (for no "
            "decay use --lr-policy constant). Received: lr_halving_every=0",
        ),
    ],
)
def test_lr_policy_flag_errors(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["train", "--data", TRAIN, "--output", str(out)] + argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"lr_policy": "step"}',
            "`lr_policy` must be one of 'linear', 'halving', 'constant'. Received: "
            "lr_policy='step'",
        ),
        ('{"n_epochs": 2.5}', "`n_epochs` must be an int >= 0 or null"),
        ('{"n_epochs_decay": -4}', "`n_epochs_decay` must be an int >= 0 or null"),
    ],
)
def test_lr_policy_config_errors(tmp_path, capsys, text, message):
    path = tmp_path / "c.json"
    path.write_text(text)
    assert (
        main(
            [
                "train",
                "--config",
                str(path),
                "--data",
                TRAIN,
                "--output",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_linear_policy_trains_resumes_and_warns(tmp_path, capsys):
    """The default policy in a run, its resolved counts in config.json, and
    a resumed run with the rates of an unbroken one."""
    straight, part = tmp_path / "straight", tmp_path / "part"
    assert (
        main(tiny_argv(straight, "--n-epochs", "1", "--n-epochs-decay", "2", epochs=3))
        == 0
    )
    assert capsys.readouterr().err == ""
    rates = [2e-4, 2e-4 * 2 / 3, 2e-4 / 3]  # 1 - max(0, e + 1 - 1) / 3
    for key in ("g_lr", "d_lr"):
        np.testing.assert_allclose(
            column(straight / "metrics.csv", key), rates, rtol=1e-6
        )

    # Defaults for 1 epoch: n_epochs 1, n_epochs_decay 0, saved as such.
    assert main(tiny_argv(part)) == 0
    with open(part / "config.json") as f:
        config = json.load(f)
    assert (
        config["lr_policy"],
        config["n_epochs"],
        config["n_epochs_decay"],
        config["lr_halving_every"],
    ) == ("linear", 1, 0, None)
    capsys.readouterr()
    # Resuming to 3 epochs keeps the run's counts: a warning names them...
    resume = ["train", "--resume", str(part), "--epochs", "3", "--verbose", "0"]
    assert main(resume + ["--lr-policy", "halving"]) == 2
    assert "--lr-policy cannot change when resuming" in (capsys.readouterr().err)
    assert main(resume + ["--n-epochs-decay", "2"]) == 0
    err = capsys.readouterr().err
    assert "warning" not in err
    np.testing.assert_allclose(column(part / "metrics.csv", "g_lr"), rates, rtol=1e-6)
    with open(part / "config.json") as f:
        assert json.load(f)["n_epochs_decay"] == 2


def test_resume_without_decay_flags_warns(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_argv(run)) == 0
    capsys.readouterr()
    # Interrupt-free check of the warning only: --epochs 2 trains 1 epoch.
    assert main(["train", "--resume", str(run), "--epochs", "2", "--verbose", "0"]) == 0
    err = capsys.readouterr().err
    assert (
        "pix2pix train: warning: --n-epochs 1 + --n-epochs-decay 0 = 1 "
        "epochs is shorter than the run (--epochs 2): the rates are 0 from "
        "epoch 2 on, so the last 1 epoch(s) learn nothing; set "
        "--n-epochs-decay 1"
    ) in err
    assert "UserWarning" not in err  # said once, naming the flags
    np.testing.assert_allclose(
        column(run / "metrics.csv", "g_lr"), [2e-4, 0.0], rtol=1e-6, atol=0
    )


def test_config_of_an_earlier_version_keeps_its_halving(tmp_path):
    """A run folder without `lr_policy` (written before it existed) resumes
    with halving, or constant for lr_halving_every 0."""
    for every, policy in ((10, "halving"), (0, "constant")):
        config = cli.default_config()
        del config["lr_policy"], config["n_epochs"], config["n_epochs_decay"]
        config.update(data=TRAIN, lr_halving_every=every)
        cli._infer_lr_policy(config, set(config))
        config = cli.check_config({**cli.default_config(), **config})
        assert config["lr_policy"] == policy


def test_unreadable_training_image_is_a_runtime_failure(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for name in sorted(os.listdir(TRAIN))[:4]:
        shutil.copy(os.path.join(TRAIN, name), data)
    bad = data / sorted(os.listdir(data))[0]
    bad.write_bytes(bad.read_bytes()[:200])
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--output",
                str(out),
                "--image-size",
                "32",
                "--filters",
                "8",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("pix2pix train: error: ValueError: ")
    assert f"{bad}: " in err
    assert not out.exists()


def test_plot_training_curves(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "epoch,d_lr,g_loss,g_lr,val_g_loss,val_psnr\n"
        "0,2e-4,30.0,2e-4,31.0,12.0\n"
        "1,1e-4,20.0,1e-4,22.0,13.0\n"
    )
    png = tmp_path / "curves.png"
    titles = cli.plot_training_curves(path, png)
    assert titles == ["g_loss", "learning rate", "psnr (validation)"]
    assert Image.open(png).size == (1200, 300)


# ----------------------------------------------------------------------
# predict, evaluate, export


def write_png(path, array):
    Image.fromarray(np.asarray(array, "uint8")).save(path)


def test_predict_folder_and_file(run4, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    labels = sorted(f for f in os.listdir(VAL) if f.endswith(".png"))[:2]
    for name in labels:
        shutil.copy(os.path.join(VAL, name), inputs)  # 256×256 label maps
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (32, 32, 3))
    write_png(inputs / "small.png", small)
    write_png(inputs / "wide.png", rng.integers(0, 256, (40, 48, 3)))
    out = tmp_path / "out"
    assert main(["predict", run4, str(inputs), str(out)]) == 0
    captured = capsys.readouterr()
    assert "4/4" in captured.out  # the progress bar
    assert f"Wrote 4 image(s) to {out}" in captured.out
    assert sorted(os.listdir(out)) == sorted(labels + ["small.png", "wide.png"])
    for name in os.listdir(out):
        with Image.open(inputs / name) as source, Image.open(out / name) as y:
            assert y.size == source.size and y.mode == "RGB"

    # At the model's own size there is no resizing: the output is the
    # model's prediction, rounded to 8 bits.
    model = pk.Pix2Pix.load(os.path.join(run4, "model.keras"))
    x = small[None].astype("float32") / 127.5 - 1.0
    expected = (np.asarray(model.predict(x, verbose=0))[0] + 1.0) * 127.5
    got = np.asarray(Image.open(out / "small.png"), "float32")
    assert np.abs(got - expected).max() <= 0.5 + 1e-3

    assert main(["predict", run4, str(inputs), str(out)]) == 2
    assert "output file(s) exist already" in capsys.readouterr().err
    assert (
        main(["predict", run4, str(inputs), str(out), "--overwrite", "--verbose", "0"])
        == 0
    )

    single = tmp_path / "single"
    assert (
        main(
            [
                "predict",
                os.path.join(run4, "model.keras"),
                str(inputs / "wide.png"),
                str(single),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    assert os.listdir(single) == ["wide.png"]
    assert Image.open(single / "wide.png").size == (48, 40)


def test_predict_bad_images(run4, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_png(inputs / "a.png", np.zeros((32, 32, 3)))
    write_png(inputs / "c.png", np.zeros((32, 32, 3)))
    good = (inputs / "a.png").read_bytes()
    (inputs / "b.png").write_bytes(good[: len(good) // 2])  # truncated
    out = tmp_path / "out"
    assert main(["predict", run4, str(inputs), str(out)]) == 1
    err = capsys.readouterr().err
    assert "1 unreadable image(s); nothing was written" in err
    assert f"{inputs / 'b.png'}: truncated PNG" in err
    assert os.listdir(out) == []

    assert (
        main(["predict", run4, str(inputs), str(out), "--skip-bad", "--verbose", "0"])
        == 0
    )
    assert sorted(os.listdir(out)) == ["a.png", "c.png"]
    assert "skipped 1 unreadable image(s)" in capsys.readouterr().err

    (inputs / "a.jpg").write_bytes(b"")
    assert main(["predict", run4, str(inputs), str(tmp_path / "o2")]) == 2
    assert "a.png from a.jpg, a.png: select one kind with --glob" in (
        capsys.readouterr().err
    )
    assert (
        main(
            [
                "predict",
                str(tmp_path / "nope.keras"),
                str(inputs),
                str(tmp_path / "o3"),
                "--glob",
                "*.png",
            ]
        )
        == 2
    )
    assert "no such model file" in capsys.readouterr().err


def test_predict_tile(run4, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, (70, 93, 3))
    write_png(inputs / "big.png", big)
    write_png(inputs / "tiny.png", rng.integers(0, 256, (20, 9, 3)))
    out = tmp_path / "out"
    assert (
        main(
            [
                "predict",
                run4,
                str(inputs),
                str(out),
                "--tile",
                "--overlap",
                "8",
                "--batch-size",
                "4",
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    for name, (h, w) in (("big.png", (70, 93)), ("tiny.png", (20, 9))):
        with Image.open(out / name) as y:
            assert y.size == (w, h) and y.mode == "RGB"
    # No resizing: the output is pk.translate_tiled at full resolution,
    # rounded to 8 bits.
    model = pk.Pix2Pix.load(os.path.join(run4, "model.keras"))
    x = big.astype("float32") / 127.5 - 1.0
    expected = (pk.translate_tiled(model, x, overlap=8) + 1.0) * 127.5
    got = np.asarray(Image.open(out / "big.png"), "float32")
    assert np.abs(got - expected).max() <= 0.5 + 1e-3

    for flags, message in (
        (["--overlap", "8"], "--overlap needs --tile"),
        (["--tile", "--overlap", "32"], "`overlap` must be >= 0 and"),
        (["--tile", "--tile-size", "0"], "--tile-size must be >= 1"),
    ):
        assert main(["predict", run4, str(inputs), str(tmp_path / "o2")] + flags) == 2
        assert message in capsys.readouterr().err


def test_evaluate(run4, tmp_path, capsys):
    assert main(["evaluate", run4, "--verbose", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report) == ["data", "l1", "model", "num_images", "psnr", "ssim"]
    assert report["num_images"] == 6
    assert report["data"] == VAL  # the run's validation folder
    model = pk.Pix2Pix.load(os.path.join(run4, "model.keras"))
    direct = pk.evaluate(
        model,
        pk.load_paired_dataset(VAL, direction="BtoA", image_size=32, training=False),
    )
    for key in ("l1", "psnr", "ssim"):
        assert report[key] == pytest.approx(direct[key], rel=1e-5)

    out = tmp_path / "report"
    assert (
        main(
            [
                "evaluate",
                os.path.join(run4, "model.keras"),
                VAL,
                "--direction",
                "BtoA",
                "--batch-size",
                "3",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "2/2" in captured.err  # progress on stderr, JSON on stdout
    assert json.loads(captured.out)["l1"] == pytest.approx(direct["l1"], rel=1e-5)
    assert sorted(os.listdir(out)) == ["best_worst.png", "report.json"]

    assert main(["evaluate", os.path.join(run4, "model.keras")]) == 2
    assert "evaluate needs a data folder" in capsys.readouterr().err


def test_export(run4, tmp_path, capsys):
    out = tmp_path / "exported"
    assert main(["export", run4, str(out)]) == 0
    assert f"Exported the generator to {out}" in capsys.readouterr().out
    served = tf.saved_model.load(str(out))
    model = pk.Pix2Pix.load(os.path.join(run4, "model.keras"))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(served.serve(x)), model.predict(x, verbose=0), atol=1e-5
    )

    assert main(["export", run4, str(out)]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    assert main(["predict", str(out), str(tmp_path), str(tmp_path / "p")]) == 2
    assert "is a SavedModel export" in capsys.readouterr().err


# ----------------------------------------------------------------------
# datasets


def test_datasets_list(capsys):
    assert main(["datasets", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = list(pk.datasets.list_datasets())
    assert lines[0].split() == ["name", "size", "direction", "splits"]
    assert [line.split()[0] for line in lines[1:]] == names
    assert lines[1].split()[-2:] == ["BtoA", "train,val,test"]
    assert main(["datasets", "list", "--json"]) == 0
    registry = json.loads(capsys.readouterr().out)
    assert list(registry) == names
    assert registry["maps"]["direction"] == "AtoB"


def test_datasets_download_from_a_local_archive(tmp_path, capsys):
    tree = tmp_path / "tree" / "facades"
    for split in ("train", "val"):
        (tree / split).mkdir(parents=True)
        write_png(tree / split / "1.png", np.zeros((32, 64, 3)))
    archive = tmp_path / "facades.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="facades")
    cache = tmp_path / "cache"
    argv = [
        "datasets",
        "download",
        "facades",
        "--directory",
        str(cache),
        "--origin",
        f"file://{archive}",
    ]
    assert main(argv) == 0
    root = capsys.readouterr().out.splitlines()[-1]
    assert root == str(cache / "pix2pix" / "facades_extracted" / "facades")
    assert sorted(os.listdir(root)) == ["train", "val"]
    assert main(argv) == 0  # cached: same folder, nothing fetched again
    assert capsys.readouterr().out.splitlines() == [root]

    assert main(["datasets", "download", "faces"]) == 2
    assert "unknown dataset 'faces'; available: facades, cityscapes" in (
        capsys.readouterr().err
    )
    assert (
        main(
            [
                "datasets",
                "download",
                "maps",
                "--directory",
                str(cache),
                "--origin",
                f"file://{tmp_path}/missing.tar.gz",
            ]
        )
        == 1
    )
    assert "missing.tar.gz" in capsys.readouterr().err


def test_docs_page_lists_every_command_and_key():
    with open(os.path.join(ROOT, "docs", "cli.md")) as f:
        page = f.read()
    assert "```python" not in page
    for command in (
        "train",
        "evaluate",
        "predict",
        "export",
        "datasets list",
        "datasets download",
    ):
        assert f"pix2pix {command}" in page, command
    for option in cli.TRAIN_OPTIONS:
        assert f"| `{option.name}` |" in page, option.name
