"""A missing or altered model, or a model folder that is not there, stops the service at start-up with
its name; once started, the service keeps the models it checked, wherever its working directory goes."""

import os
import shutil
import subprocess
import sys

import httpx

from backend.config import load_settings
from backend.container import Services
from ml_models import models
from mobile_api.app import create_app
from tests import face_samples
from tests.factories import enrol_face, register_citizen


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


def test_serve_refuses_to_start_on_a_model_folder_that_is_not_there(settings, tmp_path):
    missing = tmp_path / "no-such-folder"
    env = {**os.environ, "DATABASE_URL": settings.database_url, "TONGBAN_REDIS_PREFIX": settings.redis_prefix,
           "TONGBAN_DATA_DIR": str(tmp_path), "TONGBAN_FACE_MODEL_DIR": str(missing)}

    served = subprocess.run([sys.executable, "-m", "backend.cli", "serve", "--port", "1"], env=env,
                            capture_output=True, text=True, timeout=60)

    assert served.returncode == 2
    assert f"TONGBAN_FACE_MODEL_DIR={missing} is not a directory" in served.stderr
    assert not missing.exists()


async def test_enrolment_works_after_the_working_directory_changes_and_readiness_shows_the_models(
        settings, tmp_path, monkeypatch):
    face_samples.pipeline()
    folder = face_samples.model_dir()
    monkeypatch.chdir(folder.parent)  # the operator names the folder relative to where they started
    started = await Services.start(load_settings(
        {}, mode="test", database_url=settings.database_url, redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix, code_resend_seconds=0, face_model_dir=folder.name))
    try:
        transport = httpx.ASGITransport(app=create_app(services=started))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            before = (await client.get("/health/ready")).json()
            await started.face.start()
            ready = await client.get("/health/ready")
            elsewhere = tmp_path / "elsewhere"
            elsewhere.mkdir()
            monkeypatch.chdir(elsewhere)
            elsewhere.rmdir()  # not even a working directory to resolve against any more

            citizen = await register_citizen(client, started)
            enrolled = await enrol_face(client, started, citizen, face_samples.photo("obama3.jpg"))
    finally:
        await started.close()

    assert {c["name"]: c["ok"] for c in before["checks"]}["face-models"] is False
    assert ready.status_code == 200
    report = {c["name"]: c for c in ready.json()["checks"]}["face-models"]
    assert report["ok"] and all(spec.converted_digest[:16] in report["detail"] for spec in models.MODELS)
    assert enrolled.status_code == 200, enrolled.text
