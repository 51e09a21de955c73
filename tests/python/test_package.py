"""The Python package against the CLI: every registry method at its defaults gives the same arrays and report,
images may be arrays, paths or bytes, bad input raises a clear error, and the engine runs without the GIL."""

import json
import threading
import time

import numpy as np
import pytest
from PIL import Image

import netlens
from conftest import CHELSEA, cli

METHODS = netlens.schema()["methods"]


def image_panels(result, side=224):
    """The panels `netlens run -o` puts side by side: the images at the model's input size, in order."""
    return [p["image"] for p in result["panels"].values() if p["image"] is not None and p["image"].shape[:2] == (side, side)]


@pytest.mark.parametrize("spec", METHODS, ids=[m["id"] for m in METHODS])
def test_every_method_at_defaults_equals_the_cli(model, not_here, spec, tmp_path):
    img = CHELSEA if spec["needs_image"] else None
    why = not_here.get(spec["id"])
    if why is not None:
        # A method this model cannot run (the attention methods on SqueezeNet): both refuse it with one sentence.
        with pytest.raises(ValueError) as refused:
            model.run(spec["id"], str(img) if img else None)
        assert why in str(refused.value)
        out = cli("run", spec["id"], *([img] if img else []), check=False)
        assert out.returncode != 0 and why in out.stderr, out.stderr
        return
    result = model.run(spec["id"], str(img) if img else None)
    raws = [p["raw"] for p in result["panels"].values() if p["raw"] is not None]

    png, npy = tmp_path / "out.png", tmp_path / "raw.npy"
    panels = image_panels(result)
    # `run -o` draws the model-sized image panels side by side (a method with none, such as a plot, has no -o).
    args = ["run", spec["id"], *([img] if img else []), *(["-o", png] if panels else [])]
    if raws:
        args += ["--npy", npy]
    out = cli(*args)

    assert panels or raws or result["report"].get("lines"), f"{spec['id']} gave nothing to compare"
    if panels:
        cli_png = np.asarray(Image.open(png).convert("RGBA"))
        np.testing.assert_array_equal(cli_png, np.hstack(panels))
    if raws:
        cli_raw = np.load(npy)
        assert cli_raw.dtype == np.float32 and raws[0].dtype == np.float32
        np.testing.assert_array_equal(cli_raw, raws[0])
    lines = [f"{label}: {text if isinstance(text, str) else ''}" for label, text, *_ in result["report"].get("lines", [])]
    assert all(line in out.stdout.splitlines() for line in lines), (lines, out.stdout)


def test_not_for_model_names_what_squeezenet_cannot_run(not_here):
    # SqueezeNet has no attention: the three attention methods, each with its sentence; every other method runs.
    assert sorted(not_here) == ["attention", "gradrollout", "rollout"]
    assert all("a transformer: this model has no attention" in why for why in not_here.values())


def test_classify_agrees_with_the_cli(model):
    top = model.classify(str(CHELSEA), top=3)
    assert top[0][0] == 285 and top[0][1] == "Egyptian cat", top
    assert 0 < top[2][2] <= top[1][2] <= top[0][2] <= 1
    out = cli("classify", CHELSEA, "--top", "3").stdout
    for rank, (k, _, p) in enumerate(top, 1):
        assert f"{100 * p:.2f}%" in out.splitlines()[rank], out


def test_an_image_may_be_an_array_a_path_or_bytes(model, tmp_path):
    # 224×224 is used as it is (no resampling), so the array and the PNG are exactly the same pixels.
    pixels = np.asarray(Image.open(CHELSEA).convert("RGB").resize((224, 224)))
    path = tmp_path / "square.png"
    Image.fromarray(pixels).save(path)
    by_path = model.run("saliency", str(path))["panels"]["heatmap"]["raw"]
    by_array = model.run("saliency", pixels)["panels"]["heatmap"]["raw"]
    by_bytes = model.run("saliency", path.read_bytes())["panels"]["heatmap"]["raw"]
    strided = np.ascontiguousarray(pixels[:, ::-1])[:, ::-1]  # a non-contiguous view of the same pixels
    by_view = model.run("saliency", strided)["panels"]["heatmap"]["raw"]
    np.testing.assert_array_equal(by_path, by_array)
    np.testing.assert_array_equal(by_path, by_bytes)
    np.testing.assert_array_equal(by_path, by_view)
    assert by_path.shape == (224, 224)


def test_settings_are_the_registrys(model):
    out = model.run("ig", str(CHELSEA), steps=8, **{"class": 281})
    assert out["settings"]["steps"] == 8 and out["report"]["class"] == 281
    with pytest.raises(ValueError, match="steps"):
        model.run("ig", str(CHELSEA), steps=0)
    with pytest.raises(ValueError, match="no setting 'nonsense'"):
        model.run("ig", str(CHELSEA), nonsense=1)
    with pytest.raises(ValueError, match="unknown method"):
        model.run("no-such-method", str(CHELSEA))
    with pytest.raises(ValueError, match="needs an image"):
        model.run("saliency")


def test_bad_images_raise_value_errors(model, tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    for bad, says in [
        (str(tmp_path / "notes.txt"), "image"),
        (str(tmp_path / "missing.png"), "cannot read"),
        (b"\x89PNG\r\n", "image"),
        (np.zeros((8, 8, 3), np.uint8), "at least 16 pixels"),
        (np.zeros((32, 32), np.uint8), "H×W×3"),
        (np.zeros((32, 32, 4), np.uint8), "H×W×3"),
        (np.zeros((32, 32, 3), np.float32), "uint8"),
        (42, "array, a path or encoded bytes"),
    ]:
        with pytest.raises(ValueError, match=says):
            model.run("saliency", bad)


def test_batch_rows_make_the_clis_table(model, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ["chelsea.png", "coffee.png", "rocket.jpg"]:
        (images / name).write_bytes((CHELSEA.parent / name).read_bytes())
    (images / "notes.txt").write_text("not an image")
    cli("batch", "--method", "saliency,gradcam", "--images", images, "--out", tmp_path / "cli")
    rows = []
    for path in sorted(images.iterdir(), reverse=True):  # any order: the table is sorted
        for method in ["gradcam", "saliency"]:
            rows.append(model.batch_row(path.name, method, str(path)))
    netlens.write_table(rows, str(tmp_path / "py"))
    for table in ["results.csv", "results.jsonl"]:
        assert (tmp_path / "py" / table).read_bytes() == (tmp_path / "cli" / table).read_bytes(), table
    assert sum(r["status"] == "error" for r in rows) == 2
    assert json.loads((tmp_path / "py" / "results.jsonl").read_text().splitlines()[0])["image"] == "chelsea.png"


def test_the_gil_is_released_while_the_engine_works(model):
    """A Python thread keeps counting while another is inside `model.run`; with the GIL held it could not."""
    result = {}

    def work():
        model.run("ig", str(CHELSEA), steps=64)
        result["ended"] = True

    def count():
        n = 0
        while "ended" not in result:
            n += 1
        result["counted"] = n

    worker = threading.Thread(target=work)
    started = time.perf_counter()
    worker.start()
    time.sleep(0.02)  # the worker is in the engine by now
    counter = threading.Thread(target=count)
    counter.start()
    worker.join()
    counter.join()
    assert time.perf_counter() - started > 0.2, "the run was too short to tell"
    # Counting stops when the run ends; with the GIL held through the run it would not have started before.
    assert result["counted"] > 10_000, result
