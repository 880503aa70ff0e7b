"""Converting TF functions to ONNX, checking them and counting their FLOPs; ONNX Runtime sessions and the
probe inputs that parity checks run on.  TensorFlow and tf2onnx are imported inside the functions.
"""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np

from qwave.errors import QwaveInputError
from qwave.physics.grid import Grid

DEFAULT_OPSET = 17
BATCH_DIM = "batch"
# Keras saving and tf2onnx call np.array(x, copy=False) on TF tensors: a harmless numpy-2 DeprecationWarning.
NUMPY2_COPY_WARNING = ".*__array__ implementation doesn't accept a copy keyword"


def _quiet_tf2onnx() -> None:
    import tf2onnx

    tf2onnx.logging.set_level(logging.ERROR)


def function_to_onnx(function, input_name: str, output_name, opset: int = DEFAULT_OPSET):
    """Convert a one-input ``tf.function`` with an input signature to an ``onnx.ModelProto``: variables and
    captured constants frozen, IO renamed (``output_name``: a name, or a list for several outputs), the
    leading dimension named ``batch``."""
    import tensorflow as tf
    import tf2onnx

    _quiet_tf2onnx()
    output_names = [output_name] if isinstance(output_name, str) else list(output_name)
    concrete = function.get_concrete_function()
    n_args = len(tf.nest.flatten(concrete.structured_input_signature))
    inputs = [t.name for t in concrete.inputs[:n_args]]  # the rest are captures, frozen into constants
    outputs = [t.name for t in concrete.outputs]
    if len(inputs) != 1 or len(outputs) != len(output_names):
        raise QwaveInputError(
            f"expected a one-input {len(output_names)}-output function, got {len(inputs)} -> {len(outputs)}"
        )
    with tf.device("/cpu:0"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=NUMPY2_COPY_WARNING)
        graph_def = tf2onnx.tf_loader.from_function(concrete, inputs, outputs)
        proto, _ = tf2onnx.convert.from_graph_def(
            graph_def,
            name=output_names[0],
            input_names=inputs,
            output_names=outputs,
            opset=opset,
            tensors_to_rename={inputs[0]: input_name, **dict(zip(outputs, output_names, strict=True))},
        )
    for value in (*proto.graph.input, *proto.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = BATCH_DIM
    return proto


def _finish(proto, props: dict, doc: str):
    """Attach qwave's metadata to an ONNX model and run the full ONNX checker."""
    import onnx

    proto.doc_string = doc
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"qwave.{key}", json.dumps(value)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise QwaveInputError(f"the exported graph {proto.graph.name!r} fails onnx.checker: {exc}") from None
    return proto


def window_flops(proto) -> int:
    """Multiply-add FLOPs (2 per multiply-add) of one window through the MatMul/Gemm/Conv nodes of
    ``window.onnx``, from ONNX shape inference at batch 1."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_value = 1
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    for v in (*model.graph.value_info, *model.graph.input, *model.graph.output):
        shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm", "Conv"):
            continue
        out, a, b = shapes.get(node.output[0]), shapes.get(node.input[0]), shapes.get(node.input[1])
        if not out or not a or not b or None in out or None in a or None in b:
            raise QwaveInputError(f"cannot infer the shapes of {node.op_type} node {node.name!r} to count FLOPs")
        if node.op_type == "Conv":
            total += 2 * int(np.prod(out)) * int(np.prod(b[1:]))
        else:
            transposed = any(at.name == "transA" and at.i for at in node.attribute)
            k = a[0] if transposed else a[-1]
            total += 2 * int(np.prod(out)) * int(k)
    return total


def _session(proto_or_path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    model = proto_or_path.SerializeToString() if hasattr(proto_or_path, "SerializeToString") else str(proto_or_path)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def probe_frames(grid: Grid, n_in: int, batch: int = 2, seed: int = 0) -> np.ndarray:
    """Physically scaled probe input for a step (float32 [batch, n_in, NX, 3]): Gaussian packets moving
    right by about one cell per frame, V / v_scale a barrier of height 0.5 in the box centre."""
    rng = np.random.default_rng(seed)
    x = grid.x
    out = np.zeros((batch, n_in, grid.nx, 3), np.float32)
    for b in range(batch):
        x0, s0, k = rng.uniform(0.3, 0.45) * grid.lx, rng.uniform(1.0, 4.0), rng.uniform(1.0, 4.0)
        for t in range(n_in):
            xc = x0 + t * k * grid.frame_dt
            psi = np.exp(-((x - xc) ** 2) / (4 * s0**2) + 1j * k * (x - xc)) / (2 * np.pi * s0**2) ** 0.25
            out[b, t, :, 0], out[b, t, :, 1] = psi.real, psi.imag
        out[b, :, :, 2] = np.where(np.abs(x - grid.lx / 2) < 3.5, 0.5, 0.0)
    return out


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
