"""Pension tests use the test run's one converted-model folder (one loaded face pipeline)."""

import msgspec
import pytest

from tests import face_samples


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, face_model_dir=str(face_samples.model_dir()))
