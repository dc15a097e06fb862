"""What each kind of training step really computes, counted by oneDNN.

`d_every=2` is only faster if the skipped discriminator step really skips
D's compute: no D forward on the real pair, no D weight gradients. The
traced graph is no proof (TensorFlow's gradient functions build the
gradients of every input of an op and grappler prunes the unused ones at
run time), so this test counts the convolutions that run: a subprocess
trains the tiny model with `ONEDNN_VERBOSE=1`, marks one full step and one
generator-only step in its output, and the test counts oneDNN's
`convolution` executions between the marks.
"""

import collections
import os
import subprocess
import sys

import keras

MARK = "=== step"


def _worker():
    import tensorflow as tf

    from tests.conftest import tiny_pix2pix

    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    model.compile(d_every=2)
    x = tf.random.uniform((1, 32, 32, 3), -1, 1)
    y = tf.random.uniform((1, 32, 32, 3), -1, 1)
    for _ in range(4):  # trace and warm up both branches
        model.train_on_batch(x, y)
    for kind in ("both", "g_only"):  # step counter 4 (D's turn), then 5
        print(f"{MARK} {kind} {int(model.step_counter)}", flush=True)
        model.train_on_batch(x, y)
    print(f"{MARK} end", flush=True)
    print(
        "layers",
        *_conv_layers(model.generator),
        *_conv_layers(model.discriminator),
        flush=True,
    )


def _conv_layers(model):
    """(Conv2D layers, Conv2DTranspose layers) of a network."""
    layers = list(model._flatten_layers())
    return (
        sum(isinstance(l, keras.layers.Conv2D) for l in layers),
        sum(isinstance(l, keras.layers.Conv2DTranspose) for l in layers),
    )


def _run():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(
        os.environ, ONEDNN_VERBOSE="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=root
    )
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    counts, current, layers = {}, None, None
    for line in out.stdout.splitlines():
        if line.startswith(MARK):
            current = line.split()[2]
            counts[current] = collections.Counter()
            counts[current]["counter"] = (
                int(line.split()[-1]) if current != "end" else -1
            )
        elif line.startswith("layers"):
            layers = tuple(int(v) for v in line.split()[1:])
        elif current and ",primitive,exec," in line:
            parts = line.split(",")
            if parts[5] == "convolution":
                counts[current][parts[7]] += 1
    return counts, layers


def test_generator_only_step_skips_discriminator_compute():
    counts, layers = _run()
    g_conv, g_up, d_conv, d_up = layers
    assert (g_conv, g_up, d_conv, d_up) == (5, 5, 4, 0)
    both, g_only = counts["both"], counts["g_only"]
    assert (both["counter"], g_only["counter"]) == (4, 5)
    # Weight gradients: every G kernel in both steps; D's kernels once per
    # pair it judged (real and fake), in the full step only.
    assert both["backward_weights"] == g_conv + g_up + 2 * d_conv
    assert g_only["backward_weights"] == g_conv + g_up
    # Forward convolutions: the full step runs D once more (the real pair).
    assert both["forward_training"] - g_only["forward_training"] == d_conv
    # Input gradients: G's loss backpropagates through D on the fake pair in
    # both steps; only the full step backpropagates D's loss through D's
    # layers after the first, on the real and on the fake pair.
    assert both["backward_data"] - g_only["backward_data"] == 2 * (d_conv - 1)


if __name__ == "__main__":
    _worker()
