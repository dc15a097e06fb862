"""Small-data augmentations: elastic deformation and colour jitter.

Everything here is pure TensorFlow graph code with stateless random ops, so
it runs inside `tf.data.Dataset.map` on single images `(h, w, c)` (static or
unknown height and width) and gives the same output for the same seed. A
seed is an int32/int64 tensor of shape `(2,)`, as in
`pix2pix_keras.data.random_jitter`.
"""

import math

import tensorflow as tf

from pix2pix_keras.utils import check_number

__all__ = [
    "Augment",
    "JITTER_KEYS",
    "JITTER_SIDES",
    "METHODS",
    "color_jitter",
    "displacement_field",
    "elastic_deform",
    "gaussian_kernel",
    "warp",
]

METHODS = ("bilinear", "nearest")
JITTER_KEYS = ("brightness", "contrast", "saturation", "hue")
JITTER_SIDES = ("source", "target", "both")

# ITU-R 601 luma, the weights torchvision's `rgb_to_grayscale` uses.
_LUMA = (0.2989, 0.587, 0.114)


def _check_number(name, value, minimum=0.0, maximum=None):
    return check_number(name, value, low=minimum, high=maximum)


def _check_method(name, method):
    if method not in METHODS:
        raise ValueError(
            f"`{name}` must be one of {METHODS}. Received: {name}={method!r}"
        )
    return method


def gaussian_kernel(sigma, radius=None):
    """Normalised 1-D Gaussian kernel of standard deviation `sigma` pixels.

    Args:
        sigma: float >= 0. Standard deviation in pixels. `0` gives `[1.0]`.
        radius: int or scalar int tensor, or `None` for `ceil(3 * sigma)`.
            The kernel has `2 * radius + 1` taps. Defaults to `None`.

    Returns:
        Float32 tensor of shape `(2 * radius + 1,)` that sums to 1.

    Example:
    >>> from pix2pix_keras.augment import gaussian_kernel
    >>> k = gaussian_kernel(1.0)
    >>> int(k.shape[0]), round(float(tf.reduce_sum(k)), 6)
    (7, 1.0)
    """
    sigma = _check_number("sigma", sigma)
    if radius is None:
        radius = math.ceil(3.0 * sigma)
    if sigma == 0.0:
        return tf.ones([1], tf.float32)
    x = tf.cast(tf.range(-radius, radius + 1), tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / sigma))
    return kernel / tf.reduce_sum(kernel)


def _smooth(field, sigma):
    """Gaussian blur of `(h, w, k)` along h and w, reflect-101 borders.

    The kernel radius is `ceil(3 * sigma)`, cut to `size - 1` along an axis
    shorter than that (reflect padding cannot exceed it), so a very large
    `sigma` on a small image becomes a wide, renormalised truncated Gaussian.
    """
    if sigma == 0.0:
        return field
    radius = math.ceil(3.0 * sigma)
    k = tf.shape(field)[-1]
    x = field[tf.newaxis]
    for axis in (1, 2):
        r = tf.minimum(radius, tf.shape(x)[axis] - 1)
        kernel = gaussian_kernel(sigma, r)
        shape = [-1, 1, 1, 1] if axis == 1 else [1, -1, 1, 1]
        kernel = tf.tile(tf.reshape(kernel, shape), [1, 1, k, 1])
        pad = [[0, 0], [0, 0], [0, 0], [0, 0]]
        pad[axis] = [r, r]
        x = tf.pad(x, pad, mode="REFLECT")
        x = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "VALID")
    return x[0]


def displacement_field(shape, seed, alpha=34.0, sigma=4.0):
    """Random smooth displacement field of Simard et al. (2003).

    [Simard, Steinkraus & Platt, "Best practices for convolutional neural
    networks applied to visual document analysis", ICDAR 2003](
    https://doi.org/10.1109/ICDAR.2003.1227801): uniform noise in [-1, 1]
    per pixel and per axis, blurred by a Gaussian of standard deviation
    `sigma` pixels (truncated at `ceil(3 * sigma)`, reflect borders), then
    multiplied by `alpha` pixels.

    The per-axis standard deviation of the result is about
    `alpha / (sqrt(12 * pi) * sigma)` pixels when the image is much larger
    than `sigma` (`1.38` px for the defaults); the displacement varies
    smoothly over about `sigma` pixels.

    Args:
        shape: `(h, w)`, ints or a 1-D int tensor (e.g.
            `tf.shape(image)[:2]`).
        seed: int32/int64 tensor of shape `(2,)`.
        alpha: float >= 0. Scale in pixels. Defaults to `34.0`.
        sigma: float >= 0. Smoothing in pixels. Defaults to `4.0`.

    Returns:
        Float32 tensor `(h, w, 2)`: `[..., 0]` is the row displacement `dy`,
        `[..., 1]` the column displacement `dx`.

    Example:
    >>> from pix2pix_keras.augment import displacement_field
    >>> field = displacement_field((64, 64), tf.constant([1, 2]))
    >>> tuple(field.shape)
    (64, 64, 2)
    """
    alpha = _check_number("alpha", alpha)
    sigma = _check_number("sigma", sigma)
    shape = tf.cast(tf.convert_to_tensor(shape), tf.int32)
    noise = tf.random.stateless_uniform(
        tf.concat([shape[:2], [2]], axis=0), seed, minval=-1.0, maxval=1.0
    )
    return alpha * _smooth(noise, sigma)


def _reflect(coord, size):
    """Folds float coordinates into [0, size - 1], mirrored at pixel centres.

    The reflect-101 rule of `tf.pad(mode="REFLECT")`: -1 -> 1,
    size -> size - 2.
    """
    last = tf.cast(size - 1, coord.dtype)
    period = tf.maximum(2.0 * last, 1.0)
    folded = last - tf.abs(tf.math.floormod(coord, period) - last)
    return tf.clip_by_value(folded, 0.0, last)


def _sampling_grid(displacement):
    """Reflected source coordinates `(y, x)`, both flat `(h * w,)`."""
    h = tf.shape(displacement)[0]
    w = tf.shape(displacement)[1]
    rows = tf.cast(tf.range(h), tf.float32)[:, tf.newaxis]
    cols = tf.cast(tf.range(w), tf.float32)[tf.newaxis, :]
    y = _reflect(rows + displacement[..., 0], h)
    x = _reflect(cols + displacement[..., 1], w)
    return tf.reshape(y, [-1]), tf.reshape(x, [-1]), h, w


class _Sampler:
    """Gather indices and weights computed once, shared by several images."""

    def __init__(self, displacement):
        y, x, self.h, self.w = _sampling_grid(displacement)
        self.y, self.x = y, x
        self._bilinear = None
        self._nearest = None

    def bilinear(self, image):
        dtype = image.dtype
        if not dtype.is_floating:
            raise ValueError(
                "Bilinear sampling needs a float image; use 'nearest' for "
                f"integer images such as label ids. Received dtype={dtype.name}"
            )
        if self._bilinear is None:
            y0 = tf.floor(self.y)
            x0 = tf.floor(self.x)
            fy = (self.y - y0)[:, tf.newaxis]
            fx = (self.x - x0)[:, tf.newaxis]
            y0 = tf.cast(y0, tf.int32)
            x0 = tf.cast(x0, tf.int32)
            # At the last row/column the weight of the next one is 0.
            y1 = tf.minimum(y0 + 1, self.h - 1)
            x1 = tf.minimum(x0 + 1, self.w - 1)
            idx = [y0 * self.w + x0, y0 * self.w + x1]
            idx += [y1 * self.w + x0, y1 * self.w + x1]
            self._bilinear = (idx, fy, fx)
        idx, fy, fx = self._bilinear
        compute = tf.float64 if dtype == tf.float64 else tf.float32
        flat = tf.cast(tf.reshape(image, [self.h * self.w, -1]), compute)
        fy, fx = tf.cast(fy, compute), tf.cast(fx, compute)
        v00, v01, v10, v11 = (tf.gather(flat, i) for i in idx)
        # Lerps (not four weights) keep a zero displacement exact.
        top = v00 + fx * (v01 - v00)
        bottom = v10 + fx * (v11 - v10)
        out = top + fy * (bottom - top)
        return tf.cast(tf.reshape(out, tf.shape(image)), dtype)

    def nearest(self, image):
        if self._nearest is None:
            y = tf.cast(tf.floor(self.y + 0.5), tf.int32)
            x = tf.cast(tf.floor(self.x + 0.5), tf.int32)
            y = tf.minimum(y, self.h - 1)
            x = tf.minimum(x, self.w - 1)
            self._nearest = y * self.w + x
        flat = tf.reshape(image, [self.h * self.w, -1])
        out = tf.gather(flat, self._nearest)
        return tf.reshape(out, tf.shape(image))

    def __call__(self, image, method):
        return self.bilinear(image) if method == "bilinear" else self.nearest(image)


def _check_image(name, image):
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3:
        raise ValueError(
            f"`{name}` must be a single image `(h, w, c)`. Received shape "
            f"{tuple(image.shape) if image.shape.rank is not None else None}"
        )
    return image


def warp(image, displacement, method="bilinear"):
    """Samples `image` at `(y + dy, x + dx)` for every pixel `(y, x)`.

    Coordinates outside the image are mirrored at the border pixel centres
    (reflect-101, like `tf.pad(mode="REFLECT")` and scipy's `"mirror"`),
    so no constant colour leaks in at the edges.

    Args:
        image: tensor `(h, w, c)`. Float for `"bilinear"`; any dtype for
            `"nearest"`.
        displacement: float32 tensor `(h, w, 2)` of `(dy, dx)` in pixels,
            see `displacement_field`.
        method: str. `"bilinear"` or `"nearest"`. Nearest returns only
            values of `image` (label ids stay valid). Defaults to
            `"bilinear"`.

    Returns:
        Tensor of the shape and dtype of `image`.

    Example:
    >>> from pix2pix_keras.augment import warp
    >>> ramp = tf.reshape(tf.range(4.0), (1, 4, 1))
    >>> shift = tf.constant([0.0, 0.5]) * tf.ones((1, 4, 2))
    >>> warp(ramp, shift)[0, :, 0].numpy().tolist()
    [0.5, 1.5, 2.5, 2.5]
    """
    _check_method("method", method)
    image = _check_image("image", image)
    displacement = tf.convert_to_tensor(displacement, tf.float32)
    return _Sampler(displacement)(image, method)


def elastic_deform(images, seed, alpha=34.0, sigma=4.0, methods=None):
    """Elastic deformation with ONE random field for all images of a pair.

    [Simard et al. 2003](https://doi.org/10.1109/ICDAR.2003.1227801): a
    random displacement field (`displacement_field`) moves every pixel by a
    few pixels in a smoothly varying direction. The same field is applied
    to every tensor of `images`, so source, target and label maps stay
    aligned. Borders are mirrored (reflect-101, see `warp`).

    The defaults (`alpha=34`, `sigma=4`, Simard's values) give a mild local
    wobble on 256×256 images: about 1.4 px RMS per axis, varying over a few
    pixels. For larger, smoother warps raise both, e.g. `alpha=400`,
    `sigma=16` (~4 px RMS varying over ~16 px). A `sigma` larger than the
    image is truncated to the image size.

    Args:
        images: list or tuple of tensors `(h, w, c_i)` with the same `h`
            and `w` (channel counts and dtypes may differ). A single tensor
            is accepted too.
        seed: int32/int64 tensor of shape `(2,)`.
        alpha: float >= 0. Displacement scale in pixels; `0` is the
            identity. Defaults to `34.0`.
        sigma: float >= 0. Smoothness (Gaussian standard deviation) in
            pixels. Defaults to `4.0`.
        methods: list of `"bilinear"` / `"nearest"`, one per image, or
            `None` for all bilinear. Use nearest for label ids and masks.
            Defaults to `None`.

    Returns:
        A list of tensors with the shapes and dtypes of `images` (a single
        tensor if a single tensor was given).

    Example:
    >>> from pix2pix_keras.augment import elastic_deform
    >>> source = tf.zeros((32, 32, 1))
    >>> target = tf.ones((32, 32, 3))
    >>> out = elastic_deform([source, target], tf.constant([0, 1]))
    >>> [tuple(t.shape) for t in out]
    [(32, 32, 1), (32, 32, 3)]
    """
    single = not isinstance(images, (list, tuple))
    if single:
        images = [images]
    if not images:
        raise ValueError("`images` must hold at least one image. Received: []")
    images = [_check_image(f"images[{i}]", im) for i, im in enumerate(images)]
    if methods is None:
        methods = ["bilinear"] * len(images)
    if isinstance(methods, str) or len(methods) != len(images):
        raise ValueError(
            f"`methods` must be a list with one method per image "
            f"({len(images)}). Received: methods={methods!r}"
        )
    methods = [_check_method(f"methods[{i}]", m) for i, m in enumerate(methods)]
    alpha = _check_number("alpha", alpha)
    sigma = _check_number("sigma", sigma)
    size = tf.shape(images[0])[:2]
    first = images[0].shape[:2]
    checks = []
    for i, im in enumerate(images[1:], 1):
        if first.is_fully_defined() and im.shape[:2].is_fully_defined():
            if first != im.shape[:2]:
                raise ValueError(
                    "All `images` must have the same height and width. "
                    f"Received {tuple(first)} and {tuple(im.shape[:2])} "
                    f"(images[{i}])"
                )
        else:
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(im)[:2], size, message="elastic_deform: sizes differ"
                )
            )
    sampler = _Sampler(displacement_field(size, seed, alpha, sigma))
    with tf.control_dependencies([c for c in checks if c is not None]):
        out = [sampler(tf.identity(im), m) for im, m in zip(images, methods)]
    return out[0] if single else out


def _gray(rgb):
    return (
        _LUMA[0] * rgb[..., 0:1] + _LUMA[1] * rgb[..., 1:2] + _LUMA[2] * rgb[..., 2:3]
    )


def _blend(image, other, factor):
    # torchvision `_blend`: factor * image + (1 - factor) * other, clamped.
    return tf.clip_by_value(factor * image + (1.0 - factor) * other, 0.0, 1.0)


def _check_jitter(brightness, contrast, saturation, hue):
    return (
        _check_number("brightness", brightness),
        _check_number("contrast", contrast),
        _check_number("saturation", saturation),
        _check_number("hue", hue, 0.0, 0.5),
    )


def color_jitter(image, seed, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0):
    """Random brightness, contrast, saturation and hue (torchvision semantics).

    Factors as in torchvision `ColorJitter`: brightness, contrast and
    saturation factors are uniform in `[max(0, 1 - s), 1 + s]` for strength
    `s`; the hue shift is uniform in `[-hue, hue]` (fraction of the colour
    circle). On the image rescaled to [0, 1], in this FIXED order (torchvision
    shuffles it), each step clamped to [0, 1]:

    1. brightness: `x * f`;
    2. contrast: `f * x + (1 - f) * mean(gray(x))` (one scalar mean over the
       image, not `tf.image.adjust_contrast`'s per-channel mean);
    3. saturation: `f * x + (1 - f) * gray(x)` (torchvision's blend with
       the grey image, not `tf.image.adjust_saturation`'s HSV scaling);
    4. hue: `tf.image.adjust_hue(x, shift)` (rotation in HSV, as
       torchvision).

    `gray` is the ITU-R 601 luma `0.2989 R + 0.587 G + 0.114 B`. A 1-channel
    image gets brightness and contrast only; a 4-channel image is treated as
    RGBA and its alpha channel is returned unchanged. A strength of 0 skips
    its step; all zero returns the image clipped to [-1, 1]. Each factor
    has its own sub-seed, so e.g. the brightness factor for a seed does not
    depend on the other strengths.

    Args:
        image: float32 tensor `(h, w, c)` in [-1, 1], `c` in 1, 3, 4
            (static, or checked when the graph runs).
        seed: int32/int64 tensor of shape `(2,)`.
        brightness: float >= 0. Defaults to `0.0`.
        contrast: float >= 0. Defaults to `0.0`.
        saturation: float >= 0. Defaults to `0.0`.
        hue: float in [0, 0.5]. Defaults to `0.0`.

    Returns:
        Float32 tensor, same shape, in [-1, 1].

    Raises:
        ValueError: for a negative strength, `hue > 0.5`, or a channel
            count other than 1, 3 or 4.

    Example:
    >>> from pix2pix_keras.augment import color_jitter
    >>> image = tf.zeros((8, 8, 3))
    >>> out = color_jitter(image, tf.constant([3, 4]), brightness=0.5)
    >>> bool(tf.reduce_all(tf.abs(out) <= 1.0))
    True
    """
    b, c, s, h = _check_jitter(brightness, contrast, saturation, hue)
    image = _check_image("image", image)
    channels = image.shape[-1]
    if channels not in (1, 3, 4, None):
        raise ValueError(
            f"`image` must have 1, 3 or 4 channels. Received shape {tuple(image.shape)}"
        )
    image = tf.clip_by_value(tf.cast(image, tf.float32), -1.0, 1.0)
    if b == c == s == h == 0.0 or (channels == 1 and b == c == 0.0):
        return image
    seeds = tf.random.experimental.stateless_split(seed, 4)
    factors = [
        tf.random.stateless_uniform([], seeds[i], max(0.0, 1.0 - v), 1.0 + v)
        for i, v in enumerate((b, c, s))
    ]
    factors.append(tf.random.stateless_uniform([], seeds[3], -h, h))
    strengths = (b, c, s, h)
    if channels is not None:
        return _jitter(image, channels, strengths, factors)
    # Channels unknown when the graph is built (e.g. after slicing a
    # concatenated pair by a tensor index): choose the branch at run time.
    n = tf.shape(image)[-1]
    check = tf.debugging.assert_equal(
        tf.reduce_any(tf.equal(n, [1, 3, 4])),
        True,
        message="color_jitter: `image` must have 1, 3 or 4 channels",
    )
    # The check must run before the branches reshape the image, or a bad
    # channel count fails inside a reshape with an unhelpful message.
    with tf.control_dependencies([check] if check is not None else []):
        branch = tf.where(n == 1, 0, tf.where(n == 3, 1, 2))
    return tf.switch_case(
        branch,
        [lambda k=k: _jitter(image, k, strengths, factors) for k in (1, 3, 4)],
    )


def _jitter(image, channels, strengths, factors):
    """`color_jitter` for a known channel count, image in [-1, 1]."""
    b, c, s, h = strengths
    shape = tf.concat([tf.shape(image)[:-1], [channels]], axis=0)
    image = tf.reshape(image, shape)  # static channels inside a switch_case
    x = (image[..., :3] + 1.0) * 0.5
    if b > 0.0:
        x = tf.clip_by_value(x * factors[0], 0.0, 1.0)
    if c > 0.0:
        mean = tf.reduce_mean(x if channels == 1 else _gray(x))
        x = _blend(x, mean, factors[1])
    if s > 0.0 and channels != 1:
        x = _blend(x, _gray(x), factors[2])
    if h > 0.0 and channels != 1:
        x = tf.image.adjust_hue(x, factors[3])
    x = tf.clip_by_value(x * 2.0 - 1.0, -1.0, 1.0)
    if channels == 4:
        x = tf.concat([x, image[..., 3:]], axis=-1)
    return x


class Augment:
    """Small-data augmentation settings for a `(source, target)` pipeline.

    Applies, in this order, one elastic deformation shared by the source,
    the target and any extra aligned tensors (`elastic_deform`), then colour
    jitter (`color_jitter`) on the configured side(s). With `"both"` the
    source and the target get independent jitter factors (they are
    different domains). The default instance changes nothing.

    Args:
        elastic: bool. Apply the elastic deformation. Defaults to `False`.
        elastic_alpha: float >= 0. Displacement scale in pixels. Defaults
            to `34.0`.
        elastic_sigma: float >= 0. Smoothness in pixels. Defaults to `4.0`.
        color_jitter: dict with any of the keys `"brightness"`,
            `"contrast"`, `"saturation"`, `"hue"` (strengths as in
            `color_jitter`), or `None` for no jitter. Defaults to `None`.
        color_jitter_side: str. `"source"`, `"target"` or `"both"`.
            Defaults to `"source"`.

    Example:

    ```python
    augment = Augment(elastic=True, color_jitter={"brightness": 0.2})
    seeds = tf.data.Dataset.random(seed=0).batch(2)
    ds = tf.data.Dataset.zip((pairs, seeds)).map(
        lambda pair, seed: augment.apply(pair[0], pair[1], seed),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    ```
    """

    def __init__(
        self,
        elastic=False,
        elastic_alpha=34.0,
        elastic_sigma=4.0,
        color_jitter=None,
        color_jitter_side="source",
    ):
        if not isinstance(elastic, bool):
            raise ValueError(f"`elastic` must be a bool. Received: elastic={elastic!r}")
        self.elastic = elastic
        self.elastic_alpha = _check_number("elastic_alpha", elastic_alpha)
        self.elastic_sigma = _check_number("elastic_sigma", elastic_sigma)
        if color_jitter is not None:
            if not isinstance(color_jitter, dict):
                raise ValueError(
                    "`color_jitter` must be a dict or None. Received: "
                    f"color_jitter={color_jitter!r}"
                )
            unknown = sorted(set(color_jitter) - set(JITTER_KEYS))
            if unknown:
                raise ValueError(
                    f"`color_jitter` keys must be among {JITTER_KEYS}. "
                    f"Received: color_jitter={color_jitter!r}"
                )
            values = _check_jitter(*(color_jitter.get(k, 0.0) for k in JITTER_KEYS))
            color_jitter = dict(zip(JITTER_KEYS, values))
        self.color_jitter = color_jitter
        if color_jitter_side not in JITTER_SIDES:
            raise ValueError(
                f"`color_jitter_side` must be one of {JITTER_SIDES}. "
                f"Received: color_jitter_side={color_jitter_side!r}"
            )
        self.color_jitter_side = color_jitter_side

    def apply(
        self,
        source,
        target,
        seed,
        source_method="bilinear",
        target_method="bilinear",
        extra=(),
        extra_methods=(),
    ):
        """Augments one pair `(h, w, c)` and any aligned extra tensors.

        Args:
            source: float32 tensor `(h, w, c_in)` in [-1, 1].
            target: float32 tensor `(h, w, c_out)` in [-1, 1].
            seed: int32/int64 tensor of shape `(2,)`.
            source_method: str. Elastic sampling of the source,
                `"bilinear"` or `"nearest"` (e.g. for a label-map source).
                Defaults to `"bilinear"`.
            target_method: str. Same for the target. Defaults to
                `"bilinear"`.
            extra: tuple of tensors `(h, w, c_i)` deformed with the same
                field (e.g. label ids); never colour-jittered. Defaults to
                `()`.
            extra_methods: tuple of methods, one per extra tensor, or `()`
                for all `"nearest"`. Defaults to `()`.

        Returns:
            The tuple `(source, target, *extra)`.
        """
        _check_method("source_method", source_method)
        _check_method("target_method", target_method)
        extra = tuple(extra)
        extra_methods = tuple(extra_methods) or ("nearest",) * len(extra)
        if len(extra_methods) != len(extra):
            raise ValueError(
                f"`extra_methods` must have one method per extra tensor "
                f"({len(extra)}). Received: extra_methods={extra_methods!r}"
            )
        for i, m in enumerate(extra_methods):
            _check_method(f"extra_methods[{i}]", m)
        seeds = tf.random.experimental.stateless_split(seed, 3)
        images = [tf.convert_to_tensor(x) for x in (source, target, *extra)]
        if self.elastic:
            images = elastic_deform(
                images,
                seeds[0],
                self.elastic_alpha,
                self.elastic_sigma,
                [source_method, target_method, *extra_methods],
            )
        if self.color_jitter is not None:
            for i, side in enumerate(("source", "target")):
                if self.color_jitter_side in (side, "both"):
                    images[i] = color_jitter(
                        images[i], seeds[1 + i], **self.color_jitter
                    )
        return tuple(images)

    def get_config(self):
        return {
            "elastic": self.elastic,
            "elastic_alpha": self.elastic_alpha,
            "elastic_sigma": self.elastic_sigma,
            "color_jitter": (
                None if self.color_jitter is None else dict(self.color_jitter)
            ),
            "color_jitter_side": self.color_jitter_side,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Augment({args})"
