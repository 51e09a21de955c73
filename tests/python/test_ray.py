"""The Ray recipe (netlens.ray_batch) on a local 2-worker Ray cluster writes the CLI batch's table, byte for byte."""

import ray

from conftest import CHELSEA, MODEL, cli
from netlens import ray_batch


def test_ray_recipe_equals_the_cli_batch(tmp_path):
    images = tmp_path / "images"
    (images / "more").mkdir(parents=True)
    samples = sorted(p for p in CHELSEA.parent.iterdir() if p.suffix in (".png", ".jpg"))
    for copy in range(2):
        for i, p in enumerate(samples):
            (images / ("more" if i == 0 else "") / f"{copy}-{p.name}").write_bytes(p.read_bytes())
    (images / "notes.txt").write_text("not an image")
    (images / ".hidden.png").write_bytes(CHELSEA.read_bytes())  # skipped by both, as hidden files are

    methods = ["saliency", "ig"]
    settings = {"ig": {"steps": 8}}
    cli("batch", "--method", ",".join(methods), "--images", images, "--out", tmp_path / "cli", "--set", "steps=8")

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False)
    try:
        rows = ray_batch.run(images, tmp_path / "ray", methods, settings, str(MODEL), workers=2, batch_size=2)
    finally:
        ray.shutdown()
    assert len(rows) == len(methods) * (2 * len(samples) + 1)
    assert sum(r["status"] == "error" for r in rows) == len(methods)
    for table in ["results.csv", "results.jsonl"]:
        assert (tmp_path / "ray" / table).read_bytes() == (tmp_path / "cli" / table).read_bytes(), table
