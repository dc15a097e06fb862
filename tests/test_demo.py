import json

import keras
import matplotlib.image
import numpy as np
import pytest

from pix2pix_keras import cli
from pix2pix_keras import demo


def test_demo_is_a_train_run_with_metrics(tmp_path, capsys):
    out = tmp_path / "demo"
    # `pix2pix demo`, through the command line's entry point.
    assert cli.main(["demo", "--output", str(out), "--fast", "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    for name in (
        "samples_latest.png",
        "metrics.json",
        "model.keras",
        "training_curves.png",
    ):
        assert name in printed
    # The run folder of `pix2pix train`.
    for name in (
        "config.json",
        "metrics.csv",
        "training_curves.png",
        "samples",
        "checkpoints",
        "tensorboard",
        "model.keras",
    ):
        assert (out / name).exists(), name
    config = json.loads((out / "config.json").read_text())
    assert config["image_size"] == 64 and config["epochs"] == 1
    assert config["direction"] == "BtoA" and config["num_samples"] == 6
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["demo"] is True
    assert metrics["settings"]["image_size"] == 64
    assert metrics["train_pairs"] == 24 and metrics["val_pairs"] == 6
    assert metrics["train_steps"] == 24
    assert metrics["compute_dtype"] == "float32"
    assert metrics["command"].startswith("pix2pix train --data ")
    assert "--image-size 64" in metrics["command"]
    assert str(tmp_path) in metrics["command"]  # the output folder as given
    assert 0.0 < metrics["val"]["l1"] < 2.0
    assert 0.0 < metrics["val"]["psnr"] < 60.0
    assert -1.0 < metrics["val"]["ssim"] < 1.0
    png = matplotlib.image.imread(out / "samples" / "samples_latest.png")
    assert png.shape[:2] == (6 * 64 + 5 * 2, 3 * 64 + 2 * 2)
    model = keras.saving.load_model(out / "model.keras")
    assert int(model.g_optimizer.iterations) == 24
    y = model.predict(np.zeros((1, 64, 64, 3), "float32"), verbose=0)
    assert y.shape == (1, 64, 64, 3)
    # The scores are those of `evaluate` on the bundled val pairs.
    import pix2pix_keras as pk

    val = pk.load_paired_dataset(
        pk.sample_data_dir("val"), training=False, direction="BtoA", image_size=64
    )
    assert pk.evaluate(model, val)["l1"] == pytest.approx(
        metrics["val"]["l1"], abs=1e-4
    )

    # A later demo replaces this one (see below).
    demo._clear_previous_demo(str(out))
    assert not out.exists()


def test_an_earlier_demo_is_replaced_and_other_folders_refused(tmp_path):
    earlier = tmp_path / "demo"
    (earlier / "samples").mkdir(parents=True)
    (earlier / "metrics.json").write_text(json.dumps({"demo": True}))
    demo._clear_previous_demo(str(earlier))
    assert not earlier.exists()
    demo._clear_previous_demo(str(tmp_path / "missing"))  # nothing to do
    for name, text in (
        ("other", None),
        ("not_demo", '{"demo": false}'),
        ("broken", "{"),
    ):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "keep.txt").write_text("x")
        if text is not None:
            (folder / "metrics.json").write_text(text)
        with pytest.raises(SystemExit, match="does not hold an earlier demo"):
            demo._clear_previous_demo(str(folder))
        assert (folder / "keep.txt").exists()


def test_demo_settings_are_train_flags():
    argv = demo.train_argv("runs/demo")
    assert argv[argv.index("--image-size") + 1] == "128"
    assert argv[argv.index("--epochs") + 1] == "20"
    assert argv[argv.index("--mixed-precision") + 1] == "auto"
    parsed = cli.build_parser().parse_args(["train", *argv])
    assert parsed.image_size == [128] or parsed.image_size == 128
