"""Where the engine keeps its files. Read from the environment on each call, never at import time."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Cache folder for fetched datasets (`CANCER_ALPHA_DATA_DIR`, default `var/data`)."""
    return Path(os.environ.get("CANCER_ALPHA_DATA_DIR") or PROJECT_ROOT / "var" / "data")


def models_dir() -> Path:
    """Root of the model registry (`CANCER_ALPHA_MODELS_DIR`, default `models/`)."""
    return Path(os.environ.get("CANCER_ALPHA_MODELS_DIR") or PROJECT_ROOT / "models")
