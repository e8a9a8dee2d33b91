// The console's Web Worker: loads the engine (caregate.wasm, beside this file) and validates the files the
// page sends, off the page's thread, posting progress as it goes. Nothing leaves the machine: the only
// requests are for engine.js and caregate.wasm, the site's own files.
"use strict";
importScripts("engine.js");

let engine = null;
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
    postMessage({ type: "progress", fraction: Math.min(1, read / total) });
  }
}

const ready = (async () => {
  const response = await fetch("caregate.wasm");
  if (!response.ok) throw new Error(`caregate.wasm: ${response.status} ${response.statusText}`);
  engine = await CaregateEngine.instantiate(await response.arrayBuffer(), progress);
  return engine.standards();
})();

ready.then(
  (standards) => postMessage({ type: "ready", standards }),
  (error) => postMessage({ type: "unavailable", message: String(error && error.message ? error.message : error) }),
);

onmessage = async (event) => {
  const message = event.data;
  if (message.type !== "validate") return;
  try {
    await ready;
    sizes = message.files.map((f) => f.buffer.byteLength);
    doneBytes = 0;
    const started = performance.now();
    const files = message.files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.buffer) }));
    const { report, excerpts } = engine.validate(files, message.request);
    postMessage({ type: "done", report, excerpts, ms: performance.now() - started });
  } catch (error) {
    postMessage({ type: "failed", message: String(error && error.message ? error.message : error) });
  }
};
