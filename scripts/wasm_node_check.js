// The engine's module under Node.js, without a browser: validates FILES as the console does and writes the
// JSON report to OUT, for comparison with `caregate validate --format json --output` byte for byte.
// Usage: node scripts/wasm_node_check.js MODULE.wasm NOW OUT FILE...
"use strict";
const fs = require("fs");
const path = require("path");
const { instantiate } = require(path.join(__dirname, "../crates/caregate-console/site/engine.js"));

(async () => {
  const [wasm, now, out, ...files] = process.argv.slice(2);
  const engine = await instantiate(fs.readFileSync(wasm));
  const given = files.map((name) => ({ name, bytes: fs.readFileSync(name) }));
  fs.writeFileSync(out, engine.validate(given, { standard: null, now }).report);
})().catch((error) => {
  console.error(`wasm_node_check: ${error.message}`);
  process.exit(1);
});
