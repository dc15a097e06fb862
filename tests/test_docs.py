"""Runs the code blocks of the docs pages that promise runnable examples."""

import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs")


def python_blocks(name):
    with open(os.path.join(DOCS, name)) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def run_page(page, directory, monkeypatch):
    blocks = python_blocks(page)
    monkeypatch.chdir(directory)
    namespace = {"__name__": f"docs_{page.replace('.', '_')}"}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)
    return blocks, namespace


def test_data_page_examples_run(tmp_path, monkeypatch):
    blocks, namespace = run_page("data.md", tmp_path, monkeypatch)
    assert len(blocks) >= 5
    assert "pk" in namespace


@pytest.mark.parametrize("page", ["subclassing.md"])
def test_doc_examples_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.replace('.', '_')}"}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)
    # The example saves the model and reloads it as the subclass, with the
    # optimizers restored (2 steps before the save, 2 after).
    restored = namespace["restored"]
    assert type(restored.generator).__name__ == "ResidualUNet"
    assert int(restored.g_optimizer.iterations) == 4


def test_evaluation_page_examples_run(tmp_path, monkeypatch):
    blocks, namespace = run_page("evaluation.md", tmp_path, monkeypatch)
    assert len(blocks) == 3
    assert namespace["report"]["num_images"] == 6
    assert namespace["scores"]["miou"] == 1.0


def test_index_page_examples_run(tmp_path, monkeypatch):
    blocks, namespace = run_page("index.md", tmp_path, monkeypatch)
    assert len(blocks) == 3
    model = namespace["model"]
    assert model.g_optimizer.global_clipnorm == 1.0
    assert namespace["pk"].receptive_field(3) == 70


def test_training_tips_page_examples_run(tmp_path, monkeypatch):
    blocks, namespace = run_page("training_tips.md", tmp_path, monkeypatch)
    assert len(blocks) == 7
    assert namespace["finding"]["row"] == "non_finite"


def test_architectures_page_examples_run(tmp_path, monkeypatch):
    blocks, namespace = run_page("architectures.md", tmp_path, monkeypatch)
    assert len(blocks) == 3
    alpha = namespace["alpha"]
    assert alpha.shape == (2, 16, 16, 1)
    assert [tuple(t.shape) for t in namespace["logits"]] == [
        (2, 14, 14, 1), (2, 6, 6, 1)]
    assert sorted(namespace["history"].history) == [
        "d_fake", "d_loss", "d_real", "g_fm", "g_gan", "g_l1", "g_loss",
        "g_vgg"]


def test_inference_page_examples_run(tmp_path, monkeypatch):
    blocks, namespace = run_page("inference.md", tmp_path, monkeypatch)
    assert len(blocks) == 2
    assert (tmp_path / "stochastic.keras").is_file()
    assert (tmp_path / "stochastic_savedmodel" / "saved_model.pb").is_file()
    b, c = namespace["b"], namespace["c"]
    assert (b != c).mean() > 0.5


def test_reliability_page_examples_run(tmp_path, monkeypatch):
    blocks, namespace = run_page("reliability.md", tmp_path, monkeypatch)
    assert len(blocks) == 2
    assert namespace["error"].step == 2
    assert namespace["history"].history["skipped_steps"] == [1.0, 1.0]
