//! `netlens attribute --input-npy X.npy` (issue 24): an already preprocessed input tensor instead of an image, for
//! every method `attribute` runs. The map of an image's own tensor equals the map of the image; on tinyvit the
//! attention methods' maps match ../shared/models/reference/vit; bad tensors and bad flag combinations get one
//! clear sentence.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use netlens::methods::registry::{self, Group, Input};
use netlens::{Classifier, Tensor};

fn netlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netlens")).args(args).output().expect("netlens runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netlens-input-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write_npy(path: &Path, t: &Tensor) {
    use npyz::WriterBuilder;
    let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape).writer(file).begin_nd().unwrap();
    w.extend(t.data.iter().copied()).unwrap();
    w.finish().unwrap();
}

fn read(path: &Path) -> Tensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    Tensor::new(shape, npy.into_vec::<f32>().unwrap())
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "failed: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(out: &Output, mentions: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exited with success");
    assert!(err.contains(mentions), "stderr does not say '{mentions}': {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Every attribution method (and saliency): the map of chelsea.png's preprocessed tensor given as --input-npy is
/// the map of chelsea.png itself, bit for bit (the same tensor reaches the same method).
#[test]
fn every_method_maps_an_input_tensor_as_it_maps_the_image() {
    let model = shared_file("models/squeezenet1_1.onnx");
    let img = shared_file("images/chelsea.png");
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let input = Input::from_bytes(&net, &read_shared("images/chelsea.png")).unwrap();
    let x_npy = scratch("chelsea_x.npy");
    // Without the batch axis, as PyTorch references are often saved.
    write_npy(&x_npy, &Tensor::new(input.tensor.shape[1..].to_vec(), input.tensor.data.clone()));
    let (model, img, x) = (model.to_str().unwrap(), img.to_str().unwrap(), x_npy.to_str().unwrap());
    let mut compared = vec![];
    for spec in registry::METHODS.iter().filter(|m| m.group == Group::Attribution || m.id == "saliency") {
        // Small settings for the many-pass methods (the same for both runs).
        let sets: &[&str] = match spec.id {
            "smoothgrad" => &["--set", "samples=2"],
            "ig" => &["--set", "steps=4"],
            "occlusion" => &["--set", "window=56", "--set", "stride=56"],
            _ => &[],
        };
        if ["scorecam", "ablationcam"].contains(&spec.id) {
            continue; // one pass per channel of features.12 (512): the same code path as every other method
        }
        let (a, b) = (scratch(&format!("{}_img.npy", spec.id)), scratch(&format!("{}_x.npy", spec.id)));
        let (pa, pb) = (scratch(&format!("{}_img.png", spec.id)), scratch(&format!("{}_x.png", spec.id)));
        let common = ["--method", spec.id, "--class", "285", "--model", model];
        let run = |source: &[&str], npy: &Path, png: &Path| {
            let mut args = vec!["attribute"];
            args.extend(source);
            args.extend(common);
            args.extend(sets);
            args.extend(["--npy", npy.to_str().unwrap(), "-o", png.to_str().unwrap()]);
            netlens(&args)
        };
        let out = run(&[img], &a, &pa);
        if spec.id == "rollout" || spec.id == "gradrollout" {
            fails(&out, "needs a transformer: this model has no attention");
            fails(&run(&["--input-npy", x], &b, &pb), "needs a transformer: this model has no attention");
            continue;
        }
        ok(&out);
        ok(&run(&["--input-npy", x], &b, &pb));
        let (ma, mb) = (read(&a), read(&b));
        assert_eq!(ma.shape, mb.shape, "{}", spec.id);
        assert!(ma.data.iter().any(|&v| v != 0.0), "{}: an all-zero map", spec.id);
        assert_eq!(ma.data, mb.data, "{}: the tensor's map differs from the image's", spec.id);
        compared.push(spec.id);
    }
    eprintln!("--input-npy = IMG for: {}", compared.join(" "));
    assert!(compared.len() >= 15, "{compared:?}");
}

/// On tinyvit (the input the references were computed on): `attribute --input-npy X --method rollout|gradrollout
/// --npy OUT` writes the g×g map of ../shared/models/reference/vit, within 1e-4 relative.
#[test]
fn attention_methods_from_the_cli_match_the_vit_references() {
    let dir = "models/reference/vit";
    let r: serde_json::Value = serde_json::from_slice(&read_shared(&format!("{dir}/tinyvit_vit.json"))).unwrap();
    let model = shared_file("models/zoo-transformers/tinyvit.onnx");
    let x = shared_file("models/zoo-transformers/tinyvit_input.npy");
    let g = r["grid"].as_u64().unwrap() as usize;
    let mut cases = vec![("rollout".to_string(), "1".to_string(), r["files"]["rollout"].as_str().unwrap().to_string())];
    for (class, files) in r["classes"].as_object().unwrap() {
        cases.push(("gradrollout".into(), class.clone(), files["gradrollout"].as_str().unwrap().into()));
    }
    for (method, class, file) in cases {
        let (npy, png) = (scratch(&format!("vit_{method}_{class}.npy")), scratch(&format!("vit_{method}_{class}.png")));
        let stdout = ok(&netlens(&[
            "attribute",
            "--input-npy",
            x.to_str().unwrap(),
            "--method",
            &method,
            "--class",
            &class,
            "--model",
            model.to_str().unwrap(),
            "--npy",
            npy.to_str().unwrap(),
            "-o",
            png.to_str().unwrap(),
        ]));
        assert!(stdout.contains("grid of patches"), "{stdout}");
        let (ours, want) = (read(&npy), read_npy(&format!("{dir}/{file}")));
        assert_eq!(ours.shape, vec![g, g], "{method}: the g×g map");
        let ratio = max_abs_diff(&ours.data, &want.data) / max_abs(&want.data);
        eprintln!("CLI {method} class {class}: max|Δ|/max|ref| {ratio:.2e}");
        assert!(ratio <= 1e-4, "{method} class {class}: {ratio:.3e}");
    }
}

#[test]
fn bad_input_tensors_and_flags_get_one_sentence() {
    let model = shared_file("models/squeezenet1_1.onnx");
    let model = model.to_str().unwrap();
    let out = scratch("bad.png");
    let out = out.to_str().unwrap();
    let wrong = scratch("wrong_shape.npy");
    write_npy(&wrong, &Tensor::zeros(&[1, 3, 32, 32]));
    let base = |source: &[&str]| {
        let mut a = vec!["attribute"];
        a.extend(source);
        a.extend(["--method", "ixg", "--model", model, "-o", out]);
        netlens(&a)
    };
    fails(
        &base(&["--input-npy", wrong.to_str().unwrap()]),
        "has shape [1, 3, 32, 32]; the model takes [1, 3, 224, 224]",
    );
    let text = scratch("not.npy");
    std::fs::write(&text, b"not an array").unwrap();
    fails(&base(&["--input-npy", text.to_str().unwrap()]), "not a .npy file");
    let img = shared_file("images/chelsea.png");
    fails(&base(&[img.to_str().unwrap(), "--input-npy", wrong.to_str().unwrap()]), "cannot be used with");
    fails(&base(&[]), "--input-npy");
}
