"""Experiment: convolution weight gradients as one matrix product (GEMM).

Used by `benchmarks/weight_grad_gemm.py --step`; not part of the package
(the whole training step did not get faster, see docs/performance.md).

On a CPU without AMX, oneDNN computes bfloat16 weight gradients of a
convolution (`Conv2DBackpropFilter`) with a kernel that runs hardly faster
than float32. For the deep layers of the U-Net and the PatchGAN the same
gradient computed as one GEMM of the input patches with the output gradient
is 1.4-10× faster in isolation. `use_gemm_weight_grads(model)` swaps the
weight gradient of the stock Conv2D / Conv2DTranspose layers where the GEMM
is expected to win (`prefers_gemm`); the forward pass and the input
gradient are the stock ones:

    dW[kh, kw, cin, cout] = sum over (batch, y, x) of
        patches(x)[b, y, x, (kh, kw, cin)] * dy[b, y, x, cout]
"""

import keras
import tensorflow as tf

__all__ = ["use_gemm_weight_grads", "gemm_grad_layers", "prefers_gemm"]

# Use the GEMM form when a patch has at least this many values
# (kh·kw·channels) and the product sums over at most this many positions
# (batch·height·width of the smaller side). Chosen from
# benchmarks/weight_grad_gemm.py: every 4×4 layer with ≥ 256 patch channels
# was faster as a GEMM (1.36-10×), every one with ≤ 128 slower (0.39-0.9×).
MIN_PATCH_SIZE = 4096
MAX_POSITIONS = 4096


def prefers_gemm(patch_size, positions):
    """Whether the GEMM weight gradient is expected to beat oneDNN's kernel.

    Args:
        patch_size: int, kh·kw·channels of one patch (the rows of the
            weight gradient).
        positions: int, batch·height·width summed over (`None` when the
            batch is unknown: judged on height·width alone).

    Returns:
        bool.
    """
    return patch_size >= MIN_PATCH_SIZE and (
        positions is None or positions <= MAX_POSITIONS)


def _same_padding(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _patch_grad(x, dy, kernel_size, strides, padding):
    """Weight gradient of `conv2d(x, W)` whose output gradient is `dy`.

    `x` is (B, H, W, Cin), `dy` (B, Ho, Wo, Cout), channels last, no
    dilation. Returns (kh, kw, Cin, Cout) in `x`'s dtype.
    """
    kh, kw = kernel_size
    if padding == "same":
        ph = _same_padding(x.shape[1], kh, strides[0])
        pw = _same_padding(x.shape[2], kw, strides[1])
        x = tf.pad(x, [[0, 0], list(ph), list(pw), [0, 0]])
    patches = tf.image.extract_patches(
        x, [1, kh, kw, 1], [1, strides[0], strides[1], 1], [1, 1, 1, 1],
        "VALID")
    # VALID patches may run one row/column past the output when the padded
    # size leaves a remainder; crop to the output gradient's grid.
    patches = patches[:, :dy.shape[1], :dy.shape[2], :]
    cin, cout = x.shape[-1], dy.shape[-1]
    grad = tf.matmul(tf.reshape(patches, [-1, kh * kw * cin]),
                     tf.reshape(dy, [-1, cout]), transpose_a=True)
    return tf.reshape(grad, [kh, kw, cin, cout])


def _conv2d(x, kernel, strides, padding):
    tf_padding = padding.upper()
    ksize = tuple(kernel.shape[:2])

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, strides=[1, *strides, 1],
                         padding=tf_padding)

        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                strides=[1, *strides, 1], padding=tf_padding)
            dk = _patch_grad(x, dy, ksize, strides, padding)
            return dx, dk

        return y, grad

    # A tensor, not the variable: the custom gradient must not see variables.
    return conv(x, tf.convert_to_tensor(kernel))


def _conv2d_transpose(x, kernel, output_shape, strides, padding):
    tf_padding = padding.upper()
    ksize = tuple(kernel.shape[:2])

    @tf.custom_gradient
    def conv_t(x, kernel):
        y = tf.nn.conv2d_transpose(x, kernel, output_shape,
                                   strides=[1, *strides, 1],
                                   padding=tf_padding)

        def grad(dy):
            # A transposed convolution is the input gradient of
            # conv2d(y, W) -> x: its data gradient is that conv2d of dy,
            # its weight gradient the conv2d's weight gradient with `dy`
            # as the input and `x` as the output gradient.
            dx = tf.nn.conv2d(dy, kernel, strides=[1, *strides, 1],
                              padding=tf_padding)
            dk = _patch_grad(dy, x, ksize, strides, padding)
            return dx, dk

        return y, grad

    return conv_t(x, tf.convert_to_tensor(kernel))


def _eligible(layer):
    return (
        type(layer) in (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
        and layer.data_format == "channels_last"
        and tuple(layer.dilation_rate) == (1, 1)
        and getattr(layer, "groups", 1) == 1
    )


def _gemm_conv_op(layer):
    stock = type(layer).convolution_op

    def convolution_op(inputs, kernel):
        shape = inputs.shape
        if shape[1] is None or shape[2] is None:
            return stock(layer, inputs, kernel)
        strides = tuple(layer.strides)
        out_h = -(-shape[1] // strides[0]) if layer.padding == "same" else (
            (shape[1] - kernel.shape[0]) // strides[0] + 1)
        out_w = -(-shape[2] // strides[1]) if layer.padding == "same" else (
            (shape[2] - kernel.shape[1]) // strides[1] + 1)
        positions = out_h * out_w * (shape[0] or 1)
        patch = kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
        if not prefers_gemm(patch, positions):
            return stock(layer, inputs, kernel)
        return _conv2d(inputs, kernel, strides, layer.padding)

    return convolution_op


def _gemm_transpose_call(layer):
    stock = type(layer).call

    def call(inputs):
        shape = inputs.shape
        if (shape[1] is None or shape[2] is None or shape[0] is None
                or layer.output_padding is not None):
            return stock(layer, inputs)
        kernel = layer.kernel
        kh, kw, filters, _ = kernel.shape
        positions = shape[0] * shape[1] * shape[2]
        if not prefers_gemm(kh * kw * filters, positions):
            return stock(layer, inputs)
        out_shape = layer.compute_output_shape(shape)
        y = _conv2d_transpose(inputs, kernel, list(out_shape),
                              tuple(layer.strides), layer.padding)
        if layer.use_bias:
            y = keras.ops.add(y, keras.ops.reshape(layer.bias,
                                                   (1, 1, 1, filters)))
        if layer.activation is not None:
            y = layer.activation(y)
        return y

    return call


def gemm_grad_layers(model):
    """The Conv2D / Conv2DTranspose layers of `model` the GEMM form can serve.

    Args:
        model: a Keras model or layer.

    Returns:
        list of layers (channels last, no dilation, no groups, stock
        Keras classes; subclasses that override `call` are left alone).
    """
    return [layer for layer in model._flatten_layers(include_self=True)
            if _eligible(layer)]


def use_gemm_weight_grads(model, enable=True):
    """Compute eligible convolution weight gradients as one GEMM.

    Each stock `Conv2D` / `Conv2DTranspose` of `model` (all nested levels)
    decides per call, from its static shapes, whether the GEMM is expected
    to win (`prefers_gemm`); if so its weight gradient is computed as a
    GEMM of the input patches with the output gradient, otherwise with the
    stock kernel. The forward pass is unchanged. The switch lives on the
    layer objects only (instance attributes): set it before the first
    trace of the training step.

    Args:
        model: a Keras model or layer.
        enable: bool. `False` restores the stock ops.

    Returns:
        int, the number of layers switched.

    """
    count = 0
    for layer in gemm_grad_layers(model):
        is_conv = isinstance(layer, keras.layers.Conv2D)
        attr = "convolution_op" if is_conv else "call"
        if enable:
            patched = (_gemm_conv_op if is_conv else _gemm_transpose_call)(
                layer)
            object.__setattr__(layer, attr, patched)
        else:
            layer.__dict__.pop(attr, None)
        object.__setattr__(layer, "_pk_gemm_grads", bool(enable))
        count += 1
    return count
