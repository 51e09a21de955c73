"""Fixtures for the Python package's tests (`make test-python`): the shared models and images, the CLI."""

import os
import subprocess
from pathlib import Path

import pytest

import netlens

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NETLENS_SHARED", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "squeezenet1_1.onnx"
CLASSES = SHARED / "models" / "imagenet_classes.txt"
CHELSEA = SHARED / "images" / "chelsea.png"
CLI = Path(os.environ.get("NETLENS_BIN", ROOT / "target" / "release" / "netlens"))


@pytest.fixture(scope="session")
def model():
    return netlens.Model(str(MODEL), str(CLASSES))


@pytest.fixture(scope="session")
def not_here(model):
    """The methods the `model` fixture cannot run, asked once (each method's stepper is probed)."""
    return model.not_for_model()


def cli(*args, check=True):
    """The CLI with the same model and class names as the `model` fixture."""
    assert CLI.is_file(), f"no CLI at {CLI}: run `make cli` (or set NETLENS_BIN)"
    out = subprocess.run(
        [str(CLI), *map(str, args), "--model", str(MODEL), "--classes", str(CLASSES)],
        capture_output=True,
        text=True,
    )
    if check:
        assert out.returncode == 0, f"netlens {' '.join(map(str, args))}: {out.stderr}"
    return out
