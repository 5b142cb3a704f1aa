"""The models are converted once, checked by SHA-256 on every load, and refused when altered."""

import dataclasses
import shutil

import numpy as np
import pytest

from ml_models import models
from ml_models.pipeline import open_session, session_options
from tests import face_samples


def test_the_converted_models_are_the_recorded_models():
    face_samples.pipeline()  # converts into the run's model folder if not yet done
    for spec in models.MODELS:
        data = (face_samples.model_dir() / spec.converted_file).read_bytes()
        assert models.content_digest(data) == spec.converted_digest


def test_the_same_model_written_another_way_passes_the_check_and_a_changed_weight_does_not(tmp_path):
    """As a newer onnx package might write it: weights stored as typed values rather than raw bytes,
    in another order, with other producer names. The content digest does not change; one weight does."""
    import onnx
    from onnx import numpy_helper

    face_samples.pipeline()
    model = onnx.load(str(face_samples.model_dir() / models.YUNET.converted_file))
    rewritten = []
    for tensor in reversed(model.graph.initializer):
        array = numpy_helper.to_array(tensor)
        typed = onnx.helper.make_tensor(tensor.name, tensor.data_type, array.shape, array.flatten().tolist(),
                                        raw=False)
        rewritten.append(typed)
    del model.graph.initializer[:]
    model.graph.initializer.extend(rewritten)
    model.producer_name, model.producer_version = "another-writer", "99.0"
    written_otherwise = model.SerializeToString()
    assert models.sha256_of(written_otherwise) != models.sha256_of(
        (face_samples.model_dir() / models.YUNET.converted_file).read_bytes())
    (tmp_path / models.YUNET.converted_file).write_bytes(written_otherwise)

    assert models.prepare(tmp_path, models.YUNET) == written_otherwise

    first = model.graph.initializer[0]
    changed = numpy_helper.to_array(first).copy()
    changed.flat[0] += 1.0
    first.CopyFrom(numpy_helper.from_array(changed, first.name))
    (tmp_path / models.YUNET.converted_file).write_bytes(model.SerializeToString())
    with pytest.raises(models.ModelError, match="altered or replaced"):
        models.prepare(tmp_path, models.YUNET)


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
    unexpected = dataclasses.replace(models.YUNET, converted_digest="f" * 64)
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
