"""GAN and reconstruction losses of pix2pix.

All functions take raw discriminator outputs (logits for `"vanilla"`) and
return scalar float32 tensors; the discriminator losses are halved, as in
the paper, so D learns at half the rate of G.
"""

from keras import ops

GAN_LOSSES = ("lsgan", "vanilla", "hinge")


def _f32(x):
    return ops.cast(x, "float32")


def lsgan_generator_loss(d_fake):
    """Least-squares GAN loss of the generator: `mean((D(x, G(x)) - 1)²)`.

    Mao et al. 2017, https://arxiv.org/abs/1611.04076.

    Args:
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(lsgan_generator_loss(ops.zeros((1, 30, 30, 1))))
    1.0
    """
    return ops.mean(ops.square(_f32(d_fake) - 1.0))


def lsgan_discriminator_loss(d_real, d_fake):
    """Least-squares GAN loss of D: `½[mean((D(x,y) − 1)²) + mean(D(x,G(x))²)]`.

    Args:
        d_real: tensor. Discriminator output on real pairs.
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(lsgan_discriminator_loss(ops.ones((1, 4)), ops.zeros((1, 4))))
    0.0
    """
    real = ops.mean(ops.square(_f32(d_real) - 1.0))
    fake = ops.mean(ops.square(_f32(d_fake)))
    return 0.5 * (real + fake)


def _bce_with_logits(labels_value, logits):
    # log(1 + exp(-|z|)) + max(z, 0) - z * label: stable for any logit.
    z = _f32(logits)
    return ops.mean(
        ops.relu(z) - z * labels_value + ops.log1p(ops.exp(-ops.abs(z)))
    )


def vanilla_generator_loss(d_fake):
    """Binary cross-entropy GAN loss of G (non-saturating), on logits.

    `mean(-log σ(D(x, G(x))))`, as in the paper.

    Args:
        d_fake: tensor. Discriminator logits on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> round(float(vanilla_generator_loss(ops.zeros((1, 4)))), 6)
    0.693147
    """
    return _bce_with_logits(1.0, d_fake)


def vanilla_discriminator_loss(d_real, d_fake):
    """Binary cross-entropy loss of D on logits, halved.

    `½[mean(-log σ(D(x, y))) + mean(-log(1 − σ(D(x, G(x)))))]`.

    Args:
        d_real: tensor. Discriminator logits on real pairs.
        d_fake: tensor. Discriminator logits on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> z = ops.zeros((1, 4))
    >>> round(float(vanilla_discriminator_loss(z, z)), 6)
    0.693147
    """
    return 0.5 * (_bce_with_logits(1.0, d_real) + _bce_with_logits(0.0, d_fake))


def hinge_generator_loss(d_fake):
    """Hinge GAN loss of the generator: `-mean(D(x, G(x)))`.

    Lim & Ye 2017 (https://arxiv.org/abs/1705.02894), as in SAGAN/BigGAN.

    Args:
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(hinge_generator_loss(ops.ones((1, 4))))
    -1.0
    """
    return -ops.mean(_f32(d_fake))


def hinge_discriminator_loss(d_real, d_fake):
    """Hinge loss of D, halved: `½[mean(relu(1 − D(x,y))) + mean(relu(1 + D(x,G(x))))]`.

    Args:
        d_real: tensor. Discriminator output on real pairs.
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(hinge_discriminator_loss(ops.zeros((1, 4)), ops.zeros((1, 4))))
    1.0
    """
    real = ops.mean(ops.relu(1.0 - _f32(d_real)))
    fake = ops.mean(ops.relu(1.0 + _f32(d_fake)))
    return 0.5 * (real + fake)


def l1_loss(target, generated):
    """Mean absolute error `mean|y − G(x)|` (the pix2pix reconstruction term).

    Args:
        target: tensor. Real target images.
        generated: tensor. Generated images, same shape.

    Returns:
        Scalar tensor.

    Example:
    >>> float(l1_loss(ops.zeros((1, 2, 2, 1)), ops.ones((1, 2, 2, 1))))
    1.0
    """
    return ops.mean(ops.abs(_f32(target) - _f32(generated)))


def get_gan_loss(name):
    """Returns `(generator_loss, discriminator_loss)` for a GAN loss name.

    Args:
        name: str. `"lsgan"`, `"vanilla"` or `"hinge"`.

    Returns:
        Tuple of two callables: `g(d_fake)` and `d(d_real, d_fake)`.

    Raises:
        ValueError: for an unknown name.
    """
    if name == "lsgan":
        return lsgan_generator_loss, lsgan_discriminator_loss
    if name == "vanilla":
        return vanilla_generator_loss, vanilla_discriminator_loss
    if name == "hinge":
        return hinge_generator_loss, hinge_discriminator_loss
    raise ValueError(
        f"`gan_loss` must be one of {GAN_LOSSES}. Received: gan_loss={name!r}"
    )


def discriminator_output(name, logits):
    """Mean discriminator output as reported in `d_real` / `d_fake`.

    For `"lsgan"` the raw output (the target is 1 for real, 0 for fake);
    for `"vanilla"` the probability σ(logit); for `"hinge"` the raw output
    (the margins are +1 for real, −1 for fake). Higher means "real".
    """
    get_gan_loss(name)
    logits = _f32(logits)
    if name == "vanilla":
        logits = ops.sigmoid(logits)
    return ops.mean(logits)
