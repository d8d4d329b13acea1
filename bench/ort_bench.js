// ort_bench.js - times one model in ONNX Runtime (onnxruntime-node) for bench/run.py.
//
//   node bench/ort_bench.js MODEL.onnx 1,3,224,224    a session on that input shape
//   node bench/ort_bench.js -                         only load the binding: the
//                                                     baseline for peak memory
// Same stdin/stdout protocol as bench/harness.c: "N" runs N inferences and answers
// the nanoseconds per inference, "o" runs once and answers the output (one line of
// floats), "p" answers "ok", "q" exits. One thread (intra- and inter-op),
// sequential execution, every graph optimisation. Each run() is awaited, so the
// time includes the binding's per-call cost (bench/run.py also times a trivial model
// to state that floor). Inputs are fixed pseudo-random values in [-1, 1).
// NODE_PATH must point at build/bench/node/node_modules.
'use strict';
const readline = require('readline');
const ort = require('onnxruntime-node');

async function main() {
  const [model, shapeArg] = process.argv.slice(2);
  let session = null;
  let feeds = null;
  if (model !== '-') {
    session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const shape = shapeArg.split(',').map(Number);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    let s = 12345;
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = (s >>> 8) / 8388608 - 1;
    }
    feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  }
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.startsWith('q'))
      break;
    if (line.startsWith('p')) {
      process.stdout.write('ok\n');
      continue;
    }
    if (line.startsWith('o')) {
      const result = await session.run(feeds);
      process.stdout.write(Array.from(result[session.outputNames[0]].data).join(' ') + '\n');
      continue;
    }
    const n = Math.max(1, parseInt(line, 10) || 1);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++)
      await session.run(feeds);
    const t1 = process.hrtime.bigint();
    process.stdout.write((Number(t1 - t0) / n).toFixed(1) + '\n');
  }
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write('ort_bench: ' + e + '\n');
  process.exit(1);
});
