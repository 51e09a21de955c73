#!/usr/bin/env python3
"""The page's sample photos where there is no shared data (a GitHub runner building the Pages site): the same
five files as ../shared/images, taken from the scikit-image 0.26.0 wheel on PyPI (skimage/data), each checked
against its sha256. Usage: samples-from-pypi.py OUT_DIR. Called by scripts/setup-assets.sh."""
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "scikit-image==0.26.0"
# sha256 of each file, as in ../shared/images (the same wheel's files).
SAMPLES = {
    "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    "motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
}
PROVENANCE = """# images/ — sample photos
From the scikit-image 0.26.0 wheel (skimage/data), free to reuse:
- chelsea.png — a cat (CC0, Stefan van der Walt).
- coffee.png — a cup of espresso (CC0, Rachel Michetti).
- rocket.jpg — a SpaceX Falcon 9 on its pad (public domain).
- motorcycle_left.png — a motorcycle (Middlebury stereo set, free for research and teaching).
- astronaut.png — Eileen Collins (NASA, public domain).
"""


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: samples-from-pypi.py OUT_DIR")
    out = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        # Any platform's wheel holds the same data files; pinning one makes the download the same everywhere.
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--platform",
               "manylinux_2_28_x86_64", "--python-version", "3.12", "--implementation", "cp", "-d", tmp, WHEEL]
        if subprocess.run(pip).returncode != 0:
            sys.exit(f"samples-from-pypi: pip could not download {WHEEL}")
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if len(wheels) != 1:
            sys.exit(f"samples-from-pypi: expected one wheel, pip left {wheels}")
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as z:
            os.makedirs(out, exist_ok=True)
            for name, want in SAMPLES.items():
                data = z.read(f"skimage/data/{name}")
                got = hashlib.sha256(data).hexdigest()
                if got != want:
                    sys.exit(f"samples-from-pypi: skimage/data/{name} has sha256 {got}, want {want}")
                with open(os.path.join(out, name), "wb") as f:
                    f.write(data)
    with open(os.path.join(out, "PROVENANCE.md"), "w") as f:
        f.write(PROVENANCE)
    print(f"samples-from-pypi: {len(SAMPLES)} sample images from {WHEEL}")


if __name__ == "__main__":
    main()
