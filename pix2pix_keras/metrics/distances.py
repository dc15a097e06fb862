"""Fréchet distance (FID) and kernel inception distance (KID): the pure
functions on features and the metrics that accumulate features of real
and generated images."""

import numpy as np

from pix2pix_keras.metrics.extractors import FID_INCEPTION
from pix2pix_keras.metrics.extractors import _FeatureMetric
from pix2pix_keras.utils import check_int

__all__ = [
    "FrechetInceptionDistance",
    "KernelInceptionDistance",
    "frechet_distance",
    "kid_from_features",
]


def _matrix(x, name, ndim):
    x = np.asarray(x, dtype="float64")
    if x.ndim != ndim:
        raise ValueError(
            f"`{name}` must have {ndim} dimension(s). Received: {name}.shape={x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return x


def _psd_sqrt(matrix):
    """Square root of a symmetric PSD matrix by eigendecomposition."""
    w, v = np.linalg.eigh(matrix)
    # Eigenvalues below the rank tolerance (numpy.linalg.matrix_rank's) are
    # rounding noise of size ~eps·‖Σ‖; their square roots (~1e-8·‖Σ‖^½ each,
    # hundreds of them when n < d) would bias the trace. Zero them.
    tol = max(w.max(), 0.0) * len(w) * np.finfo("float64").eps
    w = np.where(w > tol, w, 0.0)
    return (v * np.sqrt(w)) @ v.T


def _trace_sqrt_product(sigma1, sigma2):
    """`Tr((Σ₁Σ₂)^½)` as `Σ √λ(Σ₁^½ Σ₂ Σ₁^½)`, all symmetric PSD."""
    root = _psd_sqrt(sigma1)
    m = root @ sigma2 @ root
    eig = np.linalg.eigvalsh(0.5 * (m + m.T))
    tol = max(eig.max(), 0.0) * len(eig) * np.finfo("float64").eps
    return float(np.sqrt(np.where(eig > tol, eig, 0.0)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between the Gaussians `N(μ₁, Σ₁)` and `N(μ₂, Σ₂)`.

    `‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)` (Heusel et al. 2017,
    https://arxiv.org/abs/1706.08500), in float64.

    The trace of the matrix square root uses that `Σ₁Σ₂` is similar to the
    symmetric PSD matrix `Σ₁^½ Σ₂ Σ₁^½`, so `Tr((Σ₁Σ₂)^½)` is the sum of the
    square roots of its eigenvalues: two symmetric eigendecompositions
    (`numpy.linalg.eigh`, backward stable, real results), eigenvalues below
    the rank tolerance set to zero. `scipy.linalg.sqrtm(Σ₁ @ Σ₂)` (the
    pytorch-fid recipe) takes the Schur form of a non-symmetric, often
    singular product (always singular with fewer images than feature
    dimensions): it can return complex values with spurious imaginary
    parts, needs an `eps·I` retry, and is several times slower at 2048-d.
    On a rank-deficient 2048-d covariance (500 samples) the FID of a set
    against itself comes out as -5e-13 here and -6e-5 with `sqrtm`.

    Args:
        mu1: array `(d,)`. Mean of the first set.
        sigma1: array `(d, d)`. Covariance of the first set (symmetric PSD).
        mu2: array `(d,)`. Mean of the second set.
        sigma2: array `(d, d)`. Covariance of the second set.

    Returns:
        Python float. It can be slightly negative (rounding, ~1e-12 of the
        trace) for identical statistics.

    Raises:
        ValueError: mismatched shapes, or NaN / infinite values.

    Example:
    >>> mu1, mu2 = np.zeros(2), np.array([3.0, 0.0])
    >>> round(frechet_distance(mu1, np.eye(2), mu2, 4 * np.eye(2)), 6)
    11.0
    """
    mu1 = _matrix(mu1, "mu1", 1)
    mu2 = _matrix(mu2, "mu2", 1)
    sigma1 = _matrix(sigma1, "sigma1", 2)
    sigma2 = _matrix(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            "Mismatched statistics: expected mu1, mu2 of shape (d,) and "
            f"sigma1, sigma2 of shape (d, d). Received: mu1 {mu1.shape}, "
            f"sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}"
        )
    sigma1 = 0.5 * (sigma1 + sigma1.T)
    sigma2 = 0.5 * (sigma2 + sigma2.T)
    diff = mu1 - mu2
    covmean_trace = _trace_sqrt_product(sigma1, sigma2)
    return float(
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * covmean_trace
    )


def kid_from_features(
    real_features,
    fake_features,
    subset_size=1000,
    num_subsets=100,
    seed=0,
    degree=3,
    gamma=None,
    coef0=1.0,
):
    """Kernel Inception Distance: unbiased MMD² averaged over subsets.

    Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401, with the
    polynomial kernel `k(x, y) = (γ·xᵀy + coef0)^degree`, `γ = 1/d`
    (defaults: `(xᵀy/d + 1)³`). With `m = min(subset_size, n_real,
    n_fake)`, each of the `num_subsets` subsets draws, from
    `numpy.random.default_rng(seed)` and in this order,
    `rng.choice(n_real, m, replace=False)` real and
    `rng.choice(n_fake, m, replace=False)` fake features and computes

        MMD²ᵤ = Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1))
                − 2 Σ_{i,j} k(xᵢ,yⱼ)/m²,

    as clean-fid's `kernel_distance` and the authors' code. The estimator is
    unbiased, so it can be negative for close distributions.

    Args:
        real_features: array `(n_real, d)`.
        fake_features: array `(n_fake, d)`.
        subset_size: int. Largest subset size. Defaults to `1000`.
        num_subsets: int. Number of subsets. Defaults to `100`.
        seed: int. Seed of the subset sampling. Defaults to `0`.
        degree: int. Kernel degree. Defaults to `3`.
        gamma: float or `None` (= `1/d`). Defaults to `None`.
        coef0: float. Defaults to `1.0`.

    Returns:
        `(mean, std)`: Python floats, the mean and the standard deviation
        (ddof 0) of the subset estimates.

    Raises:
        ValueError: fewer than two features in a set, mismatched feature
            sizes, or NaN / infinite features.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 8))
    >>> fake = rng.normal(size=(200, 8)) + 0.5  # shifted: KID > 0
    >>> kid, std = kid_from_features(real, fake, subset_size=100,
    ...                              num_subsets=10)
    >>> round(kid, 3), round(std, 3)
    (0.875, 0.123)
    """
    x_all = _matrix(real_features, "real_features", 2)
    y_all = _matrix(fake_features, "fake_features", 2)
    check_int(subset_size=subset_size, num_subsets=num_subsets, degree=degree)
    n1, n2 = len(x_all), len(y_all)
    if min(n1, n2) < 2:
        raise ValueError(
            "KID needs at least 2 real and 2 fake images. Received: "
            f"{n1} real, {n2} fake"
        )
    if x_all.shape[1] != y_all.shape[1]:
        raise ValueError(
            "Real and fake features must have the same size. Received: "
            f"real {x_all.shape}, fake {y_all.shape}"
        )
    d = x_all.shape[1]
    gamma = 1.0 / d if gamma is None else float(gamma)
    m = min(subset_size, n1, n2)
    rng = np.random.default_rng(seed)

    def kernel(a, b):
        return (gamma * (a @ b.T) + coef0) ** degree

    estimates = np.empty(num_subsets)
    for s in range(num_subsets):
        x = x_all[rng.choice(n1, m, replace=False)]
        y = y_all[rng.choice(n2, m, replace=False)]
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        estimates[s] = within - 2.0 * kxy.sum() / (m * m)
    return float(estimates.mean()), float(estimates.std())


class _Moments:
    """Count, mean and centred scatter `Σ(x − μ)(x − μ)ᵀ` in float64.

    Batches are merged with Chan et al.'s pairwise update, which needs the
    same memory as the raw sums `n, Σx, Σxxᵀ` but never subtracts two large
    sums (no cancellation when features have large means).
    """

    def __init__(self):
        self.n = 0
        self.mean = None
        self.scatter = None

    def update(self, features):
        f = np.asarray(features, dtype="float64")
        nb = len(f)
        if nb == 0:
            return
        mean_b = f.mean(axis=0)
        centred = f - mean_b
        scatter_b = centred.T @ centred
        if self.n == 0:
            self.n, self.mean, self.scatter = nb, mean_b, scatter_b
            return
        n = self.n + nb
        delta = mean_b - self.mean
        self.scatter += scatter_b + np.outer(delta, delta) * (self.n * nb / n)
        self.mean = self.mean + delta * (nb / n)
        self.n = n

    def covariance(self):
        return self.scatter / (self.n - 1)


class FrechetInceptionDistance(_FeatureMetric):
    """Streaming Fréchet Inception Distance (FID) between real and fake images.

    Heusel et al. 2017, https://arxiv.org/abs/1706.08500. Images in [-1, 1]
    of any size are mapped to features by the extractor, `batch_size` at a
    time. Per set only the count, mean and centred scatter matrix are kept
    (float64, `d + d²` numbers: 32 MB at d = 2048), never the images or
    features. The result is `frechet_distance` of the two Gaussian fits
    (sample covariance, `n − 1`).

    Default extractor, `"fid_inception_2015"`: the 2015 Inception graph of
    the original FID implementation (TTUR `fid.py`, whose weights
    pytorch-fid ports), downloaded once (89 MB, see
    `pix2pix_keras.fid_inception`). The images go in at their own size,
    as 8-bit values (`round((x + 1) * 127.5)`, as saved image files have),
    and the graph resizes them to 299×299 with TensorFlow's original
    bilinear resize and scales them by `(x - 128) / 128`, exactly as the
    original code does with image files. So the FID of the same two image
    sets (same images, same resolution, same number) is the one TTUR
    computes, and within pytorch-fid's small resize differences of
    pytorch-fid's.

    `"keras_inception_v3"` (or `None`): `keras.applications.InceptionV3(
    include_top=False, pooling="avg")` with `weights`, the default of
    earlier releases: images resized to `input_size` (bilinear,
    antialiased) and fed on Inception's [-1, 1] scale. Its numbers differ
    from published FIDs (other weights, other resizing); compare them only
    with each other. FID is biased upwards for small sets: compare only
    numbers on the same number of images, and prefer
    `KernelInceptionDistance` below a few thousand images.

    Args:
        extractor: `"fid_inception_2015"`, `"keras_inception_v3"` (or
            `None`), a `FIDInception` (from
            `pix2pix_keras.fid_inception.fid_inception_extractor`), a Keras
            model or callable mapping `(b, input_size, input_size, c)`
            images in [-1, 1] to `(b, d)` features (wrap it to change its
            input scale, e.g. `keras.Sequential([layers.Rescaling(127.5,
            offset=127.5), model])` for [0, 255]), or a path: a `.keras`
            model file, an InceptionV3-without-top weights file (`.h5` /
            `.weights.h5`), or the FID Inception archive (`.tgz`) or graph
            (`.pb`). Defaults to `"fid_inception_2015"`.
        weights: where the named extractor's weights come from.
            `"fid_inception_2015"`: `"imagenet"` (download) or the path of
            a local copy of `inception-2015-12-05.tgz` or its graph.
            `"keras_inception_v3"`: `"imagenet"`, `None` (random) or an
            `.h5` file. Defaults to `"imagenet"`.
        input_size: int or `None`. Square size images are resized to;
            `None` feeds them unchanged. The FID Inception graph takes only
            299 or `None` (it resizes itself). Defaults to `299`.
        batch_size: int. Images per extractor call. Defaults to `32`.

    Example:

    ```python
    fid = FrechetInceptionDistance()  # the FID Inception graph
    for source, target in val_ds:
        fid.update_state(real=target, fake=model.generator(source))
    print(fid.result())
    mu, sigma, n = fid.statistics("real")  # keep for later comparisons
    ```

    The test suite uses a tiny extractor instead:

    >>> extractor = keras.Sequential([keras.layers.Flatten()])
    >>> fid = FrechetInceptionDistance(extractor, input_size=2)
    >>> images = np.random.default_rng(0).uniform(-1, 1, (10, 2, 2, 3))
    >>> fid.update_state(real=images, fake=images)
    >>> abs(fid.result()) < 1e-9
    True
    """

    def __init__(
        self,
        extractor=FID_INCEPTION,
        weights="imagenet",
        input_size=299,
        batch_size=32,
    ):
        super().__init__(extractor, weights, input_size, batch_size)
        self.reset_state()

    def update_real(self, images):
        """Adds real images `(n, h, w, c)` in [-1, 1]."""
        self._real.update(self.features(images, "real images"))

    def update_fake(self, images):
        """Adds generated images `(n, h, w, c)` in [-1, 1]."""
        self._fake.update(self.features(images, "fake images"))

    def reset_state(self, keep_real=False):
        """Forgets the fake images, and the real ones unless `keep_real`."""
        if not keep_real:
            self._real = _Moments()
        self._fake = _Moments()

    @property
    def num_real(self):
        return self._real.n

    @property
    def num_fake(self):
        return self._fake.n

    def statistics(self, which="real"):
        """`(mean (d,), covariance (d, d), n)` of `"real"` or `"fake"`."""
        if which not in ("real", "fake"):
            raise ValueError(f"`which` must be 'real' or 'fake'. Received: {which!r}")
        moments = self._real if which == "real" else self._fake
        if moments.n < 2:
            raise ValueError(
                f"FID needs at least 2 {which} images (for a covariance). "
                f"Received: {moments.n}"
            )
        return moments.mean.copy(), moments.covariance(), moments.n

    def result(self):
        """The FID as a Python float.

        Raises:
            ValueError: fewer than 2 real or 2 fake images so far.
        """
        mu1, sigma1, _ = self.statistics("real")
        mu2, sigma2, _ = self.statistics("fake")
        return frechet_distance(mu1, sigma1, mu2, sigma2)


class KernelInceptionDistance(_FeatureMetric):
    """Kernel Inception Distance (KID) between real and fake images.

    Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401: the unbiased
    MMD² with the cubic polynomial kernel, averaged over random subsets (see
    `kid_from_features`). Unlike FID it is unbiased, so it is comparable
    across set sizes and usable on a few hundred images. Features are
    extracted as in `FrechetInceptionDistance` (same arguments) but have to
    be kept: float32, `4·d` bytes per image (8 KB at d = 2048, 80 MB per
    10 000 images). With `max_samples`, each set keeps at most that many
    features, a uniform random sample of everything seen (reservoir
    sampling, algorithm R, seeded by `seed`), so memory stays bounded on
    long streams.

    Args:
        extractor: as in `FrechetInceptionDistance`. Defaults to
            `"fid_inception_2015"`.
        weights: as in `FrechetInceptionDistance`. Defaults to `"imagenet"`.
        input_size: int or `None`. Defaults to `299`.
        batch_size: int. Defaults to `32`.
        subset_size: int. Largest subset size. Defaults to `1000`.
        num_subsets: int. Defaults to `100`.
        max_samples: int or `None`. Reservoir size per set; `None` keeps
            every feature. Defaults to `None`.
        seed: int. Seeds the subsets and the reservoirs. Defaults to `0`.

    Example:

    ```python
    kid = KernelInceptionDistance(extractor=fid.extractor)
    for source, target in val_ds:
        kid.update_state(real=target, fake=model.generator(source))
    mean, std = kid.result(return_std=True)
    ```
    """

    def __init__(
        self,
        extractor=FID_INCEPTION,
        weights="imagenet",
        input_size=299,
        batch_size=32,
        subset_size=1000,
        num_subsets=100,
        max_samples=None,
        seed=0,
    ):
        check_int(subset_size=subset_size, num_subsets=num_subsets)
        if subset_size < 2:
            raise ValueError(
                f"`subset_size` must be >= 2. Received: subset_size={subset_size}"
            )
        if max_samples is not None:
            check_int(minimum=2, max_samples=max_samples)
        super().__init__(extractor, weights, input_size, batch_size)
        self.subset_size = subset_size
        self.num_subsets = num_subsets
        self.max_samples = max_samples
        self.seed = seed
        self.reset_state()

    def reset_state(self, keep_real=False):
        """Forgets the fake features, and the real ones unless `keep_real`."""
        if not keep_real:
            self._sets_real = self._new_set(1)
        self._sets_fake = self._new_set(2)

    def _new_set(self, stream):
        return {
            "chunks": [],
            "seen": 0,
            "rng": np.random.default_rng([self.seed, stream]),
        }

    def _add(self, store, features):
        if self.max_samples is None:
            store["chunks"].append(features)
            store["seen"] += len(features)
            return
        if len(store["chunks"]) != 1:
            store["chunks"] = [np.zeros((0, features.shape[1]), "float32")]
        kept = store["chunks"][0]
        room = self.max_samples - len(kept)
        if room > 0:
            kept = np.concatenate([kept, features[:room]])
            store["seen"] += len(features[:room])
            features = features[room:]
        for row in features:
            store["seen"] += 1
            j = store["rng"].integers(store["seen"])
            if j < self.max_samples:
                kept[j] = row
        store["chunks"][0] = kept

    def update_real(self, images):
        """Adds real images `(n, h, w, c)` in [-1, 1]."""
        self._add(self._sets_real, self.features(images, "real images"))

    def update_fake(self, images):
        """Adds generated images `(n, h, w, c)` in [-1, 1]."""
        self._add(self._sets_fake, self.features(images, "fake images"))

    @property
    def num_real(self):
        """Real images seen (not only kept)."""
        return self._sets_real["seen"]

    @property
    def num_fake(self):
        """Generated images seen (not only kept)."""
        return self._sets_fake["seen"]

    def stored_features(self, which="real"):
        """The kept features `(n, d)` of `"real"` or `"fake"` images."""
        if which not in ("real", "fake"):
            raise ValueError(f"`which` must be 'real' or 'fake'. Received: {which!r}")
        store = self._sets_real if which == "real" else self._sets_fake
        if not store["chunks"]:
            return np.zeros((0, self.feature_dim or 0), "float32")
        return np.concatenate(store["chunks"])

    def result(self, return_std=False):
        """The KID (mean over subsets), or `(mean, std)` with `return_std`.

        Raises:
            ValueError: fewer than 2 real or 2 fake images so far.
        """
        mean, std = kid_from_features(
            self.stored_features("real"),
            self.stored_features("fake"),
            subset_size=self.subset_size,
            num_subsets=self.num_subsets,
            seed=self.seed,
        )
        return (mean, std) if return_std else mean
