"""Bad inputs across the public API give errors that say what was expected.

One test per row of the table in docs/reliability.md: wrong rank, channel
count, size or dtype to predict / fit / call, values outside [-1, 1],
mismatched source and target batches, truncated, damaged or foreign
`.keras` files, configs with unknown keys, unknown compile arguments and
`safe_mode` refusing a lambda.
"""

import json
import re
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from pix2pix_keras import utils
from tests.conftest import tiny_arrays
from tests.conftest import tiny_pix2pix


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = tiny_pix2pix()
    m.compile()
    return m


@pytest.fixture(scope="module")
def saved(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model.save(path)
    return path


def _x(n=4):
    return tiny_arrays(n)[0]


def _untouched(model):
    return int(model.g_optimizer.iterations.numpy())


def _fit_refuses(error, message, *data, **fit_kw):
    """fit() of a fresh compiled model on `data` raises `error`, whose
    message contains `message`, before any training step. Returns it."""
    m = tiny_pix2pix()
    m.compile()
    with pytest.raises(error, match=re.escape(message)) as info:
        m.fit(*data, verbose=0, **fit_kw)
    assert _untouched(m) == 0
    return info.value


# ----------------------------------------------------------------------
# predict / call


def test_predict_single_image_without_batch_axis(model):
    with pytest.raises(ValueError) as info:
        model.predict(_x()[0], verbose=0)
    assert str(info.value) == (
        "predict(x) must be 4-D (batch, height, width, 3) with values in "
        "[-1, 1]. Received shape (32, 32, 3). For one image, add a batch "
        "axis (x[None])."
    )


def test_predict_rank_5(model):
    with pytest.raises(
        ValueError,
        match=r"must be 4-D .* Received shape "
        r"\(1, 4, 32, 32, 3\)\.$",
    ):
        model.predict(_x()[None], verbose=0)


def test_predict_wrong_channel_count(model):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "predict(x) must have 3 channel(s) (the generator's input). "
            "Received shape (4, 32, 32, 1)."
        ),
    ):
        model.predict(_x()[..., :1], verbose=0)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "bool"])
def test_predict_integer_or_bool_images(model, dtype):
    x = ((_x() + 1) * 127.5).astype(dtype)
    with pytest.raises(TypeError) as info:
        model.predict(x, verbose=0)
    assert str(info.value).startswith(
        f"predict(x) has dtype {dtype}; Pix2Pix takes float images in "
        "[-1, 1]. Convert 8-bit images with x.astype('float32') / 127.5 - 1"
    )


def test_predict_float64_is_accepted(model):
    x = _x()
    np.testing.assert_allclose(
        model.predict(x.astype("float64"), verbose=0),
        model.predict(x, verbose=0),
        atol=1e-6,
    )


def test_predict_values_outside_minus_one_one(model):
    x = (_x() + 1) * 127.5  # 0..255, float
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"predict(x) has values in [{x.min():.4g}, {x.max():.4g}]; "
            "Pix2Pix expects float images in [-1, 1]"
        ),
    ):
        model.predict(x, verbose=0)


def test_predict_values_outside_range_allowed_without_check_inputs():
    m = tiny_pix2pix()
    m.compile(check_inputs=False)
    assert m.predict(_x() * 1.5, verbose=0).shape == (4, 32, 32, 3)


def test_predict_nan_names_the_images(model):
    x = _x(6)
    x[4, 0, 0, 0] = np.nan
    x[1, 5, 5, 2] = np.inf
    with pytest.raises(
        ValueError,
        match=re.escape("predict(x): 2 image(s) contain NaN or Inf (indices [1, 4])."),
    ):
        model.predict(x, verbose=0)


def test_predict_size_not_divisible_by_the_unet(model):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "predict(x) has height and width (30, 30), but this "
            "UNetGenerator needs multiples of 32."
        ),
    ):
        model.predict(np.zeros((2, 30, 30, 3), "float32"), verbose=0)


def test_predict_dataset_of_integer_images(model):
    ds = tf.data.Dataset.from_tensor_slices(((_x() + 1) * 127.5).astype("uint8")).batch(
        2
    )
    with pytest.raises(
        TypeError,
        match=re.escape("predict(x): the dataset's source batch has dtype uint8"),
    ):
        model.predict(ds, verbose=0)


def test_predict_dataset_of_wrong_channels(model):
    ds = tf.data.Dataset.from_tensor_slices(_x()[..., :2]).batch(2)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "predict(x): the dataset's source batch must have 3 channel(s)"
        ),
    ):
        model.predict(ds, verbose=0)


def test_call_with_integer_tensor(model):
    with pytest.raises(TypeError, match="The source batch has dtype uint8"):
        model(tf.zeros((1, 32, 32, 3), tf.uint8))


def test_call_with_the_named_input_dict_is_accepted(model):
    x = _x()
    np.testing.assert_allclose(model({"image": x}), model(x), atol=1e-6)


def test_call_with_two_tensors(model):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The source batch must be one (batch, height, width, channels) "
            "tensor. Received a list of 2 element(s)."
        ),
    ):
        model([_x(), _x()])


# ----------------------------------------------------------------------
# fit


def test_fit_integer_source():
    x, y = tiny_arrays(4)
    _fit_refuses(
        TypeError,
        "The source batch has dtype uint8",
        ((x + 1) * 127.5).astype("uint8"),
        y,
        batch_size=2,
    )


def test_fit_integer_target():
    x, y = tiny_arrays(4)
    _fit_refuses(
        TypeError,
        "The target batch has dtype int32",
        x,
        y.astype("int32"),
        batch_size=2,
    )


def test_fit_rank_3_batches():
    x, y = tiny_arrays(4)
    _fit_refuses(
        ValueError,
        "Pix2Pix expects 4-D (batch, height, width, channels) source and "
        "target batches. Received shapes (2, 32, 3) and (2, 32, 3).",
        x[:, 0],
        y[:, 0],
        batch_size=2,
    )


def test_fit_wrong_channel_count():
    x, y = tiny_arrays(4)
    _fit_refuses(
        ValueError,
        "The generator maps 3 to 3 channels, but the batches have source "
        "(2, 32, 32, 3) and target (2, 32, 32, 1).",
        x,
        y[..., :1],
        batch_size=2,
    )


def test_fit_source_and_target_of_other_sizes():
    x, y = tiny_arrays(4)
    _fit_refuses(
        ValueError,
        "Source and target batches must have the same batch size, height "
        "and width. Received source (None, 32, 32, 3) and target "
        "(None, 16, 16, 3).",
        tf.data.Dataset.from_tensor_slices((x, y[:, :16, :16])).batch(2),
    )


def test_fit_source_and_target_batches_of_other_lengths():
    """Batch sizes known only at run time (a zip of two pipelines)."""
    x, y = tiny_arrays(6)
    ds = tf.data.Dataset.zip(
        (
            tf.data.Dataset.from_tensor_slices(x).batch(2),
            tf.data.Dataset.from_tensor_slices(y).batch(3),
        )
    )
    _fit_refuses(
        tf.errors.InvalidArgumentError,
        "Source and target batches must have the same batch size (source, target)",
        ds,
    )


def test_fit_values_outside_minus_one_one():
    x, y = tiny_arrays(4)
    start = (
        "Bad input batch at training step 0 (model.step_counter): the source "
        "batch has values up to |x| = "
    )
    error = _fit_refuses(
        ValueError,
        start,
        (x + 1) * 127.5,
        y,
        batch_size=2,
        shuffle=False,
    )
    assert str(error).startswith(start)
    assert "Pix2Pix expects float images in [-1, 1]" in str(error)


def test_fit_target_outside_range_at_a_later_step():
    m = tiny_pix2pix()
    m.compile(on_nonfinite="skip")  # out-of-range data stops even so
    x, y = tiny_arrays(8)
    y[6:8] *= 2.0  # batch 3
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Bad input batch at training step 3 (model.step_counter): the "
            "target batch has values up to |x| = "
        ),
    ):
        m.fit(x, y, batch_size=2, shuffle=False, verbose=0)
    assert _untouched(m) == 3


def test_fit_nan_target_is_non_finite_error():
    m = tiny_pix2pix()
    m.compile()
    x, y = tiny_arrays(4)
    y[0] = np.nan
    with pytest.raises(
        pk.models.pix2pix.NonFiniteError,
        match=re.escape(
            "Non-finite values at training step 0 (model.step_counter): the "
            "target batch contains NaN or Inf"
        ),
    ):
        m.fit(x, y, batch_size=2, shuffle=False, verbose=0)


# ----------------------------------------------------------------------
# .keras files


def test_truncated_file_with_load_model(tmp_path, saved):
    path = tmp_path / "truncated.keras"
    data = saved.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    # Keras's own message is misleading: the file exists.
    with pytest.raises(ValueError, match="File not found: filepath="):
        keras.saving.load_model(path)


def test_truncated_file_with_pix2pix_load(tmp_path, saved):
    path = tmp_path / "truncated.keras"
    data = saved.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError) as info:
        pk.Pix2Pix.load(path)
    assert str(info.value).startswith(
        f"{path} is not a complete .keras file ({len(data) // 2} bytes; "
        "File is not a zip file): it is truncated"
    )


def test_truncated_file_with_load_weights(tmp_path, saved, model):
    path = tmp_path / "truncated.keras"
    data = saved.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(
        ValueError, match=re.escape(f"{path} is not a complete .keras file")
    ):
        model.load_weights(path)


def test_damaged_file(tmp_path, saved):
    path = tmp_path / "damaged.keras"
    data = bytearray(saved.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError,
        match=re.escape(f"{path} is damaged: model.weights.h5 fails its checksum."),
    ):
        pk.Pix2Pix.load(path)
    # keras.saving.load_model notices this one while reading the weights
    # (the message does not name the file).
    with pytest.raises(
        zipfile.BadZipFile, match="Bad CRC-32 for file 'model.weights.h5'"
    ):
        keras.saving.load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No .keras file here"):
        pk.Pix2Pix.load(tmp_path / "nothing.keras")


def test_savedmodel_directory_to_pix2pix_load(tmp_path, model):
    model.export(tmp_path / "served")
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / 'served'} is a SavedModel export (the generator, "
            "for serving), not a .keras file"
        ),
    ):
        pk.Pix2Pix.load(tmp_path / "served")


def test_load_weights_from_a_wider_model(tmp_path, model):
    path = tmp_path / "wider.keras"
    wider = tiny_pix2pix(filters=16)
    wider.compile()
    wider.save(path)
    with pytest.raises(ValueError) as info:
        model.load_weights(path)
    message = str(info.value)
    assert message.startswith(
        f"The weights in {path} do not fit this Pix2Pix. It was saved from "
        "another architecture: discriminator.filters: 16 in the file, 8 "
        "here; discriminator.max_filters: 64 in the file, 32 here;"
    )
    assert "generator.filters: 16 in the file, 8 here" in message or (
        "more)" in message
    )
    assert "Keras: A total of" in message


def test_pix2pix_load_of_another_kind_of_model(tmp_path, model):
    path = tmp_path / "dense.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(path)
    with pytest.raises(
        TypeError, match=re.escape(f"{path} holds a Sequential, not a Pix2Pix.")
    ):
        pk.Pix2Pix.load(path)
    with pytest.raises(
        ValueError, match=re.escape("The file holds a Sequential, not a Pix2Pix.")
    ):
        model.load_weights(path)


def test_pix2pix_load_round_trip(saved, model):
    loaded = pk.Pix2Pix.load(saved)
    x = _x()
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


# ----------------------------------------------------------------------
# configs


def test_pix2pix_config_with_unknown_key(model):
    config = model.get_config()
    config["lamda_l1"] = 10
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Unknown key(s) in the Pix2Pix config: ['lamda_l1']. Expected a "
            "subset of ['discriminator', 'dtype', 'generator', 'image_size', "
            "'in_channels', 'name', 'out_channels', 'trainable']."
        ),
    ):
        pk.Pix2Pix.from_config(config)


@pytest.mark.parametrize(
    "network, key, cls",
    [
        ("generator", "filter", "UNetGenerator"),
        ("discriminator", "layers", "PatchDiscriminator"),
    ],
)
def test_network_config_with_unknown_key(model, network, key, cls):
    config = model.get_config()
    config[network]["config"][key] = 3
    with pytest.raises(
        ValueError,
        match=re.escape(f"Unknown key(s) in the {network} ({cls}) config: ['{key}']."),
    ):
        pk.Pix2Pix.from_config(config)


def test_saved_file_with_unknown_network_key(tmp_path, saved):
    """A .keras file whose generator config has a foreign key."""
    path = tmp_path / "edited.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["generator"]["config"]["widht"] = 64
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Unknown key(s) in the generator (UNetGenerator) config: ['widht']."
        ),
    ):
        keras.saving.load_model(path)


def test_network_class_config_with_unknown_key():
    """UNetGenerator.from_config itself still passes unknown keys to Keras,
    which drops them (generator.py is unchanged); the check it would need:
    """
    config = pk.UNetGenerator(image_size=32, filters=8).get_config()
    config["filter"] = 16
    with pytest.raises(
        ValueError,
        match=re.escape("Unknown key(s) in the UNetGenerator config: ['filter']."),
    ):
        utils.check_config_keys(pk.UNetGenerator, config)


def test_compile_with_unknown_argument():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Pix2Pix.compile() got unknown argument(s) ['lamda_l1']. It takes "
            "['g_optimizer', 'd_optimizer', 'gan_loss', 'lambda_l1',"
        ),
    ):
        tiny_pix2pix().compile(lamda_l1=10.0)


def test_compile_config_with_unknown_key(model):
    config = model.get_compile_config()
    config["gan_mode"] = "lsgan"
    with pytest.raises(
        ValueError,
        match=re.escape("Pix2Pix.compile() got unknown argument(s) ['gan_mode']."),
    ):
        tiny_pix2pix().compile_from_config(config)


# ----------------------------------------------------------------------
# safe_mode


def _lambda_model():
    image = keras.Input((32, 32, 3), name="image")
    h = keras.layers.Conv2D(3, 3, padding="same")(image)
    out = keras.layers.Lambda(lambda t: keras.ops.tanh(t), output_shape=(32, 32, 3))(h)
    return pk.Pix2Pix(
        generator=keras.Model(image, out, name="lambda_generator"),
        discriminator=pk.PatchDiscriminator(
            image_size=32, filters=8, max_filters=32, n_layers=2
        ),
        image_size=32,
    )


def test_safe_mode_refuses_a_lambda_layer(tmp_path):
    path = tmp_path / "lambda.keras"
    m = _lambda_model()
    m.compile()
    m.save(path)
    message = (
        "Requested the deserialization of a `Lambda` layer whose "
        "`function` is a Python lambda."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        keras.saving.load_model(path)
    with pytest.raises(ValueError, match=re.escape(message)):
        pk.Pix2Pix.load(path)
    # Trusted file: allowed explicitly.
    assert isinstance(pk.Pix2Pix.load(path, safe_mode=False), pk.Pix2Pix)
