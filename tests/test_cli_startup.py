"""Quick start of the `pix2pix` command and of `import pix2pix_keras`.

`pix2pix --help`, `--version`, `<command> --help`, `presets` and
`datasets list` do not import TensorFlow (nor Keras): they print nothing on
stderr, and a closed output pipe ends them quietly. Their times are
measured by `benchmarks/cli_startup.py`, not asserted here (they depend on
the machine).
"""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

QUICK_COMMANDS = [
    ["--help"],
    ["--version"],
    ["train", "--help"],
    ["evaluate", "--help"],
    ["predict", "--help"],
    ["export", "--help"],
    ["serve", "--help"],
    ["convert-pytorch", "--help"],
    ["datasets", "--help"],
    ["datasets", "list"],
    ["datasets", "list", "--json"],
    ["presets"],
    ["presets", "--json"],
]

# Runs `pix2pix ARGS` and reports on stderr the heavy modules it imported.
PROBE = """
import sys
from pix2pix_keras.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
heavy = sorted(m for m in ("tensorflow", "keras", "matplotlib")
               if m in sys.modules)
if heavy:
    print("imported: " + " ".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def _env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    )
    env.update(extra)
    return env


@pytest.mark.parametrize("argv", QUICK_COMMANDS, ids=" ".join)
def test_quick_commands_do_not_import_tensorflow(argv):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_env(),
    )
    assert result.stderr == ""
    assert result.returncode == 0
    assert result.stdout.strip()


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["datasets", "list"], ["presets"]], ids=" ".join
)
def test_python_m_prints_nothing_on_stderr(argv):
    # No TF_CPP_MIN_LOG_LEVEL: TensorFlow's C++ logging would show here.
    result = subprocess.run(
        [sys.executable, "-m", "pix2pix_keras", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_env(),
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip()


def test_import_is_lazy_and_registers_once_keras_is_imported():
    code = """
import sys
import pix2pix_keras as pk
assert "tensorflow" not in sys.modules and "keras" not in sys.modules
assert set(pk.__all__) <= set(dir(pk))
assert "Pix2Pix" in pk.__all__ and "metrics" in pk.__all__
import keras
# Importing Keras imports the package's modules: everything a saved model
# names is registered for keras.saving.load_model.
for name in ("Pix2Pix", "UNetGenerator", "PatchDiscriminator",
             "VGGPerceptualLoss"):
    assert keras.saving.get_registered_object("pix2pix_keras>" + name), name
assert "pix2pix_keras.metrics" in sys.modules
print(pk.Pix2Pix.__name__, pk.metrics.PSNR.__name__)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=_env(TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Pix2Pix", "PSNR"]


def test_public_names_resolve_and_match_the_type_checking_imports():
    import pix2pix_keras as pk

    for name in pk.__all__:
        assert getattr(pk, name) is not None, name
    with open(os.path.join(ROOT, "pix2pix_keras", "__init__.py")) as f:
        source = f.read()
    block = source.split("if TYPE_CHECKING:", 1)[1].split("\n\n", 1)[0]
    imported = [line.split()[-1] for line in block.splitlines()[1:]]
    assert sorted(imported) == sorted(pk.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pk.nope  # noqa: B018


@pytest.mark.parametrize(
    "argv, codes",
    [
        (["datasets", "list", "--json"], (141,)),
        (["presets"], (141,)),
        # argparse itself ignores the failed write of its help text.
        (["--help"], (0, 141)),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_closed_output_pipe_ends_quietly(argv, codes):
    # The reader is gone before the first write: every write fails with
    # EPIPE, as when `head -1` has exited.
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pix2pix_keras", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=_env(),
        )
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode in codes  # 141 = 128 + SIGPIPE, as a shell says


@pytest.mark.skipif(
    shutil.which("sh") is None or shutil.which("head") is None,
    reason="needs sh and head",
)
def test_pipe_into_head_has_no_traceback():
    command = f"'{sys.executable}' -m pix2pix_keras datasets list --json | head -1"
    result = subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_env(),
    )
    assert result.returncode == 0
    assert result.stdout == "{\n"
    assert result.stderr == ""
