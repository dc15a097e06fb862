"""Writes the PyTorch-reference fixtures of tests/test_convert.py.

Run once with an environment that has torch (not a dependency of the
package or of its tests) and a copy of the reference's generator code
(`models/networks.py` of junyanz/pytorch-CycleGAN-and-pix2pix, or a file
with the same `define_G`):

    python tools/make_pytorch_fixtures.py path/to/networks.py

It writes to tests/data/pytorch/:

- small reference checkpoints (`ngf` 1 or 2) with random weights and
  batch-norm running statistics from a few training-mode passes:
  `unet128_batch.pth`, `unet128_instance.pth`, `unet128_none.pth` (zip
  format, torch >= 1.6) and `resnet6_batch.pth` in both the zip and the
  legacy (pre-1.6) format, the legacy one with `DataParallel`'s `module.`
  prefix;
- `<name>.npz`: the input (`input`, uint8 NHWC; the network sees
  `input / 127.5 - 1`), the reference's output in training mode at batch 1
  (`train`: batch norm on the image's statistics, dropout layers switched
  off so the output is deterministic) and in eval mode (`eval`: running
  statistics; only with batch norm, the other nets compute the same in
  both modes), float32 NHWC;
- `reference_keys.json`: the state_dict keys and shapes of the published
  architectures (`unet_256`, `unet_128`, `resnet_9blocks`,
  `resnet_6blocks` at ngf=64, batch norm, dropout) for the key-layout test.
"""

import argparse
import copy
import importlib.util
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "pytorch")

FIXTURES = {
    # name: (netG, ngf, norm, input_nc, output_nc, size)
    "unet128_batch": ("unet_128", 2, "batch", 3, 1, 128),
    "unet128_instance": ("unet_128", 1, "instance", 3, 1, 128),
    "unet128_none": ("unet_128", 1, "none", 3, 1, 128),
    "resnet6_batch": ("resnet_6blocks", 2, "batch", 3, 3, 32),
}


def _load_networks(path):
    spec = importlib.util.spec_from_file_location("reference_networks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _randomize(net, gen):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.2, generator=gen)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.1, generator=gen)


def _outputs(net, x):
    net.eval()
    with torch.no_grad():
        evaluated = net(x).numpy()
    net = copy.deepcopy(net)  # a training-mode pass updates running stats
    net.train()
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    with torch.no_grad():
        trained = net(x).numpy()
    return trained.transpose(0, 2, 3, 1), evaluated.transpose(0, 2, 3, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("networks", help="the reference's networks.py")
    args = parser.parse_args()
    networks = _load_networks(args.networks)
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    for name, (net_g, ngf, norm, in_nc, out_nc, size) in FIXTURES.items():
        net = networks.define_G(in_nc, out_nc, ngf, net_g, norm=norm, use_dropout=True)
        _randomize(net, gen)
        net.train()
        with torch.no_grad():  # running statistics
            for _ in range(5):
                net(torch.rand(2, in_nc, size, size, generator=gen) * 2 - 1)
        image = rng.integers(0, 256, (1, size, size, in_nc), dtype=np.uint8)
        x = torch.from_numpy(
            image.astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0
        )
        trained, evaluated = _outputs(net, x)
        state = net.state_dict()
        torch.save(state, os.path.join(OUT, f"{name}.pth"))
        if name.startswith("resnet"):
            legacy = {f"module.{k}": v for k, v in state.items()}
            torch.save(
                legacy,
                os.path.join(OUT, f"{name}_legacy.pth"),
                _use_new_zipfile_serialization=False,
            )
        arrays = dict(input=image, train=trained)
        if norm == "batch":  # otherwise both modes compute the same
            arrays["eval"] = evaluated
        else:
            assert np.array_equal(trained, evaluated)
        np.savez_compressed(os.path.join(OUT, f"{name}.npz"), **arrays)
        print(name, net_g, f"ngf={ngf}", norm, trained.shape)
    keys = {}
    for net_g in ("unet_256", "unet_128", "resnet_9blocks", "resnet_6blocks"):
        net = networks.define_G(3, 3, 64, net_g, norm="batch", use_dropout=True)
        keys[net_g] = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    with open(os.path.join(OUT, "reference_keys.json"), "w") as f:
        json.dump(keys, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
