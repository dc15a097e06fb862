"""The benchmark drivers keep every measurement, whatever subset was run.

Nothing here times or trains anything: `check_targets` gets hand-made
result dicts, and `main` runs with its worker launcher (`spawn`) replaced
by a stub that returns fixed step times.
"""

import importlib.util
import json
import os
import sys

import pytest

BENCH_DIR = os.path.join(os.path.dirname(__file__), "..", "benchmarks")


@pytest.fixture(scope="module")
def throughput():
    sys.path.insert(0, BENCH_DIR)  # the script imports its _common helper
    try:
        spec = importlib.util.spec_from_file_location(
            "train_throughput", os.path.join(BENCH_DIR, "train_throughput.py")
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(BENCH_DIR)


def _row(step_s, rss=2000, **extra):
    return {"median_step_s": step_s, "rss_peak_mb": rss, **extra}


def _report(**train):
    """A report with one configuration, 256×256 batch 1, of `train` rows."""
    return {"configs": {"256x256_b1": {"train": train}}}


def test_targets_of_missing_modes_are_reported_as_not_measured(throughput):
    # `--configs 256x1 --modes loop,best`: fit_d2 is added at the first
    # configuration, fit is missing (the old KeyError: 'speedup_vs_fit').
    report = _report(
        loop=_row(0.6, speedup_vs_loop=1.0),
        best=_row(0.4, speedup_vs_loop=1.5),
        fit_d2=_row(0.5, speedup_vs_loop=1.2),
    )
    targets = throughput.check_targets(report)
    assert list(targets) == [
        "fit_over_loop",
        "best_over_loop",
        "d2_over_fit",
        "quality_l1_ratio",
        "rss_256_b1_mb",
    ]
    assert targets["best_over_loop"] == {
        "target": 2.5,
        "measured": 1.5,
        "config": "256x256_b1",
        "pass": False,
    }
    for name in ("fit_over_loop", "d2_over_fit", "quality_l1_ratio", "rss_256_b1_mb"):
        assert targets[name]["measured"] is None, name
        assert targets[name]["pass"] is None, name
    assert "fit not measured" in targets["fit_over_loop"]["not_measured"]
    assert "fit not measured" in targets["d2_over_fit"]["not_measured"]
    assert "--quality-steps" in targets["quality_l1_ratio"]["not_measured"]
    assert "256x256 batch 1" in targets["rss_256_b1_mb"]["not_measured"]
    json.dumps(targets)  # goes into the JSON as it is


def test_targets_without_the_loop_or_any_configuration(throughput):
    only_fit = {"configs": {"128x128_b4": {"train": {"fit": _row(0.3)}}}}
    targets = throughput.check_targets(only_fit)
    assert "loop not measured" in targets["fit_over_loop"]["not_measured"]
    assert "best, loop not measured" in targets["best_over_loop"]["not_measured"]
    # RSS is only judged at 256×256 batch 1.
    assert targets["rss_256_b1_mb"]["measured"] is None
    empty = throughput.check_targets({"configs": {}})
    assert all(t["measured"] is None and t["config"] is None for t in empty.values())
    assert len(empty) == 5


def test_targets_of_a_full_run_are_measured_and_judged(throughput):
    report = _report(
        loop=_row(0.6, speedup_vs_loop=1.0),
        fit=_row(0.58, rss=2124, speedup_vs_loop=1.034),
        best=_row(0.4, speedup_vs_loop=1.5),
        fit_d2=_row(0.48, speedup_vs_loop=1.25, speedup_vs_fit=1.208),
    )
    report["quality"] = {"best_over_fit_l1": 0.9988}
    targets = throughput.check_targets(report)
    assert {k: (t["measured"], t["pass"]) for k, t in targets.items()} == {
        "fit_over_loop": (1.034, True),
        "best_over_loop": (1.5, False),
        "d2_over_fit": (1.208, True),
        "quality_l1_ratio": (0.9988, True),
        "rss_256_b1_mb": (2124, True),
    }
    assert not any("not_measured" in t for t in targets.values())


STEP_S = {"loop": 0.6, "best": 0.4, "fit_d2": 0.5}


def _fake_spawn(kind, *args):
    """Stands in for a worker process: fixed numbers, no timing."""
    if kind == "peak":
        return {
            "conv_gflops": {"float32": 400.0, "bfloat16": 800.0},
            "rss_peak_mb": 100,
        }
    if kind.startswith("infer_"):
        return {"median_s": 0.1, "images_per_s": 10.0, "rss_peak_mb": 900}
    return {"median_s": STEP_S[kind], "rss_peak_mb": 2000}


def test_a_subset_of_modes_writes_its_json(throughput, tmp_path, monkeypatch):
    monkeypatch.setattr(throughput, "spawn", _fake_spawn)
    out = tmp_path / "subset.json"
    code = throughput.main(
        [
            "--configs",
            "256x1",
            "--modes",
            "loop,best",
            "--rounds",
            "1",
            "--rss-batches",
            "none",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    rows = report["configs"]["256x256_b1"]["train"]
    assert sorted(rows) == ["best", "fit_d2", "loop"]
    assert rows["best"]["median_step_s"] == 0.4
    assert rows["best"]["speedup_vs_loop"] == 1.5  # 0.6 / 0.4
    assert "speedup_vs_fit" not in rows["fit_d2"]
    targets = report["targets"]
    assert targets["best_over_loop"]["measured"] == 1.5
    assert targets["d2_over_fit"]["measured"] is None
    assert targets["fit_over_loop"]["pass"] is None
    # The markdown of such a result names what was not measured.
    table = throughput.render_markdown(report)
    assert "| best_over_loop | ≥ 2.5 | 1.5 | **no** |" in table
    assert (
        "| d2_over_fit | ≥ 1.15 | not measured (needs modes fit_d2 and "
        "fit at the first configuration; fit not measured) | – |" in table
    )
