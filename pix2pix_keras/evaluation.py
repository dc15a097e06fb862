"""`evaluate()`: score a trained generator on a dataset and write a report."""

import heapq
import json
import math
import os

import numpy as np

from pix2pix_keras import metrics as metrics_lib
from pix2pix_keras.callbacks import make_grid
from pix2pix_keras.callbacks import save_grid
from pix2pix_keras.models.inference import generator_of
from pix2pix_keras.utils import atomic_path
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_subset

__all__ = ["AVAILABLE", "evaluate"]

AVAILABLE = ("l1", "psnr", "ssim", "fid", "kid", "miou")


def evaluate(
    model,
    dataset,
    metrics=("l1", "psnr", "ssim"),
    output_dir=None,
    feature_extractor="fid_inception_2015",
    feature_weights="imagenet",
    segmenter=None,
    num_classes=None,
    ignore_label=None,
    num_examples=4,
    kid_subset_size=1000,
):
    """Scores a generator on a dataset and optionally writes a report.

    Translates every source image of `dataset` with the generator (inference
    mode) and compares the result with the target: mean per-image L1, PSNR
    and SSIM (images in [-1, 1], `max_val=2`), FID and KID between the sets
    of targets and generated images, and the segmentation score ("FCN
    score") of the generated images against label ids.

    With `output_dir`, writes `report.json` (the returned dict plus the
    `num_examples` best and worst images by L1) and `best_worst.png`: the
    best rows first, then the worst, each `source | generated | target`.

    Args:
        model: a `Pix2Pix` model or a generator `keras.Model`.
        dataset: iterable of `(source, target)` or `(source, target, ids)`
            batches in [-1, 1] (e.g. `load_paired_dataset(...,
            training=False)`); ids are needed for `"miou"`.
        metrics: names among `"l1"`, `"psnr"`, `"ssim"`, `"fid"`, `"kid"`,
            `"miou"`. Defaults to `("l1", "psnr", "ssim")`.
        output_dir: str or `None`. Where to write the report. Defaults to
            `None` (no files).
        feature_extractor: the extractor of FID and KID, as `extractor`
            of `FrechetInceptionDistance`: `"fid_inception_2015"` (the
            network of published FIDs), `"keras_inception_v3"` (or `None`),
            a `keras.Model` or a file path. Defaults to
            `"fid_inception_2015"`.
        feature_weights: `weights` of a named extractor: `"imagenet"`
            (download), a local file, or `None` (random, Keras InceptionV3
            only). Defaults to `"imagenet"`.
        segmenter: callable mapping generated images to class logits
            `(b, h, w, C)` or ids `(b, h, w)`; needed for `"miou"`.
        num_classes: int. Classes of the segmenter, for `"miou"`.
        ignore_label: int or `None`. Label id left out of the segmentation
            score (0 for CMP facades). Defaults to `None`.
        num_examples: int >= 0. Best and worst examples kept. Defaults to 4.
        kid_subset_size: int. KID subset size (capped at the number of
            images). Defaults to `1000`.

    Returns:
        dict with `num_images` and one entry per metric (`miou` adds
        `pixel_accuracy`, `class_accuracy`, `per_class_iou`; `kid` adds
        `kid_std`).

    Example:
    >>> model = Pix2Pix(image_size=32,
    ...     generator=UNetGenerator(image_size=32, filters=8),
    ...     discriminator=PatchDiscriminator(image_size=32, filters=8))
    >>> x = np.zeros((3, 32, 32, 3), "float32")
    >>> report = evaluate(model, [(x, x)], metrics=["l1", "psnr"])
    >>> sorted(report)
    ['l1', 'num_images', 'psnr']
    """
    metrics = list(metrics)
    check_subset("metrics", metrics, AVAILABLE)
    check_int(minimum=0, num_examples=num_examples)
    if "miou" in metrics and (segmenter is None or num_classes is None):
        raise ValueError(
            "metrics=['miou'] needs `segmenter` and `num_classes` (and a "
            "dataset that yields (source, target, ids))."
        )
    generator = generator_of(model)
    fid = kid = seg = None
    if "fid" in metrics:
        fid = metrics_lib.FrechetInceptionDistance(
            feature_extractor, weights=feature_weights
        )
    if "kid" in metrics:
        kid_extractor = fid.extractor if fid is not None else feature_extractor
        kid = metrics_lib.KernelInceptionDistance(
            kid_extractor, weights=feature_weights, subset_size=kid_subset_size
        )
    if "miou" in metrics:
        seg = metrics_lib.SegmentationScore(num_classes, ignore_label=ignore_label)

    sums = {m: 0.0 for m in ("l1", "psnr", "ssim") if m in metrics}
    best, worst = [], []  # heaps of (score, counter, images)
    n = 0
    for batch in dataset:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(
                "`dataset` must yield (source, target) or (source, target, "
                "ids) batches."
            )
        source = np.asarray(batch[0], "float32")
        target = np.asarray(batch[1], "float32")
        fake = np.asarray(generator(source, training=False), "float32")
        if fake.shape != target.shape:
            raise ValueError(
                f"Generated images {fake.shape} and targets {target.shape} "
                "differ in shape."
            )
        per_image_l1 = np.asarray(metrics_lib.l1(target, fake), "float64")
        if "l1" in sums:
            sums["l1"] += per_image_l1.sum()
        if "psnr" in sums:
            values = np.minimum(np.asarray(metrics_lib.psnr(target, fake)), 100.0)
            sums["psnr"] += float(values.sum())
        if "ssim" in sums:
            sums["ssim"] += float(np.asarray(metrics_lib.ssim(target, fake)).sum())
        if fid is not None:
            fid.update_state(real=target, fake=fake)
        if kid is not None:
            kid.update_state(real=target, fake=fake)
        if seg is not None:
            if len(batch) != 3:
                raise ValueError(
                    "metrics=['miou'] needs (source, target, ids) batches."
                )
            seg.update_state(np.asarray(batch[2]), np.asarray(segmenter(fake)))
        for i, score in enumerate(per_image_l1):
            item = (source[i], fake[i], target[i])
            for heap, key in ((best, -score), (worst, score)):
                entry = (key, n + i, item)
                if len(heap) < num_examples:
                    heapq.heappush(heap, entry)
                elif num_examples and key > heap[0][0]:
                    heapq.heapreplace(heap, entry)
        n += len(source)
    if n == 0:
        raise ValueError("`dataset` yielded no images.")

    report = {"num_images": n}
    for key, total in sums.items():
        report[key] = total / n
    if fid is not None:
        report["fid"] = float(fid.result())
    if kid is not None:
        mean, std = kid.result(return_std=True)
        report["kid"], report["kid_std"] = float(mean), float(std)
    if seg is not None:
        scores = seg.result()
        report["miou"] = scores["miou"]
        report["pixel_accuracy"] = scores["pixel_accuracy"]
        report["class_accuracy"] = scores["class_accuracy"]
        report["per_class_iou"] = scores["per_class_iou"]

    if output_dir is not None:
        os.makedirs(output_dir, exist_ok=True)
        best_items = sorted(best, key=lambda e: -e[0])  # lowest L1 first
        worst_items = sorted(worst, key=lambda e: -e[0])  # highest L1 first
        examples = {
            "best": [{"index": e[1], "l1": -e[0]} for e in best_items],
            "worst": [{"index": e[1], "l1": e[0]} for e in worst_items],
        }
        rows = [e[2] for e in best_items + worst_items]
        if rows:
            grid = make_grid(*(np.stack(col) for col in zip(*rows)))
            save_grid(os.path.join(output_dir, "best_worst.png"), grid)
        with atomic_path(os.path.join(output_dir, "report.json")) as tmp:
            with open(tmp, "w") as f:
                json.dump({**_jsonable(report), "examples": examples}, f, indent=2)
    return report


def _jsonable(report):
    out = {}
    for k, v in report.items():
        if isinstance(v, list):
            out[k] = [None if isinstance(x, float) and math.isnan(x) else x for x in v]
        elif isinstance(v, float) and math.isnan(v):
            out[k] = None
        else:
            out[k] = v
    return out
