#!/usr/bin/env python3
"""`make dist`: the page as a self-contained static folder (dist/) for any static host and any sub-path.

dist/ holds index.html (with the Content-Security-Policy of www/serve.py as a <meta> tag, and the build's
version), www/ (the page's modules and styles; www/lessons/ the built-in lessons), pkg/ (the wasm; pkg/threads/ the threaded build), _headers (the
cross-origin isolation headers, for hosts that read it), assets/ (model, class names, samples, as listed
in assets/manifest.json), LICENSES/ and sw.js, the service worker that makes the page work offline (its cache is
named after a hash of every published file, so each build with a change replaces the previous offline copy) and
cross-origin isolated on hosts that cannot send headers (it adds them to what it serves).

Every URL in the page is relative; this script refuses to publish a file that uses a root-relative or
hard-coded local URL. Run `make wasm assets` first (`make dist` does).
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "www"))
from serve import CSP, ISOLATION  # noqa: E402  (one policy for `make run` and the published page)

WWW_KINDS = (".js", ".css", ".html", ".json", ".svg", ".png")
NOT_PUBLISHED = {"serve.py", "sw.js"}
# Root-relative or local-machine URLs: a page under https://host/course/netlens/ would miss them.
BAD_URL = [
    re.compile(r"""\b(?:src|href|action)\s*=\s*["']/(?!/)"""),
    re.compile(r"""url\(\s*["']?/(?!/)"""),
    re.compile(r"""\b(?:fetch|import|register|new\s+URL|new\s+Worker)\s*\(\s*["'`]/(?!/)"""),
    re.compile(r"""\bfrom\s+["']/(?!/)"""),
    re.compile(r"""(?:127\.0\.0\.1|localhost):\d"""),
]


def die(msg):
    sys.exit(f"make dist: {msg}")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def copy(src, dist, rel):
    dst = os.path.join(dist, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)


def page_files():
    """(source path, published path) of the page, the wasm and the assets the page fetches."""
    out = [(os.path.join(ROOT, "index.html"), "index.html")]
    for name in sorted(os.listdir(os.path.join(ROOT, "www"))):
        if name.endswith(WWW_KINDS) and name not in NOT_PUBLISHED:
            out.append((os.path.join(ROOT, "www", name), f"www/{name}"))
    # The built-in lessons (www/lessons/index.json lists them; www/lesson.js): shipped and saved for offline use.
    lessons = os.path.join(ROOT, "www", "lessons")
    for name in sorted(os.listdir(lessons)) if os.path.isdir(lessons) else []:
        if name.endswith(".json"):
            out.append((os.path.join(lessons, name), f"www/lessons/{name}"))
    for name in ("netlens.js", "netlens_bg.wasm"):
        if not os.path.isfile(os.path.join(ROOT, "pkg", name)):
            die(f"pkg/{name} is missing: run `make wasm`")
    for name in ("threads/netlens.js", "threads/netlens_bg.wasm"):
        if not os.path.isfile(os.path.join(ROOT, "pkg", name)):
            die(f"pkg/{name} is missing: run `make wasm`")
    # The bindings, the wasm and what `make wasm` derives from it (pkg/schema.json), for both builds: pkg/ and
    # pkg/threads/ with wasm-bindgen-rayon's worker script (pkg/threads/snippets/).
    pkg = os.path.join(ROOT, "pkg")
    for d, dirs, names in sorted(os.walk(pkg)):
        dirs.sort()
        for name in sorted(names):
            if name.endswith((".js", ".wasm", ".json")) and name != "package.json":
                full = os.path.join(d, name)
                out.append((full, "pkg/" + os.path.relpath(full, pkg).replace(os.sep, "/")))
    manifest_path = os.path.join(ROOT, "assets", "manifest.json")
    if not os.path.isfile(manifest_path):
        die("assets/manifest.json is missing: run `make assets`")
    with open(manifest_path) as f:
        manifest = json.load(f)
    rels = ["manifest.json", manifest["model"], manifest["classes"]]
    rels += [manifest["synsets"]] if manifest.get("synsets") else []
    rels += [s["file"] for s in manifest.get("samples", [])]
    rels += ["images/PROVENANCE.md"] if os.path.isfile(os.path.join(ROOT, "assets/images/PROVENANCE.md")) else []
    for rel in rels:
        path = os.path.join(ROOT, "assets", rel)
        if not os.path.isfile(path) or ".." in rel.split("/"):
            die(f"assets/{rel} (listed in assets/manifest.json) is missing: run `make assets`")
        out.append((path, f"assets/{rel}"))
    return out


def crate_licences(dist):
    """LICENSES/crates/: every Rust crate compiled into the wasm, with its licence files; returns the list."""
    # With the threaded build's feature: its crates are the single-thread build's plus the thread pool's.
    tree = subprocess.run(
        ["cargo", "tree", "--offline", "-e", "normal", "--target", "wasm32-unknown-unknown", "--features",
         "wasm-threads", "--prefix", "none", "-f", "{p}\t{l}\t{r}"], cwd=ROOT, capture_output=True, text=True)
    if tree.returncode != 0:
        die(f"cargo tree failed: {tree.stderr.strip()}")
    # The crates' sources, as cargo unpacked them for the wasm build.
    cargo_home = os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")
    registry = os.path.join(cargo_home, "registry", "src")
    unpacked = [os.path.join(registry, d) for d in os.listdir(registry)] if os.path.isdir(registry) else []
    lines = []
    seen = set()
    for row in tree.stdout.splitlines():
        pkg, lic, repo = (row.split("\t") + ["", ""])[:3]
        if not pkg or "(proc-macro)" in pkg or pkg.startswith("netlens ") or pkg in seen:
            continue  # proc-macros run at build time only; netlens itself is the project
        seen.add(pkg)
        name, version = pkg.split()[0], pkg.split()[1].lstrip("v")
        src = next((os.path.join(d, f"{name}-{version}") for d in unpacked
                    if os.path.isdir(os.path.join(d, f"{name}-{version}"))), None)
        copied = []
        if src:
            for f in sorted(os.listdir(src)):
                if re.match(r"(?i)^(licen[cs]e|copying|notice|unlicense)", f) and os.path.isfile(os.path.join(src, f)):
                    copy(os.path.join(src, f), dist, f"LICENSES/crates/{name}-{version}/{f}")
                    copied.append(f)
        lines.append(f"{name} {version}\t{lic or '?'}\t{repo}\t{', '.join(copied) or '(no licence file in the crate)'}")
    if not lines:
        die("cargo tree listed no crates")
    return sorted(lines)


def write_licences(dist):
    crates = crate_licences(dist)
    shared = os.environ.get("NETLENS_SHARED") or os.path.join(ROOT, "..", "shared")
    model_prov = os.path.join(shared, "models", "PROVENANCE.md")
    if os.path.isfile(model_prov):
        copy(model_prov, dist, "LICENSES/model-PROVENANCE.md")
    text = [
        "netlens: what a pretrained ImageNet CNN has learned. Licence: Apache-2.0 (see Cargo.toml).",
        "",
        "Model: SqueezeNet 1.1 weights from the ONNX model zoo (Apache-2.0); details in model-PROVENANCE.md"
        if os.path.isfile(model_prov) else "Model: SqueezeNet 1.1 weights from the ONNX model zoo (Apache-2.0).",
        "Sample images: scikit-image data, CC0 / public domain; details in ../assets/images/PROVENANCE.md.",
        "",
        f"Rust crates compiled into pkg/netlens_bg.wasm and pkg/threads/netlens_bg.wasm ({len(crates)}; licence "
        "files in crates/):",
        "name version\tlicence\trepository\tfiles",
        *crates,
        "",
    ]
    with open(os.path.join(dist, "LICENSES", "README.txt"), "w") as f:
        f.write("\n".join(text))


def check_relative(dist, rels):
    problems = []
    for rel in rels:
        if not rel.endswith((".html", ".js", ".css")) or rel.startswith("pkg/"):
            continue  # pkg/ is wasm-bindgen's output: it loads the wasm from import.meta.url
        with open(os.path.join(dist, rel), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if any(p.search(line) for p in BAD_URL):
                    problems.append(f"  {rel}:{n}: {line.strip()[:120]}")
    if problems:
        die("URLs that only work at a site's root or on this machine (use relative URLs):\n" + "\n".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "dist"))
    args = ap.parse_args()
    dist = os.path.realpath(args.out)
    if dist in (ROOT, os.path.dirname(ROOT), "/") or os.path.isfile(os.path.join(dist, "Cargo.toml")):
        die(f"refusing to replace {dist}")
    files = page_files()
    # The build's version: every published file's name and content (index.html before the tags added below).
    h = hashlib.sha256()
    for src, rel in sorted(files, key=lambda f: f[1]):
        h.update(f"{rel}\0{sha256_file(src)}\n".encode())
    with open(os.path.join(ROOT, "www", "sw.js"), encoding="utf-8") as f:
        sw = f.read()
    h.update(sw.encode())
    h.update(json.dumps(ISOLATION, sort_keys=True).encode())  # filled into sw.js below
    version = h.hexdigest()[:16]

    shutil.rmtree(dist, ignore_errors=True)
    os.makedirs(dist)
    for src, rel in files:
        copy(src, dist, rel)

    index = os.path.join(dist, "index.html")
    with open(index, encoding="utf-8") as f:
        html = f.read()
    charset = '<meta charset="utf-8">'
    if charset not in html:
        die(f"index.html has no {charset} to put the policy after")
    # index.html carries the policy itself (so `make run` and any copy of the page have it); it must be serve.py's.
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    if html.count("Content-Security-Policy") != (1 if meta in html else 0) or html.count(meta) > 1:
        die("index.html's Content-Security-Policy <meta> differs from www/serve.py's CSP (or is there twice)")
    tags = (charset + ("" if meta in html else f"\n  {meta}") +
            f'\n  <meta name="netlens-build" content="{version}">')
    with open(index, "w", encoding="utf-8") as f:
        f.write(html.replace(charset, tags, 1))

    write_licences(dist)
    with open(os.path.join(dist, ".nojekyll"), "w"):
        pass  # GitHub Pages: publish the folder as it is
    # Hosts that read a _headers file (Netlify, Cloudflare Pages) send the cross-origin isolation headers with it,
    # so the page runs the threaded build from the first visit; elsewhere the service worker adds them (www/sw.js)
    # and the page reloads itself once to use them (www/isolation.js; docs/publish.md).
    with open(os.path.join(dist, "_headers"), "w") as f:
        f.write("/*\n" + "".join(f"  {k}: {v}\n" for k, v in ISOLATION.items()))
    published = sorted(
        os.path.relpath(os.path.join(d, n), dist).replace(os.sep, "/")
        for d, _, names in os.walk(dist) for n in names if n not in (".nojekyll", "_headers"))
    check_relative(dist, published)

    # The offline copy: everything but the crates' licence texts (LICENSES/README.txt lists them).
    cached = [r for r in published if not r.startswith("LICENSES/crates/")]
    # The service worker adds the isolation headers itself where the host cannot send them (www/sw.js).
    for old, new in ((r"const VERSION = 'dev';", f"const VERSION = '{version}';"),
                     (r"const FILES = [];", f"const FILES = {json.dumps(cached, indent=2)};"),
                     (r"const ISOLATION = {};", f"const ISOLATION = {json.dumps(ISOLATION)};")):
        if sw.count(old) != 1:
            die(f"www/sw.js must contain `{old}` exactly once")
        sw = sw.replace(old, new)
    with open(os.path.join(dist, "sw.js"), "w", encoding="utf-8") as f:
        f.write(sw)

    size = sum(os.path.getsize(os.path.join(dist, r)) for r in published)
    print(f"dist/: {len(published) + 1} files, {size / 1e6:.1f} MB, build {version}; "
          f"serve it from any static host (README: Publish)")


if __name__ == "__main__":
    main()
