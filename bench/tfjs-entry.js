// Bundled by esbuild into bench/out/tfjs.js (see bench/bench.mk): TF.js core, all its gradients (tf.grad needs
// them and the core's browser bundle leaves them out), the wasm backend, and protobufjs to read the ONNX file.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import protobuf from 'protobufjs/light.js';

export { tf, wasm, protobuf };
