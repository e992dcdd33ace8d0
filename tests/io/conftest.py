"""Session fixtures for the io tests; the encoders and checks live in media_fixtures.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_fixtures import FORMATS, SOURCE_RATE, FormatSpec, chirp_tone, encode_format


@pytest.fixture(scope="session")
def source_wave() -> np.ndarray:
    return chirp_tone()


@pytest.fixture(scope="session")
def encoded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoded")


@pytest.fixture(scope="session", params=FORMATS, ids=[f.name for f in FORMATS])
def encoded(request: pytest.FixtureRequest, encoded_dir: Path, source_wave: np.ndarray):
    """(spec, path) of the chirp+tone encoded in one format; built once per session."""
    spec: FormatSpec = request.param
    path = encoded_dir / f"{spec.name}{spec.suffix}"
    if not path.exists():
        encode_format(spec, path, source_wave, SOURCE_RATE)
    return spec, path
