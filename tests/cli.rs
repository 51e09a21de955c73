//! The `netlens` command as a teacher runs it: outputs on disk, clear failures on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shared() -> PathBuf {
    match std::env::var_os("NETLENS_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

fn chelsea() -> String {
    shared().join("images/chelsea.png").display().to_string()
}

/// The model from shared/ explicitly, so the test does not depend on the build having copied assets.
fn netlens(args: &[&str]) -> Output {
    let model = shared().join("models/squeezenet1_1.onnx");
    let classes = shared().join("models/imagenet_classes.txt");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--model", model.to_str().unwrap(), "--classes", classes.to_str().unwrap()]);
    netlens_raw(&all)
}

fn netlens_raw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netlens")).args(args).output().expect("netlens runs")
}

fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netlens-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_fails(out: &Output, stderr_mentions: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "exited with success; stdout: {}", text(&out.stdout));
    assert!(
        err.to_lowercase().contains(&stderr_mentions.to_lowercase()),
        "stderr does not mention '{stderr_mentions}': {err}"
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
}

#[test]
fn classify_names_the_cat() {
    let out = netlens(&["classify", &chelsea()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let first = stdout.lines().find(|l| l.trim_start().starts_with("1.")).expect("a ranked line");
    assert!(first.contains("Egyptian cat") && first.contains("285"), "top-1 line: {first}");
    assert_eq!(stdout.lines().filter(|l| l.contains('%')).count(), 5, "{stdout}");
}

#[test]
fn saliency_writes_the_figure_and_the_raw_map() {
    let dir = scratch_dir("saliency");
    let png = dir.join("cat.png");
    let npy = dir.join("cat.npy");
    let out = netlens(&[
        "saliency",
        &chelsea(),
        "--class",
        "Egyptian cat",
        "-o",
        png.to_str().unwrap(),
        "--npy",
        npy.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let figure = image::open(&png).expect("a readable PNG");
    assert_eq!((figure.width(), figure.height()), (3 * 224, 224));

    let bytes = std::fs::read(&npy).unwrap();
    let array = npyz::NpyFile::new(&bytes[..]).expect("a .npy file");
    assert_eq!(array.shape(), &[224, 224]);
    let map: Vec<f32> = array.into_vec().expect("float32 values");
    assert_eq!(map.len(), 224 * 224);
    assert!(map.iter().all(|&v| v >= 0.0 && v.is_finite()));
    assert!(map.iter().any(|&v| v > 0.0));

    let heat = dir.join("heat.png");
    let out = netlens(&["saliency", &chelsea(), "--heatmap-only", "-o", heat.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(image::open(&heat).unwrap().width(), 224);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn classviz_writes_an_image() {
    let dir = scratch_dir("classviz");
    let png = dir.join("viz.png");
    let out =
        netlens(&["classviz", "--class", "tarantula", "--seed", "3", "--iters", "2", "-o", png.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (224, 224));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_inputs_fail_with_a_message() {
    let dir = scratch_dir("bad");
    let out_png = dir.join("out.png");
    let out = out_png.to_str().unwrap();
    let text_file = dir.join("notes.png");
    std::fs::write(&text_file, "this is not an image\n").unwrap();
    let missing = dir.join("missing.png");
    assert!(!Path::new(&missing).exists());

    assert_fails(&netlens(&["classify", missing.to_str().unwrap()]), "missing.png");
    assert_fails(&netlens(&["classify", text_file.to_str().unwrap()]), "notes.png");
    assert_fails(&netlens(&["saliency", &chelsea(), "--class", "5000", "-o", out]), "5000");
    assert_fails(&netlens(&["fool", &chelsea(), "--target", "zzzqxj", "-o", out]), "zzzqxj");
    assert_fails(&netlens(&["frobnicate", &chelsea()]), "frobnicate");
    assert_fails(&netlens(&["classify", &chelsea(), "--colour"]), "--colour");
    assert_fails(&netlens(&["saliency", &chelsea()]), "-o");
    assert_fails(&netlens(&["classviz", "--class", "76", "--lr", "nan", "-o", out]), "learning rate");
    assert_fails(&netlens_raw(&["classify", &chelsea(), "--model", text_file.to_str().unwrap()]), "model");
    assert_fails(&netlens_raw(&["classify", &chelsea(), "--model", missing.to_str().unwrap()]), "missing.png");
    let nowhere = dir.join("no-such-folder/out.png");
    assert_fails(&netlens(&["classviz", "--class", "76", "-o", nowhere.to_str().unwrap()]), "no-such-folder");
    assert!(!out_png.exists(), "a failed run wrote an output");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn attribute_and_attack_write_their_outputs() {
    let dir = scratch_dir("attribute");
    let png = dir.join("cam.png");
    let npy = dir.join("cam.npy");
    let out = netlens(&[
        "attribute",
        &chelsea(),
        "--method",
        "gradcam",
        "-o",
        png.to_str().unwrap(),
        "--npy",
        npy.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(image::open(&png).unwrap().width(), 224);
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(npyz::NpyFile::new(&bytes[..]).unwrap().shape(), &[13, 13], "Grad-CAM's raw map is the layer's grid");

    let adv = dir.join("adv.png");
    let out = netlens(&["attack", &chelsea(), "--method", "fgsm", "--eps", "4", "-o", adv.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Before:") && stdout.contains("After:") && stdout.contains("Survives as JPEG q75?"),
        "{stdout}"
    );
    assert!(stdout.contains("Largest change (L∞): 4 of 255 per colour value"), "L∞ of 4 pixel units: {stdout}");
    assert_eq!(image::open(&adv).unwrap().width(), 224);

    assert_fails(
        &netlens(&["attack", &chelsea(), "--method", "pgd", "--eps", "0", "-o", adv.to_str().unwrap()]),
        "eps",
    );
    assert_fails(
        &netlens(&["attack", &chelsea(), "--method", "pgd", "--target", "Egyptian cat", "-o", adv.to_str().unwrap()]),
        "target",
    );
    assert_fails(
        &netlens(&["attack", &chelsea(), "--method", "gradcam", "-o", adv.to_str().unwrap()]),
        "not an attack",
    );
    assert_fails(
        &netlens(&[
            "attribute",
            &chelsea(),
            "--method",
            "occlusion",
            "--set",
            "window=300",
            "-o",
            png.to_str().unwrap(),
        ]),
        "window",
    );
    std::fs::remove_dir_all(dir).ok();
}

/// A float32 .npy as (shape, values).
fn load_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("a .npy file");
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f32>().expect("float32"))
}

/// `netlens gradient` on zoo models against PyTorch autograd's input gradients (../shared/models/zoo): the exact
/// input tensor in, the raw gradient out, with the input's shape.
#[test]
fn gradient_of_zoo_models_matches_pytorch() {
    let zoo = shared().join("models/zoo");
    let dir = scratch_dir("gradient");
    for (arch, class) in [("cifarnet", 7), ("tinycnn", 1)] {
        let out = dir.join(format!("{arch}_{class}.npy"));
        let input = zoo.join(format!("{arch}_input.npy"));
        let model = zoo.join(format!("{arch}.onnx"));
        let run = netlens_raw(&[
            "gradient",
            "--input-npy",
            input.to_str().unwrap(),
            "--class",
            &class.to_string(),
            "--npy",
            out.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "{arch}: {}", text(&run.stderr));
        let (shape, ours) = load_npy(&out);
        let (want_shape, want) = load_npy(&zoo.join(format!("{arch}_grad_{class}.npy")));
        assert_eq!(shape, want_shape, "{arch}: the gradient has the input's shape");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = ours.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        eprintln!("{arch} class {class}: max|Δ|/max|ref| {:.2e}", diff / scale);
        assert!(diff <= 1e-3 * scale, "{arch}: max|Δ| {diff:.3e} vs max|ref| {scale:.3e}");
    }

    // Bad input: a tensor of the wrong shape, a class the output does not have, a file that is not .npy.
    let model = zoo.join("tinycnn.onnx");
    let wrong = zoo.join("cifarnet_input.npy");
    let out = dir.join("bad.npy");
    let args = |input: &str, class: &str| {
        netlens_raw(&[
            "gradient",
            "--input-npy",
            input,
            "--class",
            class,
            "--npy",
            out.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
    };
    assert_fails(&args(wrong.to_str().unwrap(), "1"), "shape");
    assert_fails(&args(zoo.join("tinycnn_input.npy").to_str().unwrap(), "10"), "out of range");
    assert_fails(&args(model.to_str().unwrap(), "1"), "npy");
    assert!(!out.exists(), "no output is written on failure");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_users_model_at_its_own_size_and_preprocessing() {
    let tiny = shared().join("models/zoo/tinycnn.onnx");
    let tiny = tiny.to_str().unwrap();
    let dir = scratch_dir("usermodel");
    let viz = dir.join("viz.png");
    let run = netlens_raw(&["classviz", "--class", "3", "--iters", "5", "-o", viz.to_str().unwrap(), "--model", tiny]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let img = image::open(&viz).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (28, 28), "the MNIST-sized model's class visualization");
    assert!(img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]), "a grey model's picture is grey");
    let sal = dir.join("sal.png");
    let run =
        netlens_raw(&["saliency", &chelsea(), "-o", sal.to_str().unwrap(), "--model", tiny, "--preprocess", "unit"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(image::open(&sal).unwrap().width(), 3 * 28, "image | heatmap | overlay at 28 px");
    // A preset that does not exist, an input size for a model whose size is fixed.
    assert_fails(
        &netlens_raw(&["classify", &chelsea(), "--model", tiny, "--preprocess", "cifar"]),
        "unknown preprocessing preset 'cifar'",
    );
    assert_fails(&netlens_raw(&["classify", &chelsea(), "--model", tiny, "--input-size", "32"]), "fixed at 28×28");
}

/// Every method's flags come from its declaration (issue 29): each setting is a flag named after its key, with its
/// share-link name as an alias, its label, help and bounds in `--help`, checked by the registry's validator.
#[test]
fn every_methods_flags_come_from_its_settings() {
    let schema: serde_json::Value = serde_json::from_slice(&netlens_raw(&["schema"]).stdout).expect("schema JSON");
    for m in schema["methods"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        let help = netlens_raw(&["run", id, "--help"]);
        assert!(help.status.success(), "{id}: {}", text(&help.stderr));
        let help = text(&help.stdout);
        for s in m["settings"].as_array().unwrap() {
            let (key, link, label) =
                (s["key"].as_str().unwrap(), s["link"].as_str().unwrap(), s["label"].as_str().unwrap());
            let flag = format!("--{}", key.replace('_', "-"));
            assert!(help.contains(&flag) && help.contains(label), "{id}: no {flag} ({label}) in\n{help}");
            if link != key && link.replace('_', "-") != key.replace('_', "-") {
                assert!(help.contains(&format!("--{}", link.replace('_', "-"))), "{id}: no alias --{link}");
            }
        }
    }
    // The share-link name works as a flag, and the validator's message names the setting.
    let dir = scratch_dir("flags");
    let out = dir.join("viz.png");
    let out = out.to_str().unwrap();
    assert_fails(&netlens(&["classviz", "--class", "76", "--l2", "-1", "-o", out]), "λ (L2) (l2_reg)");
    assert_fails(&netlens(&["run", "classviz", "--iters", "1e3", "-o", out]), "whole number");
    assert_fails(&netlens(&["run", "classviz", "--set", "nope=1", "-o", out]), "no setting 'nope'");
    assert_fails(&netlens(&["run", "gradcam", &chelsea(), "--layer", "a b"]), "letters, digits");
    assert_fails(&netlens(&["run", "classviz", "--colour", "1"]), "--colour");
    let ok = netlens(&[
        "run",
        "classviz",
        "--class",
        "tarantula",
        "--iters",
        "2",
        "--jitter",
        "4",
        "--update",
        "plain",
        "-o",
        out,
    ]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(image::open(out).unwrap().width(), 224);
}
