// caregate's engine in WebAssembly, behind the module's plain C interface (crates/caregate-wasm/src/exports.rs).
// A classic script: loaded by the Web Worker with importScripts, and by Node.js with require (the tests).
// It defines one global, CaregateEngine, with `instantiate(bytes, onProgress)` giving an engine whose
// `standards()` lists the embedded standards and `validate(files, request)` gives the JSON report's text.
(function (root) {
  "use strict";
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  // bytes: the module's bytes, or a WebAssembly.Module compiled before (engine.module).
  async function instantiate(bytes, onProgress) {
    let exports = null;
    const env = {
      // files done of total (file = 0xffffffff), or bytes read of one file (done = total = 0).
      cg_progress(done, total, file, read, size) {
        if (onProgress) onProgress({ done, total, file: file === 0xffffffff ? null : file, read, size });
      },
      // getrandom's source (hash seeds): the platform's cryptographic generator, 64 KiB at a time at most.
      cg_random(ptr, len) {
        for (let at = 0; at < len; at += 65536) {
          crypto.getRandomValues(new Uint8Array(exports.memory.buffer, ptr + at, Math.min(65536, len - at)));
        }
      },
    };
    // From bytes: { module, instance }; from a compiled module (a fresh instance after a trap): the instance.
    const made = await WebAssembly.instantiate(bytes, { env });
    const instance = made instanceof WebAssembly.Instance ? made : made.instance;
    const module = made instanceof WebAssembly.Instance ? bytes : made.module;
    exports = instance.exports;

    // Copies `data` (bytes) into a buffer the module allocates; the module owns it once handed over.
    function give(data) {
      const ptr = exports.cg_alloc(data.length);
      new Uint8Array(exports.memory.buffer, ptr, data.length).set(data);
      return ptr;
    }
    function answer(status) {
      const ptr = exports.cg_result_ptr();
      const len = exports.cg_result_len();
      const text = decoder.decode(new Uint8Array(exports.memory.buffer, ptr, len));
      if (status !== 0) throw new Error(text);
      return text;
    }
    return {
      module,
      standards() {
        return JSON.parse(answer(exports.cg_standards()));
      },
      // Checks the packs' valid examples `rounds` times over, so that the browser has compiled the module's
      // code for speed before the first return; gives how many documents that was.
      warm(rounds) {
        return Number(answer(exports.cg_warm(rounds)));
      },
      // files: [{ name, bytes: Uint8Array }]; request: { standard: null | "id@version", now: RFC 3339, params }.
      // Gives { report: the JSON report's text, excerpts: the JSON array of each finding's excerpt }.
      validate(files, request) {
        for (const file of files) {
          const name = encoder.encode(file.name);
          const namePtr = give(name);
          const bytesPtr = give(file.bytes);
          exports.cg_add_file(namePtr, name.length, bytesPtr, file.bytes.length);
        }
        const body = encoder.encode(JSON.stringify(request));
        const report = answer(exports.cg_validate(give(body), body.length));
        const excerpts = decoder.decode(
          new Uint8Array(exports.memory.buffer, exports.cg_excerpts_ptr(), exports.cg_excerpts_len()),
        );
        return { report, excerpts };
      },
    };
  }

  const api = { instantiate };
  root.CaregateEngine = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof self !== "undefined" ? self : globalThis);
