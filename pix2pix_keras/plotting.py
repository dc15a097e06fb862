"""Figures of paired datasets: example grids and augmentation galleries.

The figures are plain `matplotlib.figure.Figure` objects (no pyplot state),
so they work headless, in scripts and in tests; in a notebook, display them
with `display(fig)` or as a cell's last expression (after
`%matplotlib inline`).
"""

import os

import numpy as np

from pix2pix_keras.callbacks import to_display
from pix2pix_keras.data import load_paired_dataset
from pix2pix_keras.utils import atomic_path
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_subset

__all__ = [
    "COLUMNS",
    "PANEL_INCHES",
    "ids_to_display",
    "show_augmentations",
    "show_pairs",
]

COLUMNS = ("source", "target", "ids")
PANEL_INCHES = 2.0


def ids_to_display(ids):
    """Maps class ids `(n, h, w)` to RGB floats in [0, 1] (fixed colours).

    Id `k` gets the same colour in every figure (a seeded random palette of
    256 colours), and the colour `to_display` gives channel `k` of a one-hot
    map, so ids and one-hot label maps look alike.

    Example:
    >>> ids_to_display(np.zeros((1, 2, 2), "int32")).shape
    (1, 2, 2, 3)
    """
    ids = np.asarray(ids)
    if ids.ndim != 3:
        raise ValueError(f"Expected ids of shape (n, h, w). Received {ids.shape}")
    palette = np.random.default_rng(0).uniform(0.0, 1.0, (256, 3))
    return palette[np.clip(ids, 0, 255).astype("int64")].astype("float32")


def _check_columns(columns):
    if isinstance(columns, str):
        columns = (columns,)
    columns = tuple(columns)
    check_subset("columns", columns, COLUMNS, "sequence")
    return columns


def _panels(element, columns):
    """One example `(source, target[, ids])` → display images per column."""
    if not isinstance(element, (tuple, list)) or len(element) not in (2, 3):
        raise ValueError(
            "Expected (source, target) or (source, target, ids) elements. "
            f"Received a {type(element).__name__}"
            + (
                f" of length {len(element)}"
                if isinstance(element, (tuple, list))
                else ""
            )
        )
    out = []
    for c in columns:
        i = COLUMNS.index(c)
        if i >= len(element):
            raise ValueError(
                "Column 'ids' needs (source, target, ids) elements, e.g. "
                "load_paired_dataset(..., with_label_ids=True)."
            )
        x = np.asarray(element[i])[None]
        out.append(ids_to_display(x)[0] if c == "ids" else to_display(x)[0])
    return out


def _examples(data, n):
    """Yields up to `n` single examples from a dataset of batches or a batch."""
    if hasattr(data, "element_spec"):
        batches = (tuple(t.numpy() for t in b) for b in data)
    else:
        batches = [tuple(data)]
    count = 0
    for batch in batches:
        for j in range(len(batch[0])):
            yield tuple(t[j] for t in batch)
            count += 1
            if count == n:
                return


def _figure(rows, columns, row_labels=None, title=None, figsize=None, dpi=100):
    """Draws `rows` (lists of RGB images) into a new Figure."""
    from matplotlib.figure import Figure

    if figsize is None:
        figsize = (PANEL_INCHES * len(columns), PANEL_INCHES * len(rows))
    fig = Figure(figsize=figsize, dpi=dpi)
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, panels in enumerate(rows):
        for c, image in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=9)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=9)
    if title is not None:
        fig.suptitle(title)
    return fig


def _save(fig, path):
    if path is not None:
        # No bbox_inches="tight": the PNG is exactly figsize × dpi pixels.
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=fig.dpi)


def show_pairs(
    dataset,
    n=4,
    columns=("source", "target"),
    title=None,
    path=None,
    figsize=None,
    dpi=100,
):
    """Shows the first `n` examples of a paired dataset, one per row.

    Images in [-1, 1] are shown with `pix2pix_keras.callbacks.to_display`
    (1 channel as grey, 3 as RGB, other counts such as one-hot label maps as
    their argmax in fixed colours); int class ids with `ids_to_display`.

    Args:
        dataset: `tf.data.Dataset` of `(source, target)` or
            `(source, target, ids)` batches (as `load_paired_dataset` yields),
            or one such batch as a tuple of arrays.
        n: int >= 1. Examples (rows); fewer if the data ends first.
            Defaults to `4`.
        columns: sequence of `"source"`, `"target"`, `"ids"`: what each
            column shows, in order. Defaults to `("source", "target")`.
        title: str or `None`. Figure title. Defaults to `None`.
        path: str or `None`. Also write the figure as a PNG of exactly
            `figsize × dpi` pixels, atomically. Defaults to `None`.
        figsize: `(width, height)` in inches or `None` for 2 inches per
            panel. Defaults to `None`.
        dpi: int. Resolution of the figure and of the PNG. Defaults to
            `100`.

    Returns:
        A `matplotlib.figure.Figure` with `rows × len(columns)` axes.

    Raises:
        ValueError: for unknown `columns`, `"ids"` without ids in the data,
            or an empty dataset.

    Example:
    >>> from pix2pix_keras.plotting import show_pairs
    >>> ds = load_paired_dataset(sample_data_dir("val"), direction="BtoA",
    ...                          image_size=64, training=False, batch_size=2)
    >>> fig = show_pairs(ds, n=3, title="val")
    >>> len(fig.axes), fig.axes[0].get_title()
    (6, 'source')
    """
    check_int(n=n)
    columns = _check_columns(columns)
    rows = [_panels(e, columns) for e in _examples(dataset, n)]
    if not rows:
        raise ValueError("The dataset yielded no examples.")
    fig = _figure(rows, columns, title=title, figsize=figsize, dpi=dpi)
    _save(fig, path)
    return fig


def show_augmentations(
    data,
    n_variants=4,
    index=0,
    seeds=None,
    columns=("source", "target"),
    title=None,
    path=None,
    figsize=None,
    dpi=100,
    **load_kwargs,
):
    """Shows ONE pair under `n_variants` different random augmentations.

    Each row is the pair number `index` of a training pipeline built with a
    different seed, so every row has its own random crop, flip, elastic
    deformation and colour jitter, while source and target within a row stay
    aligned.

    Args:
        data: a data folder (str or path), read with
            `load_paired_dataset(data, training=True, shuffle=False,
            seed=seed, **load_kwargs)`; or a function `seed -> dataset`
            whose datasets yield the same pairs in the same order for every
            seed (no shuffling).
        n_variants: int >= 1. Rows. Defaults to `4`.
        index: int >= 0. Which pair (in file order). Defaults to `0`.
        seeds: list of `n_variants` ints or `None` for `0, 1, ...`.
            Defaults to `None`.
        columns: what each column shows, see `show_pairs`. Defaults to
            `("source", "target")`.
        title: str or `None`. Figure title. Defaults to `None`.
        path: str or `None`. Also write a PNG, see `show_pairs`. Defaults
            to `None`.
        figsize: `(width, height)` in inches or `None`. Defaults to `None`.
        dpi: int. Defaults to `100`.
        **load_kwargs: passed to `load_paired_dataset` when `data` is a
            folder (e.g. `direction`, `labels`, `augment`, `image_size`).

    Returns:
        A `matplotlib.figure.Figure` with `n_variants × len(columns)` axes;
        rows are labelled with their seed.

    Example:
    >>> from pix2pix_keras.augment import Augment
    >>> from pix2pix_keras.plotting import show_augmentations
    >>> fig = show_augmentations(
    ...     sample_data_dir("train"), n_variants=3, direction="BtoA",
    ...     image_size=64, load_size=72, labels=facades_labels(),
    ...     augment=Augment(elastic=True, color_jitter={"brightness": 0.3},
    ...                     color_jitter_side="target"))
    >>> len(fig.axes), fig.axes[2].get_ylabel()
    (6, 'seed 1')
    """
    check_int(n_variants=n_variants)
    check_int(minimum=0, index=index)
    columns = _check_columns(columns)
    seeds = list(range(n_variants)) if seeds is None else list(seeds)
    if len(seeds) != n_variants:
        raise ValueError(
            f"`seeds` must hold n_variants={n_variants} seeds. Received: "
            f"seeds={seeds!r}"
        )
    if callable(data):
        if load_kwargs:
            raise ValueError(
                "`load_kwargs` are only used with a data folder; received "
                f"a function and {sorted(load_kwargs)}."
            )
        factory = data
    else:
        directory = os.fspath(data)
        for key in ("training", "shuffle", "seed"):
            if key in load_kwargs:
                raise ValueError(
                    f"show_augmentations sets `{key}` itself (training=True, "
                    "shuffle=False, one seed per variant)."
                )

        # Only the first index + 1 pairs are read: a cache would be dropped.
        load_kwargs.setdefault("cache", False)

        def factory(seed):
            return load_paired_dataset(
                directory,
                training=True,
                shuffle=False,
                seed=seed,
                **load_kwargs,
            )

    rows = []
    for seed in seeds:
        dataset = factory(seed).unbatch().skip(index).take(1)
        element = next(iter(dataset), None)
        if element is None:
            raise ValueError(
                f"index={index} is past the end of the dataset (seed {seed})."
            )
        rows.append(_panels(tuple(t.numpy() for t in element), columns))
    fig = _figure(
        rows,
        columns,
        row_labels=[f"seed {s}" for s in seeds],
        title=title,
        figsize=figsize,
        dpi=dpi,
    )
    _save(fig, path)
    return fig
