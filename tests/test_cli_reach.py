"""`pix2pix train` flags that reach the library: generator options, loss
terms, the λ schedule, diagnostics, float16 with loss scaling and the
`tf.distribute` strategy, each checked for its effect at a tiny size
(32×32, 8 filters, 2 steps)."""

import json
import math
import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from pix2pix_keras import cli
from pix2pix_keras.callbacks.run import RunDiagnostics
from pix2pix_keras.cli import main
from pix2pix_keras.cli import train as train_lib
from pix2pix_keras.models.blocks import dtype_policy_scope
from pix2pix_keras.models.training import replica_scaled
from tests.test_cli_options import TINY
from tests.test_cli_options import TRAIN
from tests.test_cli_options import tiny_argv


def _config(**extra):
    return cli.check_config({**cli.default_config(), **TINY, "data": TRAIN, **extra})


def _rows(run):
    with open(os.path.join(run, "metrics.csv")) as f:
        lines = [line.strip().split(",") for line in f]
    header = lines[0]
    return [
        {k: float(v) for k, v in zip(header, row) if v != "NA"} for row in lines[1:]
    ]


def _count(network):
    return int(sum(np.prod(w.shape) for w in network.weights))


# ----------------------------------------------------------------------
# Defaults: configs of earlier versions keep their meaning.


NEW_KEYS = {
    "resnet_downsampling": 2,
    "depth": None,
    "attention": False,
    "residual_blocks": 0,
    "reconstruction": "l1",
    "lambda_vgg": 0.0,
    "lambda_fm": 0.0,
    "lambda_end": None,
    "lambda_start_epoch": None,
    "lambda_end_epoch": None,
    "strategy": "none",
    "diagnostics": False,
    "diagnostics_window": 50,
}


def test_new_keys_default_to_the_earlier_behaviour(tmp_path):
    defaults = cli.default_config()
    assert {k: defaults[k] for k in NEW_KEYS} == NEW_KEYS
    # A config file of an earlier version (none of the new keys) loads and
    # builds exactly the networks and losses it built before.
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**TINY, "data": TRAIN}))
    config = cli.check_config(
        {**cli.default_config(), **cli.read_config_file(str(old))}
    )
    model = train_lib._build_model(config)
    reference = pk.UNetGenerator(image_size=32, filters=8)
    assert type(model.generator) is pk.UNetGenerator
    assert model.generator.get_config() == {
        **reference.get_config(),
        "name": model.generator.name,
    }
    assert _count(model.generator) == _count(reference)
    assert (
        model.reconstruction,
        model.perceptual_weight,
        model.feature_matching_weight,
    ) == ("l1", 0.0, 0.0)
    assert type(model.g_optimizer) is keras.optimizers.Adam
    callbacks = train_lib._callbacks(config, str(tmp_path), None)
    assert not any(
        isinstance(c, (pk.LambdaSchedule, pk.Diagnostics)) for c in callbacks
    )
    assert train_lib.make_strategy(config) is None


# ----------------------------------------------------------------------
# Generator


@pytest.mark.parametrize(
    "extra, kind, library",
    [
        ({"attention": True}, pk.UNetGenerator, dict(attention=True)),
        ({"residual_blocks": 1}, pk.UNetGenerator, dict(residual_blocks=1)),
        ({"depth": 3, "dropout": 0.0}, pk.UNetGenerator, dict(depth=3, dropout=0.0)),
        (
            {
                "generator": "resnet",
                "resnet_blocks": 2,
                "resnet_downsampling": 1,
                "norm": "instance",
            },
            pk.ResnetGenerator,
            dict(n_blocks=2, n_downsampling=1, norm="instance", dropout=0.5),
        ),
    ],
    ids=["attention-unet", "residual-unet", "depth", "resnet"],
)
def test_generator_options_build_the_library_network(extra, kind, library):
    config = _config(**extra)
    model = train_lib._build_model(config)
    generator = model.generator
    assert type(generator) is kind
    library.setdefault("norm", "batch")
    library.setdefault("dropout", 0.5)
    reference = kind(image_size=32, filters=8, **library)
    assert _count(generator) == _count(reference)
    assert _count(generator) != _count(
        train_lib._build_model(_config(generator=config["generator"])).generator
    )
    for key, value in library.items():
        assert generator.get_config()[key] == value, key
    if extra.get("attention"):
        assert any(layer.name.endswith("_att0_coef") for layer in generator.layers)


def test_attention_unet_trains_through_the_cli(tmp_path):
    run = tmp_path / "run"
    assert (
        main(tiny_argv(run, "--attention", "--residual-blocks", "1", "--depth", "4"))
        == 0
    )
    model = pk.Pix2Pix.load(str(run / "model.keras"))
    config = model.generator.get_config()
    assert (config["attention"], config["residual_blocks"], config["depth"]) == (
        True,
        1,
        4,
    )
    saved = json.loads((run / "config.json").read_text())
    assert (saved["attention"], saved["residual_blocks"], saved["depth"]) == (
        True,
        1,
        4,
    )
    assert all(math.isfinite(v) for v in _rows(str(run))[0].values())


@pytest.mark.parametrize(
    "argv, said",
    [
        (
            ["--generator", "resnet", "--attention"],
            "`attention` (--attention) is a setting of the unet generator",
        ),
        (
            ["--generator", "resnet", "--residual-blocks", "2"],
            "`residual_blocks` (--residual-blocks 2) is a setting of the unet",
        ),
        (
            ["--resnet-downsampling", "3"],
            "`resnet_downsampling` (--resnet-downsampling 3) is a setting of the "
            "resnet generator",
        ),
        (
            ["--depth", "6"],
            "with depth 6: its sides must be divisible by 2**depth = 64",
        ),
        (["--depth", "1"], "`depth` must be an int >= 2 or null. Received: depth=1"),
        (["--residual-blocks", "-1"], "`residual_blocks` must be an int >= 0"),
        (
            ["--generator", "resnet", "--resnet-downsampling", "5"],
            "must be divisible by 2**resnet_downsampling = 32 and leave at least "
            "2 pixels",
        ),
    ],
    ids=[
        "attention-resnet",
        "residual-resnet",
        "downsampling-unet",
        "depth-size",
        "depth-low",
        "residual-negative",
        "downsampling-size",
    ],
)
def test_generator_keys_are_validated(tmp_path, capsys, argv, said):
    assert main(tiny_argv(tmp_path / "run", *argv)) == 2
    assert said in capsys.readouterr().err


def test_generator_keys_in_a_config_file(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("attention: yes please\n")
    assert main(tiny_argv(tmp_path / "run", "--config", str(path))) == 2
    err = capsys.readouterr().err
    assert "c.yaml: `attention` must be true or false" in err
    assert "'yes please'" in err


# ----------------------------------------------------------------------
# Loss terms


def test_loss_terms_reach_compile_and_the_logs(tmp_path, monkeypatch):
    # Random VGG19 weights: no ImageNet download in the tests.
    monkeypatch.setattr(
        train_lib,
        "_perceptual_loss",
        lambda config: (
            pk.VGGPerceptualLoss(weights=None) if config["lambda_vgg"] > 0 else None
        ),
    )
    run = tmp_path / "run"
    assert (
        main(
            tiny_argv(
                run,
                "--reconstruction",
                "l2",
                "--lambda-l1",
                "10",
                "--lambda-fm",
                "2",
                "--lambda-vgg",
                "0.5",
            )
        )
        == 0
    )
    model = pk.Pix2Pix.load(str(run / "model.keras"))
    assert (
        model.reconstruction,
        model.lambda_l1,
        model.perceptual_weight,
        model.feature_matching_weight,
    ) == ("l2", 10.0, 0.5, 2.0)
    row = _rows(str(run))[0]
    for key in ("g_l2", "g_vgg", "g_fm"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    # The epoch means add up as the generator's loss does (λ weighs L2).
    total = row["g_gan"] + 10 * row["g_l2"] + 0.5 * row["g_vgg"] + 2 * row["g_fm"]
    assert row["g_loss"] == pytest.approx(total, rel=1e-5)
    # Without the flags: no such terms, and g_loss = g_gan + 100·g_l1.
    plain = tmp_path / "plain"
    assert main(tiny_argv(plain)) == 0
    row = _rows(str(plain))[0]
    assert not {"g_l2", "g_vgg", "g_fm"} & set(row)
    assert row["g_loss"] == pytest.approx(row["g_gan"] + 100 * row["g_l1"], rel=1e-5)


@pytest.mark.parametrize(
    "argv, said",
    [
        (["--reconstruction", "l3"], "invalid choice: 'l3'"),
        (
            ["--lambda-fm", "-1"],
            "`lambda_fm` must be a number >= 0.0. Received: lambda_fm=-1.0",
        ),
        (["--lambda-vgg", "nan"], "`lambda_vgg` must be a number >= 0.0"),
    ],
)
def test_loss_keys_are_validated(tmp_path, capsys, argv, said):
    assert main(tiny_argv(tmp_path / "run", *argv)) == 2
    assert said in capsys.readouterr().err


# ----------------------------------------------------------------------
# λ schedule


def test_lambda_schedule_moves_the_logged_weight(tmp_path):
    run = tmp_path / "run"
    argv = tiny_argv(run, "--lambda-end", "10", "--lambda-end-epoch", "2")
    argv[argv.index("--epochs") + 1] = "3"
    assert main(argv) == 0
    rows = _rows(str(run))
    assert [r["lambda_l1"] for r in rows] == [100.0, 55.0, 10.0]
    saved = json.loads((run / "config.json").read_text())
    assert (
        saved["lambda_end"],
        saved["lambda_start_epoch"],
        saved["lambda_end_epoch"],
    ) == (10.0, 0, 2)
    config = _config(lambda_end=1.0, lambda_start_epoch=1, epochs=5)
    assert config["lambda_end_epoch"] == 5  # null: the last epoch
    schedule = [
        c
        for c in train_lib._callbacks(config, str(tmp_path), None)
        if isinstance(c, pk.LambdaSchedule)
    ]
    assert len(schedule) == 1
    assert (
        schedule[0].end,
        schedule[0].start_epoch,
        schedule[0].end_epoch,
        schedule[0].start,
    ) == (1.0, 1, 5, None)


@pytest.mark.parametrize(
    "argv, said",
    [
        (
            ["--lambda-start-epoch", "1"],
            "`lambda_start_epoch` "
            "(--lambda-start-epoch 1) is a setting of the lambda schedule, which "
            "is off: set `lambda_end`",
        ),
        (
            [
                "--lambda-end",
                "1",
                "--lambda-start-epoch",
                "3",
                "--lambda-end-epoch",
                "2",
            ],
            "`lambda_end_epoch` must be greater than "
            "`lambda_start_epoch` (3); null takes `epochs`. Received: "
            "lambda_end_epoch=2",
        ),
        (["--lambda-end", "-2"], "`lambda_end` must be a number >= 0.0 or null"),
        (
            ["--lambda-end", "1", "--lambda-end-epoch", "0"],
            "`lambda_end_epoch` must be an int >= 1 or null",
        ),
    ],
)
def test_lambda_schedule_keys_are_validated(tmp_path, capsys, argv, said):
    assert main(tiny_argv(tmp_path / "run", *argv)) == 2
    assert said in capsys.readouterr().err


# ----------------------------------------------------------------------
# Diagnostics


def test_diagnostics_callback_logs_its_column(tmp_path):
    run = tmp_path / "run"
    assert main(tiny_argv(run, "--diagnostics", "--diagnostics-window", "4")) == 0
    row = _rows(str(run))[0]
    assert "diagnostics" in row and row["diagnostics"] >= 0
    lines = []
    if (run / "diagnostics.jsonl").exists():
        lines = (run / "diagnostics.jsonl").read_text().splitlines()
    assert len(lines) == row["diagnostics"]
    config = _config(diagnostics=True, diagnostics_window=7)
    found = [
        c
        for c in train_lib._callbacks(config, str(tmp_path), None, verbose=0)
        if isinstance(c, pk.Diagnostics)
    ]
    assert len(found) == 1 and found[0].window == 7
    assert found[0].verbose == 0
    assert main(tiny_argv(tmp_path / "bad", "--diagnostics-window", "3")) == 2


def test_run_diagnostics_writes_the_findings_of_each_epoch(tmp_path):
    path = tmp_path / "d" / "diagnostics.jsonl"
    callback = RunDiagnostics(str(path), verbose=0)
    callback.set_model(types.SimpleNamespace(stop_training=False))
    callback.on_train_begin()
    for epoch, g_loss in enumerate([1.0, float("nan"), 2.0]):
        callback.on_epoch_begin(epoch)
        logs = {"g_loss": g_loss, "d_loss": 0.5, "g_l1": 0.3}
        callback.on_epoch_end(epoch, logs)
        assert logs["diagnostics"] == (1.0 if epoch == 1 else 0.0)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [f["row"] for f in lines] == ["non_finite"]
    assert lines[0]["epoch"] == 1


# ----------------------------------------------------------------------
# float16 with loss scaling


class _ReferenceStep(pk.Pix2Pix):
    """`gan_step` as it was before loss scaling (replica scaling only)."""

    def gan_step(self, source, target, update_d=True, checks=None):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(source, training=True)
            real_view = self._discriminate(source, target, True)
            fake_view = self._discriminate(source, fake, True)
            values = self.generator_loss(source, target, fake, fake_view, real_view)
            values.update(self.discriminator_loss(real_view, fake_view))
            g_loss = replica_scaled(values["g_loss"])
            d_loss = replica_scaled(values["d_loss"])
        updates = {
            "g": self.generator_updates(g_tape, g_loss),
            "d": self.discriminator_updates(d_tape, d_loss),
        }
        self.apply_updates(updates, values, checks)
        values["d_updated"] = tf.constant(1.0)
        return values


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_float32_and_bf16_steps_are_bit_identical_to_before(policy):
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3))
    x = x.astype("float32")
    weights = []
    for cls in (pk.Pix2Pix, _ReferenceStep):
        keras.utils.set_random_seed(1)
        with dtype_policy_scope(policy):
            model = cls(
                generator=pk.UNetGenerator(image_size=32, filters=8, dropout=0.0),
                discriminator=pk.PatchDiscriminator(
                    image_size=32, filters=8, n_layers=2
                ),
                image_size=32,
            )
        model.compile()
        assert type(model.g_optimizer) is keras.optimizers.Adam
        model.fit(x, x[:, ::-1], batch_size=2, epochs=2, verbose=0, shuffle=False)
        weights.append([w.numpy() for w in model.weights])
    assert len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_float16_run_scales_the_losses_of_both_optimizers(tmp_path):
    run = tmp_path / "run"
    assert main(tiny_argv(run, "--mixed-precision", "float16")) == 0
    assert keras.config.dtype_policy().name == "float32"  # restored
    rows = _rows(str(run))
    for key in ("g_loss", "g_l1", "g_gan", "d_loss"):
        assert math.isfinite(rows[0][key]) and rows[0][key] > 0, key
    model = pk.Pix2Pix.load(str(run / "model.keras"))
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(optimizer.inner_optimizer, keras.optimizers.Adam)
        # 2 steps applied (no overflow at the tiny size), scale unchanged.
        assert int(optimizer.iterations) == 2
        assert float(optimizer.dynamic_scale) == 2.0**15
    convs = [
        layer
        for layer in model.generator._flatten_layers()
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert {layer.compute_dtype for layer in convs} >= {"float16"}
    assert {v.dtype for v in model.generator.weights} == {"float32"}
    y = model.generator(np.zeros((1, 32, 32, 3), "float32"))
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    logits = model.discriminator([np.zeros((1, 32, 32, 3), "float32")] * 2)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_loss_scale_overflow_is_skipped_not_stopped():
    """An overflowing loss scale gives non-finite float16 gradients: the
    LossScaleOptimizer skips the update and halves its scale; the step
    guard (on_nonfinite="stop") does not stop training for it."""
    with dtype_policy_scope("mixed_float16"):
        model = pk.Pix2Pix(
            generator=pk.UNetGenerator(image_size=32, filters=8),
            discriminator=pk.PatchDiscriminator(image_size=32, filters=8, n_layers=2),
            image_size=32,
        )

    def huge():
        return keras.optimizers.LossScaleOptimizer(
            keras.optimizers.Adam(2e-4), initial_scale=2.0**100
        )

    model.compile(g_optimizer=huge(), d_optimizer=huge())
    before = [w.numpy() for w in model.generator.trainable_weights]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3))
    history = model.fit(
        x.astype("float32"), x.astype("float32"), batch_size=2, epochs=1, verbose=0
    )
    assert math.isfinite(history.history["g_loss"][0])
    assert float(model.g_optimizer.dynamic_scale) == 2.0**99
    assert int(model.g_optimizer.iterations) == 0  # the update was skipped
    for a, w in zip(before, model.generator.trainable_weights):
        np.testing.assert_array_equal(a, w.numpy())
    # Under float16 compile() wraps plain optimizers itself, as Keras does.
    model.compile()
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)


# ----------------------------------------------------------------------
# tf.distribute strategy


def test_mirrored_strategy_trains_as_without_one(tmp_path):
    runs = {}
    for strategy in ("none", "mirrored"):
        run = tmp_path / strategy
        assert main(tiny_argv(run, "--strategy", strategy, "--dropout", "0")) == 0
        runs[strategy] = run
    plain, mirrored = (_rows(str(runs[s]))[0] for s in ("none", "mirrored"))
    assert set(plain) == set(mirrored)
    for key, value in plain.items():
        assert mirrored[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    a = pk.Pix2Pix.load(str(runs["none"] / "model.keras"))
    b = pk.Pix2Pix.load(str(runs["mirrored"] / "model.keras"))
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_allclose(u.numpy(), v.numpy(), atol=1e-5)
    config = json.loads((runs["mirrored"] / "config.json").read_text())
    assert config["strategy"] == "mirrored"


def test_mirrored_strategy_builds_under_its_scope():
    config = _config(strategy="mirrored")
    strategy = train_lib.make_strategy(config)
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    with strategy.scope():
        model = train_lib._build_model(config)
    assert model.distribute_strategy is strategy
    assert strategy.num_replicas_in_sync == 1  # the CPU


@pytest.mark.parametrize(
    "value, said",
    [
        (None, "it is not set"),
        ("{not json", "it is not valid JSON"),
        ('{"cluster": {}}', "it has no `cluster` or no `task`"),
    ],
)
def test_multiworker_needs_tf_config(tmp_path, capsys, monkeypatch, value, said):
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    assert main(tiny_argv(tmp_path / "run", "--strategy", "multiworker")) == 2
    err = capsys.readouterr().err
    assert "--strategy multiworker needs the TF_CONFIG environment" in err
    assert said in err
    assert not (tmp_path / "run").exists()


def test_strategy_is_validated(tmp_path, capsys):
    assert main(tiny_argv(tmp_path / "run", "--strategy", "tpu")) == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"strategy": "Mirrored"}))
    assert main(tiny_argv(tmp_path / "run", "--config", str(path))) == 2
    assert (
        "`strategy` must be one of 'none', 'mirrored', 'multiworker'. "
        "Received: strategy='Mirrored'"
    ) in capsys.readouterr().err


# ----------------------------------------------------------------------
# The reference table of docs/cli.md


def test_docs_table_matches_the_option_table():
    from pix2pix_keras.cli import reference

    path = os.path.join(os.path.dirname(__file__), "..", "docs", "cli.md")
    with open(path, encoding="utf-8") as f:
        page = f.read()
    # Regenerate with `python -m pix2pix_keras.cli.reference docs/cli.md`.
    assert reference.page_table(page) == reference.train_options_table()
    for option in cli.TRAIN_OPTIONS:  # one row each, in one table
        assert page.count(f"| `{option.name}` |") == 1, option.name
    rows = reference.train_options_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [
        f"| `{o.name}`" for o in cli.TRAIN_OPTIONS
    ]
    assert (
        "| `strategy` | `--strategy` | `none` | `none`, `mirrored`, "
        "`multiworker` |" in page
    )
