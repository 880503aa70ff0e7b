"""``rollout.onnx``: the whole recursive forecast in one ONNX call (an ONNX ``Loop``), built with onnx.helper.

Inputs ``frames`` float32 [batch, n_in, NX, 3] (as ``step.onnx``) and ``n_frames`` int64 scalar; output
``forecast`` float32 [batch, n_frames, NX, 2].  Two bodies:

- a model linear in psi given V (``hyperlinear``): a prologue converted by tf2onnx from
  :meth:`WholeBoxStep.operator_parts` builds the blended step once as the banded operator G(V) of the last
  frame's V, and the loop applies it.  ONNX has no complex type, so each frame is a real batched MatMul over
  blocks of ``block`` output cells: block j's cells read the ``block + 2W - 2`` cells around them, stored
  per (cell, frame) as the real 2x2 form [[Re, -Im], [Im, Re]] of psi, so that
  ``[Re; Im] next = [[Re, -Im], [Im, Re]] psi @ [Re G; Im G]`` is one (2 x K) @ (K x block) product per
  block (K = (block + 2W - 2) * n_in * 2), then the same per-frame renormalisation as the Keras rollout;
- any other model: the ``step.onnx`` graph itself inside the loop, the frames shifted as in
  :func:`qwave.emulator.rollout._rollout_graph`.

Block products beat a gather-multiply-reduce over each cell's 2W - 1 neighbours (scattered copies and
full-size temporaries) in ONNX Runtime; ``scripts/bench_inference.py --blocks`` times the block sizes.
TensorFlow is imported only inside :func:`operator_prologue`.
"""

from __future__ import annotations

import numpy as np

from qwave.errors import QwaveInputError

ROLLOUT_FRAMES, ROLLOUT_N, ROLLOUT_OUTPUT = "frames", "n_frames", "forecast"
OPERATOR, STATE0 = "operator", "state0"  # the prologue's outputs, the loop's inputs
DEFAULT_BLOCK = 16
MIN_OPSET = 13  # Squeeze/Unsqueeze/ReduceSum with axes as inputs, Loop with scan outputs


def block_size(nx: int, target: int = DEFAULT_BLOCK) -> int:
    """The largest divisor of ``nx`` not above ``target``: output cells per block product."""
    return max(b for b in range(1, min(target, nx) + 1) if nx % b == 0)


def operator_prologue(stepper, block: int):
    """A ``tf.function`` frames (B, n_in, NX, 3) -> (operator (B * NX / block, K, block), state0 (B, NX, n_in,
    4)): the blocks of G(V) for the last frame's V and the initial frames in their real 2x2 form."""
    import tensorflow as tf

    nx, n_in, span = stepper.nx, stepper.n_in, 2 * stepper.window - 1
    width = block + span - 1

    def prologue(frames):
        g_re, g_im = stepper.operator_parts(frames[:, -1, :, 2])  # (B, NX, span, n_in)
        g = tf.reshape(tf.stack([g_re, g_im], -1), [-1, block, span, n_in * 2])  # rows (case, block, cell)
        # skew: row r of a block starts at column r, so row r's tap d lands on window cell r + d
        g = tf.pad(g, [[0, 0], [0, 0], [0, block], [0, 0]])
        g = tf.reshape(g, [-1, block * (span + block) * n_in * 2])[:, : block * width * n_in * 2]
        g = tf.transpose(tf.reshape(g, [-1, block, width * n_in * 2]), [0, 2, 1])  # (B * n_blocks, K, block)
        psi = tf.transpose(frames[..., :2], [0, 2, 1, 3])  # (B, NX, n_in, [Re, Im])
        state = tf.stack([psi[..., 0], -psi[..., 1], psi[..., 1], psi[..., 0]], -1)
        return tf.identity(g, name=OPERATOR), tf.identity(state, name=STATE0)

    return tf.function(prologue, input_signature=[tf.TensorSpec([None, n_in, nx, 3], tf.float32, name="frames")])


# --- graph building ---------------------------------------------------------------------------------------


class _Graph:
    """Nodes and constants of one ONNX graph under construction, every name prefixed."""

    def __init__(self, prefix: str):
        self.prefix, self.nodes, self.inits = prefix, [], []

    def const(self, name: str, value, dtype=np.int64) -> str:
        from onnx import numpy_helper

        full = f"{self.prefix}{name}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), full))
        return full

    def op(self, op_type: str, inputs: list[str], name: str, **attrs) -> str:
        from onnx import helper

        out = f"{self.prefix}{name}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def reduce_sum_square(self, x: str, axes: list[int], name: str, opset: int) -> str:
        if opset >= 18:
            return self.op("ReduceSumSquare", [x, self.const(f"{name}_axes", axes)], name, keepdims=1)
        return self.op("ReduceSumSquare", [x], name, axes=axes, keepdims=1)


def _operator_body(nx: int, n_in: int, window: int, block: int, renormalize: bool, opset: int):
    """One frame with the precomputed operator: state (B, NX, n_in, 4) -> (state', next (B, NX, 2))."""
    from onnx import TensorProto, helper

    g = _Graph("loop/")
    span, n_blocks = 2 * window - 1, nx // block
    width = block + span - 1
    k = width * n_in * 2
    state = "loop/state"
    cells = (np.arange(n_blocks)[:, None] * block - (window - 1) + np.arange(width)[None, :]) % nx
    win = g.op("Gather", [state, g.const("cells", cells)], "windows", axis=1)  # (B, nb, width, n_in, 4)
    win = g.op("Reshape", [win, g.const("shape4", [-1, width * n_in, 2, 2])], "windows4")
    win = g.op("Transpose", [win], "rows", perm=[0, 2, 1, 3])  # (B * nb, [Re row, Im row], width * n_in, 2)
    win = g.op("Reshape", [win, g.const("shape3", [-1, 2, k])], "lhs")  # (B * nb, 2, K)
    out = g.op("MatMul", [win, OPERATOR], "product")  # (B * nb, 2, block)
    out = g.op("Transpose", [out], "cells_last", perm=[0, 2, 1])
    nxt = g.op("Reshape", [out, g.const("shape_next", [-1, nx, 2])], "raw")  # (B, NX, 2)
    if renormalize:  # next * sqrt(|last|^2 / (|next|^2 + 1e-30)); the 2x2 form holds |last|^2 twice
        last = g.op("Gather", [state, g.const("last_index", n_in - 1)], "last", axis=2)  # (B, NX, 4)
        num = g.reduce_sum_square(last, [1, 2], "norm_last2", opset)
        den = g.reduce_sum_square(nxt, [1, 2], "norm_next", opset)
        den = g.op("Add", [den, g.const("eps", 1e-30, np.float32)], "norm_next_eps")
        den = g.op("Mul", [den, g.const("two", 2.0, np.float32)], "norm_next2")
        scale = g.op("Sqrt", [g.op("Div", [num, den], "ratio")], "scale")
        nxt = g.op("Mul", [nxt, scale], "next")
    form = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, -1.0, 1.0, 0.0]], np.float32)  # [Re, Im] -> [Re, -Im, Im, Re]
    new = g.op("MatMul", [nxt, g.const("form", form, np.float32)], "new")
    new = g.op("Unsqueeze", [new, g.const("axis2", [2])], "new4")
    tail = g.op("Slice", [state, g.const("one", [1]), g.const("n_in", [n_in]), g.const("axes2", [2])], "tail")
    g.op("Concat", [tail, new], "state_out", axis=2)
    g.op("Identity", ["loop/cond"], "cond_out")
    shape = ["batch", nx, n_in, 4]
    return helper.make_graph(
        g.nodes,
        "rollout_body",
        [
            helper.make_tensor_value_info("loop/i", TensorProto.INT64, []),
            helper.make_tensor_value_info("loop/cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info(state, TensorProto.FLOAT, shape),
        ],
        [
            helper.make_tensor_value_info("loop/cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("loop/state_out", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info(nxt, TensorProto.FLOAT, ["batch", nx, 2]),
        ],
        g.inits,
    )


def _prefixed(graph, prefix: str) -> None:
    """Prefix every value name in ``graph`` and its subgraphs, in place (graph inputs included)."""
    from onnx import AttributeProto

    def name(n: str) -> str:
        return f"{prefix}{n}" if n else n

    def walk(gr) -> None:
        for v in (*gr.input, *gr.output, *gr.value_info):
            v.name = name(v.name)
        for t in gr.initializer:
            t.name = name(t.name)
        for t in gr.sparse_initializer:
            t.values.name, t.indices.name = name(t.values.name), name(t.indices.name)
        for node in gr.node:
            node.input[:] = [name(n) for n in node.input]
            node.output[:] = [name(n) for n in node.output]
            node.name = name(node.name)
            for attr in node.attribute:
                if attr.type == AttributeProto.GRAPH:
                    walk(attr.g)
                elif attr.type == AttributeProto.GRAPHS:
                    for sub in attr.graphs:
                        walk(sub)

    walk(graph)


def _step_body(step, nx: int, n_in: int):
    """``step.onnx``'s graph as the loop body: frames (B, n_in, NX, 3) -> (frames shifted, next (B, NX, 2))."""
    from onnx import GraphProto, TensorProto, helper

    body = GraphProto()
    body.CopyFrom(step.graph)
    _prefixed(body, "step/")
    frames, nxt = body.input[0].name, body.output[0].name
    g = _Graph("loop/")
    v = g.op(
        "Slice",
        [frames, g.const("v_lo", [n_in - 1, 2]), g.const("v_hi", [n_in, 3]), g.const("v_axes", [1, 3])],
        "v",
    )  # (B, 1, NX, 1): the last frame's V / v_scale
    new = g.op("Concat", [g.op("Unsqueeze", [nxt, g.const("axis1", [1])], "next4"), v], "new", axis=3)
    tail = g.op("Slice", [frames, g.const("one", [1]), g.const("n_in", [n_in]), g.const("axes1", [1])], "tail")
    g.op("Concat", [tail, new], "state_out", axis=1)
    g.op("Identity", ["loop/cond"], "cond_out")
    body.node.extend(g.nodes)
    body.initializer.extend(g.inits)
    shape = ["batch", n_in, nx, 3]
    del body.input[:], body.output[:]
    body.input.extend(
        [
            helper.make_tensor_value_info("loop/i", TensorProto.INT64, []),
            helper.make_tensor_value_info("loop/cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info(frames, TensorProto.FLOAT, shape),
        ]
    )
    body.output.extend(
        [
            helper.make_tensor_value_info("loop/cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("loop/state_out", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info(nxt, TensorProto.FLOAT, ["batch", nx, 2]),
        ]
    )
    body.name = "rollout_body"
    return body


def _with_loop(base, body, state0: str, nx: int, n_in: int):
    """``base`` (a model whose graph computes ``state0`` and whatever the body reads from the input
    ``frames``) with the Loop over ``body`` appended: inputs frames and n_frames, output forecast."""
    from onnx import ModelProto, TensorProto, helper

    model = ModelProto()
    model.CopyFrom(base)
    graph = model.graph
    del graph.output[:]
    graph.input.append(helper.make_tensor_value_info(ROLLOUT_N, TensorProto.INT64, []))
    true = helper.make_tensor("true_value", TensorProto.BOOL, [], [True])
    graph.node.extend(
        [
            helper.make_node("Constant", [], ["rollout/true"], name="rollout/true", value=true),
            helper.make_node(
                "Loop", [ROLLOUT_N, "rollout/true", state0], ["rollout/state_end", "rollout/frames"], body=body
            ),
            helper.make_node("Transpose", ["rollout/frames"], [ROLLOUT_OUTPUT], perm=[1, 0, 2, 3]),
        ]
    )
    graph.output.append(helper.make_tensor_value_info(ROLLOUT_OUTPUT, TensorProto.FLOAT, ["batch", ROLLOUT_N, nx, 2]))
    graph.name = "qwave_rollout"
    return model


def operator_rollout(prologue, nx: int, n_in: int, window: int, block: int, renormalize: bool, opset: int):
    """rollout.onnx for a linear-in-psi model from the converted :func:`operator_prologue`."""
    _check_opset(opset)
    names = [o.name for o in prologue.graph.output]
    if names != [OPERATOR, STATE0]:
        raise QwaveInputError(f"the operator prologue must output {[OPERATOR, STATE0]}, got {names}")
    body = _operator_body(nx, n_in, window, block, renormalize, opset)
    return _with_loop(prologue, body, STATE0, nx, n_in)


def step_rollout(step, nx: int, n_in: int, opset: int):
    """rollout.onnx for any model: the converted step graph (``step.onnx``) as the loop body."""
    from onnx import TensorProto, helper

    _check_opset(opset)
    body = _step_body(step, nx, n_in)
    base = helper.make_model(
        helper.make_graph(
            [],
            "qwave_rollout",
            [helper.make_tensor_value_info(ROLLOUT_FRAMES, TensorProto.FLOAT, ["batch", n_in, nx, 3])],
            [],
        ),
        opset_imports=list(step.opset_import),
        ir_version=step.ir_version,
    )
    return _with_loop(base, body, ROLLOUT_FRAMES, nx, n_in)


def _check_opset(opset: int) -> None:
    if opset < MIN_OPSET:
        raise QwaveInputError(f"rollout.onnx needs ONNX opset >= {MIN_OPSET}, got {opset}")
