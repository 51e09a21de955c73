// `make wasm-threads`: wasm-bindgen-rayon's worker script finds the bindings with `import('../../..')`, which a
// bundler resolves to the package's entry but a browser resolves to a folder (a 404). Point it at the file
// (pkg/threads/netlens.js) so the page needs no bundler; fails unless there is exactly one such import.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2] ?? 'pkg/threads';
const snippets = join(out, 'snippets');
const found = existsSync(snippets)
  ? readdirSync(snippets).filter((d) => d.startsWith('wasm-bindgen-rayon-')).map((d) => join(snippets, d, 'src', 'workerHelpers.js'))
  : [];
if (found.length !== 1 || !existsSync(found[0])) {
  console.error(`threads-snippet: expected one wasm-bindgen-rayon workerHelpers.js under ${snippets}, found ${found.length}`);
  process.exit(1);
}
const file = found[0];
const text = readFileSync(file, 'utf8');
const from = "import('../../..')";
const to = "import('../../../netlens.js')";
if (text.includes(to) && !text.includes(from)) process.exit(0); // already done
if (text.split(from).length !== 2) {
  console.error(`threads-snippet: ${file} should contain ${from} exactly once`);
  process.exit(1);
}
writeFileSync(file, text.replace(from, to));
