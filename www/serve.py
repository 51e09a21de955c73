#!/usr/bin/env python3
"""Static server for the netlens page: serves only index.html, www/, pkg/ and assets/ from the repo root, on
127.0.0.1, with the right MIME types (application/wasm lets the browser compile while downloading), and the
headers that make the page cross-origin isolated (so the threaded wasm build can run; --no-isolation leaves them
out, and the page then runs the single-thread build)."""
import argparse
import http.server
import os
import posixpath
import sys
import urllib.parse

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
ALLOWED_DIRS = ("www", "pkg", "assets", "docs")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}
# The page never needs anything from another origin; this also blunts any injection that slipped through.
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; img-src 'self' data: blob:; "
       "style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")

# Cross-origin isolation: SharedArrayBuffer, hence the threaded build's shared memory, exists only in a page that
# sends both. The page loads nothing from another origin, so require-corp blocks nothing. `make dist` writes the
# same pair into dist/_headers for hosts that read that file.
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}


def resolve(url_path):
    """The file a request path names, or None when it is outside what the page may serve."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    if not parts:
        parts = ["index.html"]
    if not (parts == ["index.html"] or (len(parts) > 1 and parts[0] in ALLOWED_DIRS)):
        return None
    full = os.path.realpath(os.path.join(ROOT, *parts))
    if not full.startswith(ROOT + os.sep) or not os.path.isfile(full):
        return None
    return full


class Handler(http.server.SimpleHTTPRequestHandler):
    isolated = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def translate_path(self, path):
        return resolve(path) or os.path.join(ROOT, ".missing")

    def send_head(self):
        if resolve(self.path) is None:
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def guess_type(self, path):
        return TYPES.get(posixpath.splitext(path)[1].lower(), "application/octet-stream")

    def end_headers(self):
        # Revalidate every time (Last-Modified makes that a cheap 304), so a rebuilt wasm or model is never stale.
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        if self.isolated:
            for name, value in ISOLATION.items():
                self.send_header(name, value)
        super().end_headers()

    def list_directory(self, path):
        self.send_error(404, "Not found")
        return None

    def log_message(self, fmt, *args):
        if os.environ.get("NETLENS_SERVE_QUIET") != "1":
            super().log_message(fmt, *args)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    ap.add_argument("--no-isolation", action="store_true",
                    help="omit the COOP/COEP headers (the page then runs the single-thread wasm build)")
    args = ap.parse_args()
    Handler.isolated = not args.no_isolation
    if not os.path.isfile(os.path.join(ROOT, "pkg", "netlens_bg.wasm")):
        print("warning: pkg/netlens_bg.wasm is missing; run `make wasm`", file=sys.stderr)
    if not os.path.isfile(os.path.join(ROOT, "pkg", "threads", "netlens_bg.wasm")):
        print("note: pkg/threads/netlens_bg.wasm is not there (yet): the page runs single-threaded until it is "
              "(`make run` builds it in the background; `make wasm` builds it)", file=sys.stderr)
    if not os.path.isfile(os.path.join(ROOT, "assets", "manifest.json")):
        print("warning: assets/manifest.json is missing; run `make assets`", file=sys.stderr)
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    except OSError as e:
        sys.exit(f"cannot listen on {args.host}:{args.port}: {e} (try `make run PORT=8001`)")
    host, port = server.server_address[:2]
    print(f"netlens: serving on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
