// The console's Web Worker: loads the engine (caregate.wasm, beside this file) and validates the files the
// page sends, off the page's thread, posting progress as it goes. Nothing leaves the machine: the only
// requests are for engine.js and caregate.wasm, the site's own files. From a file share (file://), where it
// can fetch nothing, it runs from a blob: URL with engine.js before it, and the page sends it the module.
"use strict";
if (typeof CaregateEngine === "undefined") importScripts("engine.js");
let given = null;
const offline = typeof CAREGATE_OFFLINE_WORKER !== "undefined"
  ? new Promise((resolve) => { given = resolve; }) : null;

let engine = null;
// Which share of the page's run this worker is checking (the page's index, given back with every answer).
let share = 0;
let sizes = [];
let doneBytes = 0;
let lastPost = 0;

function progress(p) {
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  let read = doneBytes;
  if (p.file !== null) {
    read = doneBytes + Math.min(p.read, sizes[p.file] || 0);
  } else if (p.total > 0) {
    doneBytes = sizes.slice(0, p.done).reduce((a, b) => a + b, 0);
    read = doneBytes;
  }
  const now = Date.now();
  // At most every 50 ms: the page redraws a bar, not a log.
  if (now - lastPost >= 50 || p.file === null) {
    lastPost = now;
    postMessage({ type: "progress", share, fraction: Math.min(1, read / total) });
  }
}

async function moduleBytes() {
  if (offline) return offline;
  const response = await fetch("caregate.wasm");
  if (!response.ok) throw new Error(`caregate.wasm: ${response.status} ${response.statusText}`);
  return response.arrayBuffer();
}

// Rounds of the packs' own valid examples checked before the worker says it is ready (see `warm`).
const WARM_ROUNDS = 10;

let ready = (async () => {
  engine = await CaregateEngine.instantiate(await moduleBytes(), progress);
  const standards = engine.standards();
  engine.warm(WARM_ROUNDS);
  return standards;
})();

ready.then(
  (standards) => postMessage({ type: "ready", standards }),
  (error) => postMessage({ type: "unavailable", message: String(error && error.message ? error.message : error) }),
);

onmessage = async (event) => {
  const message = event.data;
  if (message.type === "engine" && given) given(message.bytes);
  if (message.type !== "validate") return;
  share = message.share || 0;
  try {
    await ready;
    sizes = message.files.map((f) => f.buffer.byteLength);
    doneBytes = 0;
    const started = performance.now();
    const files = message.files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.buffer) }));
    const { report, excerpts } = engine.validate(files, message.request);
    postMessage({ type: "done", share, report, excerpts, ms: performance.now() - started });
  } catch (error) {
    // A trap (a panic in the engine) leaves the instance's memory in an unknown state: the next run gets a
    // fresh instance of the same module. An error the engine answered with leaves it sound.
    if (error instanceof WebAssembly.RuntimeError && engine) {
      const module = engine.module;
      engine = null;
      ready = CaregateEngine.instantiate(module, progress).then((fresh) => {
        engine = fresh;
        return fresh.standards();
      });
    }
    postMessage({ type: "failed", share, message: String(error && error.message ? error.message : error) });
  }
};
