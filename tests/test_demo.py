import json

import keras
import matplotlib.image
import numpy as np

from pix2pix_keras import demo


def test_demo_fast_writes_grid_metrics_and_model(tmp_path, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--output", str(out), "--fast"]) == 0
    printed = capsys.readouterr().out
    for name in ("samples_latest.png", "metrics.json", "model.keras"):
        assert str(out / name) in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["image_size"] == 64 and metrics["epochs"] == 1
    assert metrics["train_steps"] == 24 and metrics["train_pairs"] == 24
    assert set(metrics["final"]) >= {
        "g_loss", "g_gan", "g_l1", "d_loss", "d_real", "d_fake",
        "val_g_l1", "val_psnr", "val_ssim", "g_lr", "d_lr"}
    assert all(len(v) == 1 for v in metrics["history"].values())
    assert 0.0 < metrics["final"]["val_g_l1"] < 2.0
    png = matplotlib.image.imread(out / "samples_latest.png")
    assert png.shape[:2] == (6 * 64 + 5 * 2, 3 * 64 + 2 * 2)
    model = keras.saving.load_model(out / "model.keras")
    assert int(model.g_optimizer.iterations) == 24
    assert int(model.d_optimizer.iterations) == 24
    y = model.predict(np.zeros((1, 64, 64, 3), "float32"), verbose=0)
    assert y.shape == (1, 64, 64, 3)
