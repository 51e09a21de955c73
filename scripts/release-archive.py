#!/usr/bin/env python3
"""`make release-archive`: the published page (`make dist`'s folder) as the release's download, for a teacher who
copies it to any web space without building anything (README: Publish; docs/publish.md).

Writes, into --out: netlens-VERSION-site.tar.gz and netlens-VERSION-site.zip (the same files, under one folder
netlens-VERSION/), and SHA256SUMS (`sha256sum -c SHA256SUMS` checks both). .github/workflows/release.yml runs
this on a `v*` tag and attaches the three files to the release; tests/browser/classroom.test.mjs unpacks the
archive under a sub-path and runs the classroom checks against it.

The archives are reproducible: entries sorted, owner root, modes 644/755, every time stamp SOURCE_DATE_EPOCH
(else the last commit's time), gzip without a name or time.
"""
import argparse
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
# zip cannot say a time before 1980.
ZIP_EPOCH = 315532800


def die(msg):
    sys.exit(f"make release-archive: {msg}")


def stamp():
    if os.environ.get("SOURCE_DATE_EPOCH"):
        try:
            return int(os.environ["SOURCE_DATE_EPOCH"])
        except ValueError:
            die(f"SOURCE_DATE_EPOCH={os.environ['SOURCE_DATE_EPOCH']!r} is not a number of seconds")
    git = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True)
    return int(git.stdout.strip()) if git.returncode == 0 and git.stdout.strip() else int(time.time())


def site_files(dist):
    """Every file of the site (dot files included: .nojekyll), as sorted paths relative to dist."""
    if not os.path.isdir(dist):
        die(f"{dist} does not exist: run `make dist` first")
    for required in ("index.html", "sw.js"):
        if not os.path.isfile(os.path.join(dist, required)):
            die(f"{dist} has no {required}: it is not `make dist`'s folder (run `make dist`)")
    with open(os.path.join(dist, "index.html"), encoding="utf-8") as f:
        if 'name="netlens-build"' not in f.read():
            die(f"{dist}/index.html carries no build stamp: it is not `make dist`'s folder (run `make dist`)")
    out = []
    for d, dirs, names in os.walk(dist):
        dirs.sort()
        for n in names:
            full = os.path.join(d, n)
            if os.path.islink(full) or not os.path.isfile(full):
                die(f"{full} is not a regular file")
            out.append(os.path.relpath(full, dist).replace(os.sep, "/"))
    return sorted(out)


def folders_of(files):
    dirs = set()
    for f in files:
        parts = f.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def write_tar(path, dist, top, files, mtime):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def info(name, kind, mode, size=0):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.size, ti.mtime = kind, mode, size, mtime
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            return ti
        tar.addfile(info(top, tarfile.DIRTYPE, 0o755))
        for d in folders_of(files):
            tar.addfile(info(f"{top}/{d}", tarfile.DIRTYPE, 0o755))
        for f in files:
            full = os.path.join(dist, f)
            with open(full, "rb") as fh:
                tar.addfile(info(f"{top}/{f}", tarfile.REGTYPE, 0o644, os.path.getsize(full)), fh)
    with open(path, "wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())


def write_zip(path, dist, top, files, mtime):
    when = time.gmtime(max(mtime, ZIP_EPOCH))[:6]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        def entry(name, mode):
            zi = zipfile.ZipInfo(name, date_time=when)
            zi.create_system = 3  # unix, so that the modes below count
            zi.external_attr = mode << 16
            return zi
        z.writestr(entry(f"{top}/", 0o40755), b"")
        for d in folders_of(files):
            z.writestr(entry(f"{top}/{d}/", 0o40755), b"")
        for f in files:
            zi = entry(f"{top}/{f}", 0o100644)
            zi.compress_type = zipfile.ZIP_DEFLATED
            with open(os.path.join(dist, f), "rb") as fh:
                z.writestr(zi, fh.read())


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dist", default=os.path.join(ROOT, "dist"), help="`make dist`'s folder (default: dist/)")
    ap.add_argument("--version", required=True, help="the release's version, as in the tag without its v: 0.1.0")
    ap.add_argument("--out", default=os.path.join(ROOT, "release"), help="where the archives go (default: release/)")
    args = ap.parse_args()
    if not VERSION_RE.match(args.version):
        die(f"version {args.version!r}: use letters, digits and . + _ - only (e.g. 0.1.0), as in the tag v0.1.0")
    dist = os.path.realpath(args.dist)
    out = os.path.realpath(args.out)
    if out == dist or out.startswith(dist + os.sep):
        die(f"--out {out} is inside the site folder {dist}")
    files = site_files(dist)
    top = f"netlens-{args.version}"
    os.makedirs(out, exist_ok=True)
    mtime = stamp()
    names = [f"{top}-site.tar.gz", f"{top}-site.zip"]
    write_tar(os.path.join(out, names[0]), dist, top, files, mtime)
    write_zip(os.path.join(out, names[1]), dist, top, files, mtime)
    sums = "".join(f"{sha256_file(os.path.join(out, n))}  {n}\n" for n in names)
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        f.write(sums)
    sizes = ", ".join(f"{n} {os.path.getsize(os.path.join(out, n)) / 1e6:.1f} MB" for n in names)
    print(f"{out}: {sizes}, SHA256SUMS ({len(files)} files of the site under {top}/)")


if __name__ == "__main__":
    main()
