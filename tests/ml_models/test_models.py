"""The models are converted once, checked by SHA-256 on every load, and refused when altered."""

import dataclasses
import shutil

import numpy as np
import pytest

from ml_models import models
from ml_models.pipeline import open_session, session_options
from tests import face_samples


def test_the_converted_models_are_the_recorded_files():
    face_samples.pipeline()  # converts into the run's model folder if not yet done
    for spec in models.MODELS:
        data = (face_samples.model_dir() / spec.converted_file).read_bytes()
        assert models.sha256_of(data) == spec.converted_sha256


def test_an_altered_model_file_stops_loading_and_names_the_file(tmp_path):
    for spec in models.MODELS:
        shutil.copy(face_samples.model_dir() / spec.converted_file, tmp_path / spec.converted_file)
    altered = tmp_path / models.SFACE.converted_file
    data = bytearray(altered.read_bytes())
    data[len(data) // 2] ^= 0x01
    altered.write_bytes(bytes(data))

    with pytest.raises(models.ModelError) as refused:
        models.prepare_all(tmp_path)

    assert str(altered) in str(refused.value) and "altered or replaced" in str(refused.value)


def test_a_missing_or_altered_source_file_is_named(tmp_path):
    missing = dataclasses.replace(models.SFACE, source_file="face_recognition_missing.onnx")
    with pytest.raises(models.ModelError, match="missing: .*face_recognition_missing.onnx"):
        models.prepare(tmp_path, missing)

    wrong_digest = dataclasses.replace(models.YUNET, source_sha256="0" * 64)
    with pytest.raises(models.ModelError, match="face_detection_yunet_2023mar_int8bq.onnx has SHA-256"):
        models.prepare(tmp_path, wrong_digest)
    assert not (tmp_path / models.YUNET.converted_file).exists()


def test_a_conversion_that_does_not_give_the_recorded_file_is_refused(tmp_path):
    unexpected = dataclasses.replace(models.YUNET, converted_sha256="f" * 64)
    with pytest.raises(models.ModelError, match="converts differently than recorded"):
        models.prepare(tmp_path, unexpected)
    assert not (tmp_path / models.YUNET.converted_file).exists()


def test_yunet_takes_any_input_size_and_sface_only_its_image():
    files = models.prepare_all(face_samples.model_dir())
    yunet = open_session(files[models.YUNET.name], 1)
    for height, width in [(320, 320), (480, 640), (1280, 736)]:
        outputs = yunet.run(["cls_8", "kps_32"], {"input": np.zeros((1, 3, height, width), np.float32)})
        assert outputs[0].shape == (1, height // 8 * width // 8, 1)
        assert outputs[1].shape == (1, height // 32 * width // 32, 10)
    sface = open_session(files[models.SFACE.name], 1)
    assert [i.name for i in sface.get_inputs()] == ["data"]
    assert sface.run(["fc1"], {"data": np.zeros((1, 3, 112, 112), np.float32)})[0].shape == (1, 128)


def test_sessions_use_a_fixed_thread_count_and_do_not_spin():
    options = session_options(2)
    assert options.intra_op_num_threads == 2 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
