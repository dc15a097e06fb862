"""`pix2pix presets` and `pix2pix datasets`: the registries of the
pretrained models and the official datasets (no TensorFlow needed to list
them)."""

import json

from pix2pix_keras import datasets as datasets_lib
from pix2pix_keras import pretrained as pretrained_lib
from pix2pix_keras.cli.common import EXIT_OK
from pix2pix_keras.cli.common import UsageError

__all__ = ["cmd_datasets_download", "cmd_datasets_list", "cmd_presets"]


def cmd_presets(args):
    infos = pretrained_lib.list_pretrained()
    if args.json:
        print(
            json.dumps(
                {
                    name: {
                        "task": i.task,
                        "dataset": i.dataset,
                        "direction": i.direction,
                        "image_size": i.image_size,
                        "netG": i.netG,
                        "origin": i.origin,
                        "file_hash": i.file_hash,
                    }
                    for name, i in infos.items()
                },
                indent=2,
            )
        )
        return EXIT_OK
    width = max(len(n) for n in infos)
    task = max(len(i.task) for i in infos.values())
    print(f"{'name':<{width}}  {'task':<{task}}  {'dataset':<11}  direction  input")
    for name, i in infos.items():
        print(
            f"{name:<{width}}  {i.task:<{task}}  {i.dataset:<11}  "
            f"{i.direction:<9}  {i.image_size}x{i.image_size}"
        )
    return EXIT_OK


# ----------------------------------------------------------------------


def cmd_datasets_list(args):
    infos = datasets_lib.list_datasets()
    if args.json:
        print(
            json.dumps(
                {
                    name: {
                        "origin": i.origin,
                        "splits": list(i.splits),
                        "direction": i.direction,
                        "size": i.size,
                        "description": i.description,
                    }
                    for name, i in infos.items()
                },
                indent=2,
            )
        )
        return EXIT_OK
    width = max(len(n) for n in infos)
    print(f"{'name':<{width}}  {'size':>7}  direction  splits")
    for name, info in infos.items():
        print(
            f"{name:<{width}}  {info.size:>7}  {info.direction:<9}  "
            f"{','.join(info.splits)}"
        )
    return EXIT_OK


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
