// The TF.js peer: the ONNX graph replayed op by op with TF.js ops, weights taken from the ONNX initializers.
// TF.js convolutions want NHWC activations and HWIO filters, so ONNX's OIHW filters are transposed once here and
// the input arrives NHWC. Only the ops SqueezeNet 1.1 uses are known; anything else throws rather than guessing.
import { ONNX_SCHEMA } from './onnx-schema.js';

const FLOAT = 1;

function attrs(node) {
  const out = {};
  for (const a of node.attribute) {
    if (a.ints.length) out[a.name] = a.ints.map(Number);
    else if (a.i != null && Number(a.i) !== 0) out[a.name] = Number(a.i);
    else if (a.f) out[a.name] = a.f;
    else out[a.name] = 0;
  }
  return out;
}

function initializerData(t) {
  if (t.dataType !== FLOAT) throw new Error(`initializer ${t.name}: only float32 is supported`);
  if (t.rawData?.length) {
    // rawData is a view into the model's bytes: copy to get an aligned Float32Array.
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer);
  }
  return Float32Array.from(t.floatData);
}

/** Explicit NHWC padding from ONNX pads [top, left, bottom, right]. */
function nhwcPad(pads = [0, 0, 0, 0]) {
  return [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]];
}

/**
 * Builds the model. `fused` turns each Conv followed by Relu into one tf.fused.conv2d (bias + relu), as
 * tfjs-converter does for converted models; without it every op is separate.
 */
export function buildSqueezeNet(tf, protobuf, onnxBytes, { fused = true } = {}) {
  const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
  const graph = root.lookupType('onnx.ModelProto').decode(onnxBytes).graph;
  const weights = new Map();
  for (const t of graph.initializer) {
    const dims = t.dims.map(Number);
    let w = tf.tensor(initializerData(t), dims);
    if (dims.length === 4) {
      const hwio = tf.transpose(w, [2, 3, 1, 0]);
      w.dispose();
      w = hwio;
    }
    weights.set(t.name, w);
  }
  const inputName = graph.input.map((i) => i.name).find((n) => !weights.has(n));
  const outputName = graph.output[0].name;
  const consumers = new Map();
  for (const n of graph.node) for (const i of n.input) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const nodes = graph.node.map((n) => ({ op: n.opType, inputs: [...n.input], outputs: [...n.output], attrs: attrs(n) }));

  // A Relu whose only input is a Conv output used nowhere else is folded into that Conv.
  const plan = [];
  for (let k = 0; k < nodes.length; k++) {
    const n = nodes[k];
    const next = nodes[k + 1];
    if (fused && n.op === 'Conv' && next?.op === 'Relu' && next.inputs[0] === n.outputs[0]
      && consumers.get(n.outputs[0]) === 1) {
      plan.push({ ...n, op: 'ConvRelu', outputs: next.outputs });
      k++;
    } else {
      plan.push(n);
    }
  }

  function conv(x, n, activation) {
    const a = n.attrs;
    if ((a.group ?? 1) !== 1) throw new Error('grouped convolution is not supported');
    const filter = weights.get(n.inputs[1]);
    const bias = n.inputs[2] ? weights.get(n.inputs[2]) : undefined;
    const strides = a.strides ?? [1, 1];
    const dilations = a.dilations ?? [1, 1];
    const pad = nhwcPad(a.pads);
    if (fused) return tf.fused.conv2d({ x, filter, strides, pad, dilations, bias, activation });
    let y = tf.conv2d(x, filter, strides, pad, 'NHWC', dilations);
    if (bias) y = tf.add(y, bias);
    return activation === 'relu' ? tf.relu(y) : y;
  }

  function maxPool(x, n) {
    const a = n.attrs;
    const [kh, kw] = a.kernel_shape;
    const [sh, sw] = a.strides ?? [1, 1];
    const pads = a.pads ?? [0, 0, 0, 0];
    const [, h, w] = x.shape;
    // ceil_mode: extend the bottom/right padding so the last partial window counts.
    const extra = (size, k, s, p0, p1) => {
      const span = size + p0 + p1 - k;
      return a.ceil_mode ? (Math.ceil(span / s) * s - span) : 0;
    };
    const eh = extra(h, kh, sh, pads[0], pads[2]);
    const ew = extra(w, kw, sw, pads[1], pads[3]);
    const explicit = [[0, 0], [pads[0], pads[2] + eh], [pads[1], pads[3] + ew], [0, 0]];
    const none = explicit.every(([p, q]) => p === 0 && q === 0);
    return tf.maxPool(x, [kh, kw], [sh, sw], none ? 'valid' : explicit);
  }

  /** Logits [1, classes] of an NHWC input. */
  function forward(x) {
    const values = new Map([[inputName, x]]);
    const get = (name) => values.get(name) ?? weights.get(name);
    for (const n of plan) {
      const x0 = get(n.inputs[0]);
      let y;
      switch (n.op) {
        case 'Conv': y = conv(x0, n, 'linear'); break;
        case 'ConvRelu': y = conv(x0, n, 'relu'); break;
        case 'Relu': y = tf.relu(x0); break;
        case 'MaxPool': y = maxPool(x0, n); break;
        case 'Concat': {
          if (n.attrs.axis !== 1) throw new Error('Concat is only supported along channels');
          y = tf.concat(n.inputs.map(get), 3);
          break;
        }
        case 'GlobalAveragePool': y = tf.mean(x0, [1, 2], true); break;
        case 'Flatten': {
          // NHWC and NCHW flatten alike only when the spatial size is 1x1.
          if (x0.shape[1] * x0.shape[2] !== 1) throw new Error('Flatten of a spatial map is not supported');
          y = tf.reshape(x0, [x0.shape[0], -1]);
          break;
        }
        case 'Dropout': y = x0; break;
        default: throw new Error(`ONNX op ${n.op} is not supported by the TF.js peer`);
      }
      values.set(n.outputs[0], y);
    }
    return values.get(outputName);
  }

  /** d logit[cls] / d x for an NHWC input; the logit is picked with slice (gather's gradient lacks a wasm kernel). */
  function inputGradient(x, cls) {
    const logit = (input) => tf.sum(tf.slice(forward(input), [0, cls], [1, 1]));
    return tf.grad(logit)(x);
  }

  return { forward, inputGradient, dispose: () => weights.forEach((w) => w.dispose()) };
}

/** NCHW Float32Array [1,C,H,W] -> NHWC tensor. */
export function nhwcFromNchw(tf, data, [n, c, h, w]) {
  return tf.tidy(() => tf.transpose(tf.tensor(data, [n, c, h, w]), [0, 2, 3, 1]));
}
