// Writes pkg/schema.json: the method registry's schema exactly as the built wasm's schema() returns it, so the
// page can build its tabs and forms before (or without) the engine starting. Run by `make wasm`.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../pkg');
const wasm = await import(path.join(pkg, 'netlens.js'));
await wasm.default({ module_or_path: readFileSync(path.join(pkg, 'netlens_bg.wasm')) });
const text = wasm.schema();
JSON.parse(text); // fail the build on anything but JSON
writeFileSync(path.join(pkg, 'schema.json'), text);
console.log(`pkg/schema.json: ${text.length} bytes`);
