"""`pix2pix presets` and `pix2pix datasets`: the registries of the
pretrained models and the official datasets (no TensorFlow needed to list
them)."""

import json

from pix2pix_keras import datasets as datasets_lib
from pix2pix_keras import pretrained as pretrained_lib
from pix2pix_keras.cli.common import EXIT_OK
from pix2pix_keras.cli.common import UsageError

__all__ = ["cmd_datasets_download", "cmd_datasets_list", "cmd_presets"]


def _print_registry(args, infos, keys, header, row):
    """Prints the registry `infos`: with `--json`, the `keys` of each entry
    as JSON (a tuple as a list), else the table line `header(width)` and a
    line `row(name, info, width)` an entry, `width` being the longest name's.
    """
    if args.json:
        print(
            json.dumps(
                {n: {k: getattr(i, k) for k in keys} for n, i in infos.items()},
                indent=2,
            )
        )
        return EXIT_OK
    width = max(len(n) for n in infos)
    print(header(width))
    for name, info in infos.items():
        print(row(name, info, width))
    return EXIT_OK


def cmd_presets(args):
    infos = pretrained_lib.list_pretrained()
    task = max(len(i.task) for i in infos.values())
    return _print_registry(
        args,
        infos,
        ("task", "dataset", "direction", "image_size", "netG", "origin", "file_hash"),
        lambda width: (
            f"{'name':<{width}}  {'task':<{task}}  {'dataset':<11}  direction  input"
        ),
        lambda name, i, width: (
            f"{name:<{width}}  {i.task:<{task}}  {i.dataset:<11}  "
            f"{i.direction:<9}  {i.image_size}x{i.image_size}"
        ),
    )


# ----------------------------------------------------------------------


def cmd_datasets_list(args):
    return _print_registry(
        args,
        datasets_lib.list_datasets(),
        ("origin", "splits", "direction", "size", "description"),
        lambda width: f"{'name':<{width}}  {'size':>7}  direction  splits",
        lambda name, info, width: (
            f"{name:<{width}}  {info.size:>7}  {info.direction:<9}  "
            f"{','.join(info.splits)}"
        ),
    )


def cmd_datasets_download(args):
    infos = datasets_lib.list_datasets()
    if args.name not in infos:
        raise UsageError(
            f"unknown dataset {args.name!r}; available: {', '.join(infos)}"
        )
    root = datasets_lib.download(
        args.name,
        directory=args.directory,
        origin=args.origin,
        file_hash=args.file_hash,
    )
    print(root)
    return EXIT_OK
