"""A missing or altered model stops the service at start-up with the file's name."""

import os
import shutil
import subprocess
import sys

from ml_models import models
from tests import face_samples


def tongban(*args: str, model_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "TONGBAN_FACE_MODEL_DIR": str(model_dir)}
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_serve_refuses_to_start_on_an_altered_model_and_names_it(tmp_path):
    face_samples.pipeline()
    for spec in models.MODELS:
        shutil.copy(face_samples.model_dir() / spec.converted_file, tmp_path / spec.converted_file)
    altered = tmp_path / models.YUNET.converted_file
    data = bytearray(altered.read_bytes())
    data[-100] ^= 0x40
    altered.write_bytes(bytes(data))

    served = tongban("serve", "--port", "1", model_dir=tmp_path)

    assert served.returncode == 2
    assert str(altered) in served.stderr and "altered or replaced" in served.stderr
    assert "Tongban API docs" not in served.stdout


def test_the_face_models_command_checks_and_prints_the_digests():
    face_samples.pipeline()
    checked = tongban("face", "models", model_dir=face_samples.model_dir())
    assert checked.returncode == 0, checked.stderr
    for spec in models.MODELS:
        assert f"{spec.converted_digest}  {face_samples.model_dir() / spec.converted_file}" in checked.stdout
