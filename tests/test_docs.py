"""Runs every ```python block of the docs pages and of the README.

Each page's blocks run in order, in one namespace, in a temporary working
directory; then a per-page check asserts what the page promises. A page
that gains Python blocks must get a check here or be run by another test
module (`test_every_page_with_python_blocks_is_checked`). Blocks that
cannot run in the tests (a GPU, a cluster, hours of training, the
internet) are fenced as ```text or ```bash instead.
"""

import glob
import importlib.util
import json
import os
import re
import sys

import numpy as np
import pytest

from tests._helpers import DOCS
from tests._helpers import PIX2PIX_LOGS
from tests._helpers import ROOT
from tests._helpers import python_blocks
from tests._helpers import read_page
from tests._helpers import run_page

FENCE = re.compile(r"^[ \t]*```(\S*)", flags=re.M)


CHECKS = {}


def check(page, num_blocks):
    """Registers the check of `page`, which has at least `num_blocks` blocks."""

    def register(fn):
        CHECKS[page] = (num_blocks, fn)
        return fn

    return register


@check("index.md", 3)
def _index(ns, tmp_path):
    assert ns["model"].g_optimizer.global_clipnorm == 1.0
    assert ns["pk"].receptive_field(3) == 70


@check("quickstart.md", 4)
def _quickstart(ns, tmp_path):
    assert tuple(ns["labels"].shape) == (6, 64, 64, 3)
    assert sorted(ns["history"].history) == [
        "d_fake",
        "d_loss",
        "d_lr",
        "d_real",
        "g_gan",
        "g_l1",
        "g_loss",
        "g_lr",
        "val_d_fake",
        "val_d_loss",
        "val_d_real",
        "val_g_gan",
        "val_g_l1",
        "val_g_loss",
        "val_psnr",
        "val_ssim",
    ]
    assert ns["grid"].shape == (394, 196, 3)
    assert sorted(ns["report"]) == ["l1", "num_images", "psnr", "ssim"]
    run = tmp_path / "runs" / "quickstart"
    for name in (
        "samples_latest.png",
        "model.keras",
        "report/report.json",
        "report/best_worst.png",
        "savedmodel/saved_model.pb",
    ):
        assert (run / name).is_file(), name


@check("data.md", 9)
def _data(ns, tmp_path):
    assert len(ns["fig"].axes) == 8
    assert ns["layout"] == "stems" and len(ns["a_paths"]) == 24


@check("architectures.md", 4)
def _architectures(ns, tmp_path):
    assert [t.name for t in ns["noisy"].inputs] == ["image", "latent"]
    assert int(ns["noisy_model"].g_optimizer.iterations) == 1
    assert ns["alpha"].shape == (2, 16, 16, 1)
    assert [tuple(t.shape) for t in ns["logits"]] == [(2, 14, 14, 1), (2, 6, 6, 1)]
    assert sorted(ns["history"].history) == [
        "d_fake",
        "d_loss",
        "d_real",
        "g_fm",
        "g_gan",
        "g_l1",
        "g_loss",
        "g_vgg",
    ]


@check("subclassing.md", 7)
def _subclassing(ns, tmp_path):
    # The example saves the model and reloads it as the subclass, with the
    # optimizers restored (2 steps before the save, 2 after).
    restored = ns["restored"]
    assert type(restored.generator).__name__ == "ResidualUNet"
    assert int(restored.g_optimizer.iterations) == 4
    assert ns["extra"] == 24640
    # The step subclasses: an extra logged loss term, and a replaced D
    # update that d_every still skips; both reload as their class.
    assert "g_edge" in ns["edge_history"].history
    assert type(ns["edge_restored"]).__name__ == "EdgePix2Pix"
    clipped = ns["clipped_restored"]
    assert type(clipped).__name__ == "ClippedDPix2Pix"
    assert int(clipped.d_optimizer.iterations) == 2
    assert int(clipped.step_counter) == 4


@check("training_tips.md", 7)
def _training_tips(ns, tmp_path):
    assert ns["finding"]["row"] == "non_finite"
    assert ns["history"].history["lambda_l1"] == [100.0, 55.0]


@check("evaluation.md", 4)
def _evaluation(ns, tmp_path):
    assert ns["report"]["num_images"] == 6
    assert ns["history"].history["val_fid_proxy"][0] > 0
    assert ns["scores"]["miou"] == 1.0


@check("inference.md", 4)
def _inference(ns, tmp_path):
    assert ns["big"].shape == (300, 517, 3)
    assert ns["error"](ns["exact"]) < 1e-5 and ns["error"](ns["plain"]) > 0.01
    assert (tmp_path / "stochastic.keras").is_file()
    assert (tmp_path / "stochastic_savedmodel" / "saved_model.pb").is_file()
    b, c = ns["b"], ns["c"]
    assert (b != c).mean() > 0.5


@check("saving.md", 12)
def _saving(ns, tmp_path):
    assert ns["onnx_diff"] < 1e-5 and ns["litert_diff"] < 1e-5
    assert ns["y_onnx"].shape == ns["y_litert"].shape == (4, 32, 32, 3)
    assert int(ns["restored"].g_optimizer.iterations) == 4
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["epoch_01.keras", "epoch_02.keras"]
    assert (tmp_path / "serving" / "pix2pix" / "1" / "saved_model.pb").is_file()
    assert ns["predictions"].shape == (1, 32, 32, 3)
    assert len(ns["tflite_bytes"]) > 1000


@check("reliability.md", 2)
def _reliability(ns, tmp_path):
    assert ns["error"].step == 2
    assert ns["history"].history["skipped_steps"] == [1.0, 1.0]


@check("distributed.md", 1)
def _distributed(ns, tmp_path):
    # A MirroredStrategy over the visible devices (the CPU here).
    assert len(python_blocks("distributed.md")) == 1
    assert ns["replicas"] >= 1
    assert ns["global_batch"] == 2 * ns["replicas"]
    assert sorted(ns["history"].history) == PIX2PIX_LOGS
    model = ns["model"]
    assert model.distribute_strategy is ns["strategy"]
    iterations = ns["keras"].ops.convert_to_numpy(model.g_optimizer.iterations)
    assert int(iterations) == 8 // ns["global_batch"]


def pages():
    return sorted(p for p in os.listdir(DOCS) if p.endswith(".md"))


def run_by_another_test(page):
    """Whether another test module runs the page (e.g. test_progressive.py)."""
    for path in glob.glob(os.path.join(ROOT, "tests", "test_*.py")):
        if os.path.basename(path) == "test_docs.py":
            continue
        with open(path) as f:
            text = f.read()
        if f'"{page}"' in text and ("exec(" in text or "run_page(" in text):
            return True
    return False


def test_every_page_with_python_blocks_is_checked():
    with_blocks = [p for p in pages() if python_blocks(p)]
    assert set(CHECKS) <= set(with_blocks)
    unchecked = [
        p for p in with_blocks if p not in CHECKS and not run_by_another_test(p)
    ]
    assert unchecked == [], "add a check for these pages"
    # Python under another fence name would escape the tests.
    for page in pages() + ["../README.md"]:
        fences = set(FENCE.findall(read_page(page)))
        assert not fences & {"py", "python3", "pycon", "ipython"}, page


@pytest.mark.parametrize("page", sorted(CHECKS))
def test_doc_page_examples_run(page, tmp_path, monkeypatch):
    num_blocks, page_check = CHECKS[page]
    blocks, namespace = run_page(page, tmp_path, monkeypatch)
    assert len(blocks) >= num_blocks
    page_check(namespace, tmp_path)


def test_readme_api_example_runs(tmp_path, monkeypatch):
    blocks, ns = run_page("README.md", tmp_path, monkeypatch, source_dir=ROOT)
    assert len(blocks) == 1
    assert len(blocks[0].strip().splitlines()) <= 14  # "in ten lines"
    fake = ns["fake"]
    assert fake.shape == (6, 64, 64, 3)
    assert np.all(np.abs(fake) <= 1.0)
    assert (tmp_path / "p2p.keras").is_file()
    assert (tmp_path / "p2p_savedmodel" / "saved_model.pb").is_file()
    assert int(ns["model"].g_optimizer.iterations) == 24  # 24 pairs, batch 1


def test_readme_links_and_picture_exist():
    # mkdocs checks the links of docs/; this checks the README's.
    targets = re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", read_page("README.md", ROOT))
    local = [t for t in targets if "://" not in t]
    assert "docs/images/demo_grid.jpg" in local
    assert len([t for t in local if t.startswith("docs/")]) >= 15
    for target in local:
        assert os.path.exists(os.path.join(ROOT, target)), target


def _load_benchmark(name):
    """The module benchmarks/<name>.py."""
    benchmarks = os.path.join(ROOT, "benchmarks")
    if benchmarks not in sys.path:  # their shared `_common` module
        sys.path.insert(0, benchmarks)

    spec = importlib.util.spec_from_file_location(
        name, os.path.join(benchmarks, f"{name}.py")
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def _result(name):
    """benchmarks/results/<name>.json."""
    with open(os.path.join(ROOT, "benchmarks", "results", f"{name}.json")) as f:
        return json.load(f)


def _between(page, begin, end):
    """The text of `page` between the markers `begin` and `end`."""
    return page.split(begin, 1)[1].split(end, 1)[0]


def _marked(page, name):
    """The text of `page` between `<!-- name begin -->` and its end marker."""
    return _between(page, f"<!-- {name} begin -->", f"<!-- {name} end -->")


def generated_block(name):
    """(result JSON of benchmarks/<name>.py, its `render_markdown` output,
    the block between its markers in docs/performance.md)."""
    bench = _load_benchmark(name)
    report = _result(name)
    block = _between(read_page("performance.md"), bench.BEGIN, bench.END)
    return report, bench.render_markdown(report), block


def test_performance_tables_are_generated_from_the_result_file():
    """docs/performance.md holds exactly what train_throughput.py renders
    from benchmarks/results/train_throughput.json (`--update-docs`)."""
    report, rendered, block = generated_block("train_throughput")
    assert block.strip() == rendered.strip()
    # The table covers the three configurations and five modes.
    assert set(report["configs"]) == {"256x256_b1", "256x256_b4", "128x128_b4"}
    for cfg in report["configs"].values():
        assert {"loop", "fit", "fit_xla", "fit_bf16", "best"} <= set(cfg["train"])


def test_pytorch_reference_table_is_generated_from_the_result_file():
    """docs/performance.md holds exactly what pytorch_reference.py renders
    from benchmarks/results/pytorch_reference.json, and that run timed the
    reference and our three modes at the issue's three configurations."""
    report, rendered, block = generated_block("pytorch_reference")
    assert block.strip() == rendered.strip()
    assert set(report["configs"]) == {"256x256_b1", "256x256_b4", "128x128_b4"}
    for cfg in report["configs"].values():
        assert {"torch", "loop", "fit", "best"} <= set(cfg["rows"])
        for mode in ("loop", "fit", "best"):
            expected = (
                cfg["rows"]["torch"]["median_step_s"]
                / cfg["rows"][mode]["median_step_s"]
            )
            assert abs(cfg["ratios"][f"{mode}/torch"] - expected) < 2e-3
    assert len(report["reference"]["commit"]) == 40


def test_inference_tables_are_generated_from_the_result_file():
    """docs/inference.md holds what inference_quality.py renders from its
    result file, and that run covers every seed it lists of both tasks at
    2,000 steps, 128×128, batch 1, with `predict()` and the export within
    2 % L1 of the training-mode output (dropout off) on every run."""
    bench = _load_benchmark("inference_quality")
    report = _result("inference_quality")
    page = read_page("inference.md")
    seeds, layers = bench.render(report)
    for marker, rendered in (("seeds", seeds), ("layers", layers)):
        block = _marked(page, f"inference_quality:{marker}")
        assert block.strip() == rendered.strip()
    settings = report["settings"]
    assert settings["steps"] >= 2000 and settings["size"] == 128
    assert settings["batch"] == 1
    runs = report["runs"]
    for task in ("facades", "edges"):
        seeds = {r["seed"] for r in runs if r["task"] == task}
        assert len(seeds) == settings["seeds"] >= 6
    for run in runs:
        ref = run["modes"]["train_mode_no_dropout"]["l1"]
        for mode in ("predict", "export"):
            assert run["modes"][mode]["l1"] <= 1.02 * ref, (
                run["task"],
                run["seed"],
                mode,
            )


def test_demo_settings_table_is_generated_from_its_results():
    bench = _load_benchmark("demo_settings")
    reports = [_result("demo_settings"), _result("demo_settings_extra")]
    block = _marked(read_page("performance.md"), "demo_settings")
    assert block.strip() == bench.render(reports).strip()
    runs = [r for report in reports for r in report["runs"]]
    assert all(r["budget_seconds"] == 180 for r in runs)
    # The demo's setting made more steps than float32 at the same size.
    by = {r["config"]: r for r in runs}
    assert (
        by["128:bf16:sample"]["points"][-1]["steps"]
        > by["128:float32:sample"]["points"][-1]["steps"]
    )


def test_what_to_expect_numbers_come_from_the_long_run():
    """The numbers of docs/what_to_expect.md are those of the run's JSON
    (benchmarks/facades_long_run.py), and its pictures exist."""
    run = _result("facades_long_run")
    page = read_page("what_to_expect.md")
    shown = dict(re.findall(r"<!-- long_run (\w+) -->([^<]+)<!-- /long_run -->", page))
    final = run["final"]
    assert shown == {
        "wall": f"{run['timing']['wall_seconds'] / 60:.1f} min",
        "cpu": f"{run['timing']['cpu_seconds'] / 60:.1f} min",
        "l1": f"{final['l1']:.3f}",
        "psnr": f"{final['psnr']:.2f}",
        "ssim": f"{final['ssim']:.3f}",
        "fid": f"{final['fid']:.1f}",
    }
    # At least 40 minutes of training, on the full 302 pairs, every epoch
    # scored.
    assert run["timing"]["wall_seconds"] >= 40 * 60
    assert run["steps"] == 302 * run["settings"]["epochs"]
    assert len(run["curves"]["val_fid_proxy"]) == run["settings"]["epochs"]
    command = run["command"].replace(" --verbose 2", "")
    assert " ".join(command.split()) in " ".join(page.replace("\\\n", " ").split())
    curves = run["curves"]
    assert curves["val_g_l1"][-1] < curves["val_g_l1"][0]
    assert curves["val_ssim"][-1] > curves["val_ssim"][0]
    for name in ("training_curves.png", "val_epoch_first.jpg", "val_epoch_last.jpg"):
        assert f"images/what_to_expect/{name}" in page
        assert (
            os.path.getsize(os.path.join(DOCS, "images", "what_to_expect", name))
            > 10_000
        )


def test_lr_policies_table_is_generated_from_its_results():
    bench = _load_benchmark("lr_policies")
    report = _result("lr_policies")
    block = _marked(read_page("training_tips.md"), "lr_policies")
    assert block.strip() == bench.render(report).strip()
    runs = {r["policy"]: r for r in report["runs"]}
    assert set(runs) == {"linear", "halving", "constant"}
    assert report["settings"]["epochs"] >= 30
    # The claims of the page: halving stalls (the last 18 epochs move val
    # L1 by < 0.001), linear ends at a decayed rate, constant does not.
    halving = runs["halving"]["curves"]["val_g_l1"]
    assert max(halving[12:]) - min(halving[12:]) < 1e-3
    assert runs["linear"]["curves"]["g_lr"][-1] < 0.1 * 2e-4
    assert runs["constant"]["curves"]["g_lr"][-1] == pytest.approx(2e-4)
    from pix2pix_keras.cli import DEFAULT_LR_POLICY

    assert DEFAULT_LR_POLICY == "linear"
