"""The "FCN score" of the pix2pix paper: `SegmentationScore` and
`fcn_score`."""

import keras
import numpy as np
from keras import ops

from pix2pix_keras.metrics._checks import check_image_range
from pix2pix_keras.utils import check_int

__all__ = ["SegmentationScore", "fcn_score"]


class SegmentationScore:
    """Streaming confusion matrix → per-class IoU, mIoU, pixel / class accuracy.

    The "FCN score" of the pix2pix paper (Isola et al. 2017,
    https://arxiv.org/abs/1611.07004, §4.2): segment generated photos with
    a segmentation network and score its output against the label maps the
    photos were generated from. Same formulas as the FCN `score.py` used by
    pix2pix's `scripts/eval_cityscapes`, from the confusion matrix `C` (rows
    true class, columns predicted class, counted in int64):

    - `per_class_iou[k] = C[k,k] / (Σⱼ C[k,j] + Σᵢ C[i,k] − C[k,k])`, NaN for
      a class neither in the labels nor predicted, and for `ignore_label`;
      a class predicted but absent from the labels scores 0;
    - `miou`: mean of the non-NaN IoUs;
    - `pixel_accuracy = trace(C) / ΣC`;
    - `per_class_accuracy[k] = C[k,k] / Σⱼ C[k,j]` (recall; NaN for classes
      absent from the labels) and `class_accuracy`, their non-NaN mean.

    Pixels labelled `ignore_label` are left out of every count (whatever is
    predicted there). Predictions of the ignore class elsewhere count as
    errors.

    Args:
        num_classes: int >= 2. Class ids are `0 .. num_classes - 1`.
        ignore_label: int or `None`. Label id to leave out; it may be a
            class id (e.g. 0 = "unlabelled") or outside the range (e.g. 255).
            Defaults to `None`.

    Example: CMP facades (label maps of ids 1–12, 13 classes with id 0
    unused: `num_classes=13, ignore_label=0`), scoring a labels → photo
    model with a facade segmenter of your own (any callable returning logits
    `(b, h, w, 13)` or ids `(b, h, w)` for photos in [-1, 1]):

    ```python
    import pix2pix_keras as pk

    ds = pk.load_paired_dataset(
        "cmp_facades/val", direction="BtoA",
        labels=pk.facades_labels(), with_label_ids=True, training=False,
        batch_size=4)  # (label map, photo, ids)
    segmenter = keras.models.load_model("facade_segmenter.keras")
    scores = fcn_score(segmenter, ds, num_classes=13, ignore_label=0,
                       generator=model.generator)
    scores["miou"], scores["per_class_iou"][1:]  # 12 classes; [0] is NaN
    ```

    Run the segmenter on the real photos too (`generator=None` and a
    dataset of `(photo, ids)`): that is the ceiling the generated photos are
    compared with.

    >>> score = SegmentationScore(num_classes=3)
    >>> score.update_state([[[0, 1], [2, 2]]], [[[0, 1], [2, 1]]])
    >>> r = score.result()
    >>> [round(v, 4) for v in r["per_class_iou"]], round(r["miou"], 4)
    ([1.0, 0.5, 0.5], 0.6667)
    >>> r["pixel_accuracy"], round(r["class_accuracy"], 4)
    (0.75, 0.8333)
    """

    def __init__(self, num_classes, ignore_label=None):
        check_int(minimum=2, num_classes=num_classes)
        if ignore_label is not None and (
            isinstance(ignore_label, bool)
            or not isinstance(ignore_label, (int, np.integer))
        ):
            raise ValueError(
                "`ignore_label` must be an int or None. "
                f"Received: ignore_label={ignore_label!r}"
            )
        self.num_classes = num_classes
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        self.reset_state()

    def reset_state(self):
        self.confusion_matrix = np.zeros(
            (self.num_classes, self.num_classes), dtype="int64"
        )

    def _ids(self, x, name, allow_logits):
        x = np.asarray(ops.convert_to_numpy(x))
        if allow_logits and x.ndim == 4 and x.shape[-1] == self.num_classes:
            return np.argmax(x, axis=-1)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3:
            expected = "(b, h, w) ids" + (
                f" or (b, h, w, {self.num_classes}) logits" if allow_logits else ""
            )
            raise ValueError(f"`{name}` must be {expected}. Received shape {x.shape}")
        if not np.issubdtype(x.dtype, np.integer):
            if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
                raise ValueError(
                    f"`{name}` holds class ids and must be integers. "
                    f"Received dtype {x.dtype} with non-integer values."
                )
        return x.astype("int64")

    def update_state(self, y_true, y_pred):
        """Adds a batch.

        Args:
            y_true: int array `(b, h, w)` (or `(b, h, w, 1)`) of label ids.
            y_pred: logits `(b, h, w, num_classes)` or ids `(b, h, w)`.

        Raises:
            ValueError: shapes that differ, or ids outside
                `[0, num_classes)` (other than `ignore_label` in `y_true`).
        """
        t = self._ids(y_true, "y_true", allow_logits=False)
        p = self._ids(y_pred, "y_pred", allow_logits=True)
        if t.shape != p.shape:
            raise ValueError(
                "Label maps and predictions must have the same (b, h, w). "
                f"Received: y_true {t.shape}, y_pred {p.shape}"
            )
        valid = (
            np.ones(t.shape, bool)
            if self.ignore_label is None
            else (t != self.ignore_label)
        )
        t, p = t[valid], p[valid]
        c = self.num_classes
        for name, ids in (("y_true", t), ("y_pred", p)):
            if ids.size and (ids.min() < 0 or ids.max() >= c):
                raise ValueError(
                    f"`{name}` has ids outside [0, {c}) "
                    f"(min {ids.min()}, max {ids.max()}); "
                    f"ignore_label={self.ignore_label}."
                )
        self.confusion_matrix += np.bincount(t * c + p, minlength=c * c).reshape(c, c)

    def result(self):
        """The scores as a dict of Python floats and lists.

        Keys: `per_class_iou`, `miou`, `pixel_accuracy`,
        `per_class_accuracy`, `class_accuracy`, `num_pixels`.

        Raises:
            ValueError: no labelled pixel seen yet.
        """
        cm = self.confusion_matrix
        total = int(cm.sum())
        if total == 0:
            raise ValueError(
                "No labelled pixels yet: call update_state() with label maps "
                "that are not all `ignore_label`."
            )
        tp = np.diag(cm).astype("float64")
        gt = cm.sum(axis=1).astype("float64")
        pred = cm.sum(axis=0).astype("float64")
        union = gt + pred - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / union, np.nan)
            acc = np.where(gt > 0, tp / gt, np.nan)
        if self.ignore_label is not None and 0 <= self.ignore_label < len(iou):
            iou[self.ignore_label] = np.nan
            acc[self.ignore_label] = np.nan

        def nanmean(v):
            v = v[~np.isnan(v)]
            return float(v.mean()) if v.size else float("nan")

        return {
            "per_class_iou": iou.tolist(),
            "miou": nanmean(iou),
            "pixel_accuracy": float(tp.sum() / total),
            "per_class_accuracy": acc.tolist(),
            "class_accuracy": nanmean(acc),
            "num_pixels": total,
        }


def fcn_score(segmenter, dataset, num_classes, ignore_label=None, generator=None):
    """Segments images and scores them against label maps (the FCN score).

    Args:
        segmenter: Keras model or callable: images `(b, h, w, 3)` in
            [-1, 1] → logits `(b, h, w, num_classes)` or ids `(b, h, w)` at
            the label maps' resolution.
        dataset: iterable of batches (e.g. a `tf.data.Dataset`). Without
            `generator`: `(images, ids)`. With `generator`: tuples whose
            first element is the generator's input and last element the ids,
            e.g. the `(source, target, ids)` of
            `load_paired_dataset(..., with_label_ids=True)`.
        num_classes: int. Number of classes (13 for CMP facades).
        ignore_label: int or `None`. See `SegmentationScore` (0 for CMP
            facades). Defaults to `None`.
        generator: Keras model or `None`. Translates the first element of
            each batch into the images to segment. Defaults to `None`.

    Returns:
        The dict of `SegmentationScore.result()`.

    Example:
    >>> ids = np.array([[[1, 2], [2, 0]]])
    >>> images = ids[..., None] / 2.0 - 0.5  # a toy "photo"
    >>> segmenter = lambda x: np.round((x[..., 0] + 0.5) * 2)
    >>> fcn_score(segmenter, [(images, ids)], 3, ignore_label=0)["miou"]
    1.0
    """
    score = SegmentationScore(num_classes, ignore_label=ignore_label)
    for batch in dataset:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(
                "Each dataset element must be a tuple (images, ..., ids). "
                f"Received: {type(batch).__name__}"
            )
        images, ids = batch[0], batch[-1]
        if generator is not None:
            images = generator(images, training=False)
        else:
            check_image_range(images, "images")
        if isinstance(segmenter, keras.Layer):
            prediction = segmenter(images, training=False)
        else:
            prediction = segmenter(images)
        score.update_state(ids, prediction)
    return score.result()
