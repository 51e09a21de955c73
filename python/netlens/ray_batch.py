"""`netlens batch` on a Ray cluster (issue 30; docs/scale.md): the same rows, the same table.

    python -m netlens.ray_batch --method saliency,ig --images DIR --out OUTDIR [--address auto] [--workers N]

Ray Data reads the files (`ray.data.read_binary_files`) and `map_batches` hands them to actors that each hold one
`netlens.Model`; every row is made by `Model.batch_row` (the Rust code `netlens batch` uses) and the driver writes
OUTDIR/results.csv and results.jsonl with `netlens.write_table`, so the table is byte-for-byte the CLI's. The
files are read as bytes, not with `ray.data.read_images`: netlens decodes them itself (EXIF orientation, alpha on
white, its size checks) exactly as the CLI does, and a file that is not an image becomes an error row instead of
failing the read. The same script runs unchanged on a multi-node cluster (`--address auto`, images on storage
every node sees); it writes no per-image PNG/.npy files (use the CLI's `netlens batch` for those).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import netlens


def list_images(root: str | os.PathLike) -> list[tuple[str, str]]:
    """(id, path) of every file below `root` but hidden ones, sorted by id: the CLI's listing."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            found.append((path.relative_to(root).as_posix(), os.path.abspath(path)))
    return sorted(found)


class Explainer:
    """One Ray actor: one model, loaded once; rows as JSON text (their `numbers` differ per method)."""

    def __init__(self, model_path, methods, settings, ids, threads):
        netlens.set_threads(threads)
        self.model = netlens.Model(model_path) if model_path else netlens.Model()
        self.methods = methods
        self.settings = settings
        self.ids = ids

    def __call__(self, batch):
        rows = []
        for data, path in zip(batch["bytes"], batch["path"]):
            image_id = self.ids[os.path.abspath(path)]
            for method in self.methods:
                row = self.model.batch_row(image_id, method, bytes(data), **self.settings.get(method, {}))
                rows.append(json.dumps(row))
        return {"row": rows}


def run(images, out, methods, settings=None, model_path=None, workers=2, threads_per_worker=1, batch_size=4):
    """Runs `methods` over the folder `images` on the connected Ray cluster; writes the tables to `out`.
    `settings`: {method: {key: value}}. Returns the rows."""
    import ray

    listed = list_images(images)
    if not listed:
        raise ValueError(f"no files below {images}")
    ids = {path: image_id for image_id, path in listed}
    # Reading bytes takes no CPU worth reserving: with every CPU held by an actor (2 workers on 2 CPUs), read tasks
    # that asked for one would wait forever.
    ds = ray.data.read_binary_files([path for _, path in listed], include_paths=True, num_cpus=0)
    rows = ds.map_batches(
        Explainer,
        fn_constructor_args=(model_path, list(methods), settings or {}, ids, threads_per_worker),
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=workers,
        num_cpus=threads_per_worker,
    )
    table = [json.loads(r["row"]) for r in rows.iter_rows()]
    netlens.write_table(table, out)
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--method", required=True, help="method ids, comma-separated")
    p.add_argument("--images", required=True, help="a folder of images")
    p.add_argument("--out", required=True, help="where results.csv and results.jsonl go")
    p.add_argument("--model", default=None, help="ONNX model (default: the CLI's default)")
    p.add_argument("--settings", default="{}", help='JSON: {"ig": {"steps": 16}}')
    p.add_argument("--address", default=None, help="a Ray cluster (default: a local one)")
    p.add_argument("--workers", type=int, default=2, help="actors, one model each")
    p.add_argument("--threads", type=int, default=1, help="engine threads (and CPUs) per actor")
    a = p.parse_args(argv)
    import ray

    ray.init(address=a.address)
    rows = run(a.images, a.out, a.method.split(","), json.loads(a.settings), a.model, a.workers, a.threads)
    errors = sum(r["status"] != "ok" for r in rows)
    print(f"{len(rows)} rows, {errors} errors; wrote {os.path.join(a.out, 'results.csv')}")


if __name__ == "__main__":
    main()
