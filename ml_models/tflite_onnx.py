"""A TensorFlow Lite model rewritten as the same network in ONNX, so onnxruntime runs it on the
inference pool beside YuNet and SFace (one runtime, one set of session options, one digest check).

Only the operators the dense face-landmark model uses are translated — convolutions, depthwise
convolutions, PReLU, addition, max pooling, padding, and the float16 weights' dequantisation — each
exactly: TFLite's NHWC tensors become NCHW between a transpose at the input and one at each output,
"SAME" padding becomes the explicit pads TFLite computes, and float16 weights become float32. Any
other operator, a fused activation, or a quantised tensor is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# TFLite's tensor types (schema.fbs `TensorType`) that may appear here.
_FLOAT32, _FLOAT16, _INT32 = 0, 1, 2
_DTYPES = {_FLOAT32: np.float32, _FLOAT16: np.float16, _INT32: np.int32}
_SAME = 0  # schema.fbs `Padding`


class UnsupportedModel(ValueError):
    """The TFLite file uses something this translation does not cover."""


def convert_tflite(data: bytes, *, batch: str = "batch") -> bytes:
    """The ONNX model computing what the TFLite model `data` computes; the batch dimension of the
    input and outputs becomes the symbolic `batch`. Raises `UnsupportedModel`."""
    import onnx
    import tflite
    from onnx import TensorProto, helper, numpy_helper

    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
        raise UnsupportedModel("only single-subgraph models are translated")
    graph = model.Subgraphs(0)
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    tensor = graph.Tensors

    def name(index: int) -> str:
        return tensor(index).Name().decode()

    def shape(index: int) -> list[int]:
        return [int(v) for v in tensor(index).ShapeAsNumpy()]

    constants: dict[int, np.ndarray] = {}
    for index in range(graph.TensorsLength()):
        t = tensor(index)
        raw = model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(raw, np.ndarray) and raw.size:
            if t.Type() not in _DTYPES or t.Quantization() is not None and t.Quantization().ScaleLength():
                raise UnsupportedModel(f"tensor {name(index)} has an unsupported type or quantisation")
            constants[index] = raw.view(_DTYPES[t.Type()]).reshape(shape(index))

    nodes: list = []
    initialisers: dict[str, np.ndarray] = {}

    def constant(label: str, value: np.ndarray) -> str:
        initialisers[label] = value
        return label

    def spatial_pads(input_shape: list[int], kernel: tuple[int, int], strides: tuple[int, int],
                     dilation: tuple[int, int], padding: int) -> list[int]:
        if padding != _SAME:
            return [0, 0, 0, 0]
        before, after = [], []
        for size, k, s, d in zip(input_shape[1:3], kernel, strides, dilation, strict=True):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            before.append(total // 2)
            after.append(total - total // 2)
        return before + after

    def options(op, kind: type) -> object:  # type: ignore[no-untyped-def]
        table = op.BuiltinOptions()
        parsed = kind()
        parsed.Init(table.Bytes, table.Pos)
        if hasattr(parsed, "FusedActivationFunction") and parsed.FusedActivationFunction() != 0:
            raise UnsupportedModel("fused activations are not translated")
        return parsed

    def conv(op, inputs: list[int], output: str, *, depthwise: bool) -> None:  # type: ignore[no-untyped-def]
        x, weights, bias = inputs
        kernel = constants[weights].astype(np.float32)
        if depthwise:
            parsed = options(op, tflite.DepthwiseConv2DOptions)
            # TFLite [1, H, W, C·multiplier] → ONNX [C·multiplier, 1, H, W], one group per input channel.
            onnx_kernel, group = kernel.transpose(3, 0, 1, 2), shape(x)[3]
        else:
            parsed = options(op, tflite.Conv2DOptions)
            onnx_kernel, group = kernel.transpose(0, 3, 1, 2), 1  # OHWI → OIHW
        strides = (parsed.StrideH(), parsed.StrideW())
        dilation = (parsed.DilationHFactor(), parsed.DilationWFactor())
        pads = spatial_pads(shape(x), kernel.shape[1:3], strides, dilation, parsed.Padding())
        nodes.append(helper.make_node(
            "Conv", [name(x), constant(name(weights), np.ascontiguousarray(onnx_kernel)),
                     constant(name(bias), constants[bias].astype(np.float32))], [output],
            strides=list(strides), dilations=list(dilation), pads=pads, group=group,
            kernel_shape=list(kernel.shape[1:3])))

    def prelu(op, inputs: list[int], output: str) -> None:  # type: ignore[no-untyped-def]
        x, alpha = inputs
        slope = constants[alpha].astype(np.float32)
        if slope.ndim != 3 or slope.shape[:2] != (1, 1):
            raise UnsupportedModel("only per-channel PReLU slopes are translated")
        nodes.append(helper.make_node("PRelu", [name(x), constant(name(alpha), slope.reshape(-1, 1, 1))], [output]))

    def add(op, inputs: list[int], output: str) -> None:  # type: ignore[no-untyped-def]
        options(op, tflite.AddOptions)
        if any(i in constants for i in inputs):
            raise UnsupportedModel("addition of a constant is not translated")
        nodes.append(helper.make_node("Add", [name(i) for i in inputs], [output]))

    def max_pool(op, inputs: list[int], output: str) -> None:  # type: ignore[no-untyped-def]
        parsed = options(op, tflite.Pool2DOptions)
        kernel = (parsed.FilterHeight(), parsed.FilterWidth())
        strides = (parsed.StrideH(), parsed.StrideW())
        pads = spatial_pads(shape(inputs[0]), kernel, strides, (1, 1), parsed.Padding())
        nodes.append(helper.make_node("MaxPool", [name(inputs[0])], [output], kernel_shape=list(kernel),
                                      strides=list(strides), pads=pads))

    def pad(op, inputs: list[int], output: str) -> None:  # type: ignore[no-untyped-def]
        x, paddings = inputs
        nhwc = constants[paddings].astype(np.int64)  # [[before, after]] per NHWC axis
        nchw = nhwc[[0, 3, 1, 2]]
        label = constant(f"{name(paddings)}_nchw", np.concatenate([nchw[:, 0], nchw[:, 1]]))
        nodes.append(helper.make_node("Pad", [name(x), label], [output], mode="constant"))

    translations: dict[str, Callable[..., None]] = {
        "CONV_2D": lambda op, i, o: conv(op, i, o, depthwise=False),
        "DEPTHWISE_CONV_2D": lambda op, i, o: conv(op, i, o, depthwise=True),
        "PRELU": prelu, "ADD": add, "MAX_POOL_2D": max_pool, "PAD": pad,
    }
    for position in range(graph.OperatorsLength()):
        op = graph.Operators(position)
        code = codes[op.OpcodeIndex()]
        kind = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "custom")
        inputs = [int(i) for i in op.InputsAsNumpy() if i >= 0]
        (output,) = (int(o) for o in op.OutputsAsNumpy())
        if kind == "DEQUANTIZE":  # float16 weights: a constant, folded
            if inputs[0] not in constants:
                raise UnsupportedModel("dequantisation of a computed tensor is not translated")
            constants[output] = constants[inputs[0]].astype(np.float32)
            continue
        if kind not in translations:
            raise UnsupportedModel(f"operator {kind} is not translated")
        translations[kind](op, inputs, name(output))

    (model_input,) = (int(i) for i in graph.InputsAsNumpy())
    input_shape = shape(model_input)
    nodes.insert(0, helper.make_node("Transpose", [f"{name(model_input)}_nhwc"], [name(model_input)],
                                     perm=[0, 3, 1, 2]))
    outputs = []
    for index in (int(o) for o in graph.OutputsAsNumpy()):
        nodes.append(helper.make_node("Transpose", [name(index)], [f"{name(index)}_nhwc"], perm=[0, 2, 3, 1]))
        outputs.append(helper.make_tensor_value_info(f"{name(index)}_nhwc", TensorProto.FLOAT,
                                                     [batch, *shape(index)[1:]]))
    onnx_graph = helper.make_graph(
        nodes, "tflite", [helper.make_tensor_value_info(f"{name(model_input)}_nhwc", TensorProto.FLOAT,
                                                        [batch, *input_shape[1:]])],
        outputs, [numpy_helper.from_array(value, label) for label, value in sorted(initialisers.items())])
    converted = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", 17)])
    converted.ir_version = 8
    onnx.checker.check_model(converted)
    return converted.SerializeToString()
