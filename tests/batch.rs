//! `netlens batch` (issue 30) run as a user runs it: shards that add up to the whole run, a kill and a resume
//! that end with the same table, and bad files that become error rows while the batch goes on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn shared() -> PathBuf {
    match std::env::var_os("NETLENS_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

fn model_args() -> Vec<String> {
    let models = shared().join("models");
    vec![
        "--model".into(),
        models.join("squeezenet1_1.onnx").display().to_string(),
        "--classes".into(),
        models.join("imagenet_classes.txt").display().to_string(),
    ]
}

fn batch_cmd(methods: &str, images: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netlens"));
    cmd.args(["batch", "--method", methods, "--images"])
        .arg(images)
        .arg("--out")
        .arg(out)
        .args(extra)
        .args(model_args());
    cmd
}

fn batch(methods: &str, images: &Path, out: &Path, extra: &[&str]) -> Output {
    let out = batch_cmd(methods, images, out, extra).output().expect("netlens runs");
    assert!(!text(&out.stderr).contains("panicked"), "panicked: {}", text(&out.stderr));
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netlens-batch-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The shared sample images, each `copies` times under other names (and one in a subfolder).
fn image_folder(dir: &Path, copies: usize) -> PathBuf {
    let images = dir.join("images");
    std::fs::create_dir_all(images.join("more")).unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(shared().join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("png" | "jpg")))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "too few sample images in shared/images");
    for copy in 0..copies {
        for (i, p) in names.iter().enumerate() {
            let name = format!("{copy}-{}", p.file_name().unwrap().to_string_lossy());
            let to = if i == 0 { images.join("more").join(name) } else { images.join(name) };
            std::fs::copy(p, to).unwrap();
        }
    }
    images
}

/// `dir/images` holding the named shared sample images.
fn samples_folder(dir: &Path, names: &[&str]) -> PathBuf {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for name in names {
        std::fs::copy(shared().join("images").join(name), images.join(name)).unwrap();
    }
    images
}

/// A table's lines after its header, sorted.
fn body_sorted(table: &str) -> Vec<String> {
    let mut lines: Vec<String> = table.lines().skip(1).map(str::to_string).collect();
    lines.sort();
    lines
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every file below `dir`, relative, sorted (outputs only: the run's own bookkeeping left out).
fn outputs(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.retain(|f| !["results.csv", "results.jsonl", "run.json", "journal.jsonl"].contains(&f.as_str()));
    out.sort();
    out
}

#[test]
fn shards_add_up_to_the_unsharded_table() {
    let dir = scratch("shards");
    let images = image_folder(&dir, 2);
    let whole = dir.join("whole");
    let out = batch("saliency,gradcam", &images, &whole, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let csv = read(&whole.join("results.csv"));
    let rows = csv.lines().count() - 1;
    assert_eq!(rows, 2 * outputs(&images).len(), "one row per (image, method):\n{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",ok,")), "a row failed:\n{csv}");
    assert!(csv.starts_with("image,class,method,status,error,numbers\n"), "{csv}");

    let n = 3;
    let (mut csv_lines, mut jsonl_lines, mut files) = (vec![], vec![], vec![]);
    for i in 0..n {
        let part = dir.join(format!("shard-{i}"));
        let out = batch("saliency,gradcam", &images, &part, &["--shard", &format!("{i}/{n}")]);
        assert!(out.status.success(), "shard {i}: {}", text(&out.stderr));
        let table = read(&part.join("results.csv"));
        assert_eq!(table.lines().next(), csv.lines().next(), "shard {i}'s header");
        assert!(table.lines().count() > 1, "shard {i} did nothing");
        csv_lines.extend(body_sorted(&table));
        jsonl_lines.extend(read(&part.join("results.jsonl")).lines().map(str::to_string));
        files.extend(outputs(&part));
        for f in outputs(&part) {
            assert_eq!(std::fs::read(part.join(&f)).unwrap(), std::fs::read(whole.join(&f)).unwrap(), "{f}");
        }
    }
    csv_lines.sort();
    jsonl_lines.sort();
    files.sort();
    assert_eq!(csv_lines, body_sorted(&csv), "the shards' rows are not the whole run's");
    let mut whole_jsonl: Vec<String> = read(&whole.join("results.jsonl")).lines().map(str::to_string).collect();
    whole_jsonl.sort();
    assert_eq!(jsonl_lines, whole_jsonl);
    assert_eq!(files, outputs(&whole), "the shards' output files are not the whole run's");
    assert!(files.iter().any(|f| f.starts_with("saliency/more/") && f.ends_with(".png.npy")), "{files:?}");
}

#[test]
fn a_killed_batch_resumes_to_the_same_table() {
    let dir = scratch("resume");
    let images = image_folder(&dir, 3);
    let methods = "saliency,ig";
    let clean = dir.join("clean");
    let out = batch(methods, &images, &clean, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let total_rows = read(&clean.join("results.csv")).lines().count() - 1;

    let killed = dir.join("killed");
    let mut child =
        batch_cmd(methods, &images, &killed, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let journal = killed.join("journal.jsonl");
    let start = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal).map(|t| t.lines().count()).unwrap_or(0);
        if lines >= 3 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the batch ended before it could be killed");
        assert!(start.elapsed() < Duration::from_secs(300), "no progress in 300 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let journaled = read(&journal).lines().count();
    assert!(journaled < total_rows, "killed after the end ({journaled} of {total_rows} rows)");
    assert!(!killed.join("results.csv").exists(), "a table before the end");
    // A kill in the middle of a write leaves a torn line: the resumed run must skip it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"row\":{\"image\":\"0-ch"))
        .unwrap();

    let out = batch(methods, &images, &killed, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already done"), "it did not resume: {}", text(&out.stderr));
    assert_eq!(read(&killed.join("results.csv")), read(&clean.join("results.csv")));
    assert_eq!(read(&killed.join("results.jsonl")), read(&clean.join("results.jsonl")));
    assert_eq!(outputs(&killed), outputs(&clean));

    // Done is done: a third run does nothing and keeps the table; a run with other arguments is refused.
    let out = batch(methods, &images, &killed, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(read(&killed.join("results.csv")), read(&clean.join("results.csv")));
    let out = batch(methods, &images, &killed, &["--set", "steps=8"]);
    assert_eq!(out.status.code(), Some(2), "a different run in the same folder: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("another run"), "{}", text(&out.stderr));
}

/// `--set` values are typed text, read by each setting as `run` reads them: `steps=8` is IG's 8 steps (it once reached
/// the rows as the string "8" and every IG row was an error).
#[test]
fn set_values_are_read_as_run_reads_them() {
    let dir = scratch("set");
    let images = samples_folder(&dir, &["chelsea.png"]);
    let out = batch("saliency,ig", &images, &dir.join("out"), &["--set", "steps=8", "--set", "class=tabby"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.join("out/results.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows.iter().all(|r| r.contains(",ok,,") && r.contains(r#"""class"":281"#)), "tabby (281) explained: {csv}");
    let ig = rows.iter().find(|r| r.contains(",ig,")).expect("an IG row");
    assert!(ig.contains(r#"""passes"":8"#), "IG ran its 8 steps: {ig}");
}

#[test]
fn bad_files_are_error_rows_and_the_batch_goes_on() {
    let dir = scratch("bad");
    let images = samples_folder(&dir, &["chelsea.png", "coffee.png"]);
    let jpeg = std::fs::read(shared().join("images/rocket.jpg")).unwrap();
    std::fs::write(images.join("truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::write(images.join("notes.txt"), "not an image\n").unwrap();
    image::RgbImage::from_pixel(1, 1, image::Rgb([200, 10, 10])).save(images.join("tiny.png")).unwrap();

    let out_dir = dir.join("out");
    let out = batch("saliency", &images, &out_dir, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let rows: Vec<serde_json::Value> =
        read(&out_dir.join("results.jsonl")).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let status = |image: &str| {
        rows.iter().find(|r| r["image"] == image).unwrap_or_else(|| panic!("no row for {image}: {rows:?}")).clone()
    };
    assert_eq!(rows.len(), 5, "{rows:?}");
    for good in ["chelsea.png", "coffee.png"] {
        let r = status(good);
        assert_eq!(r["status"], "ok", "{r}");
        assert!(r["class"].is_u64() && r["numbers"]["class"].is_u64(), "{r}");
    }
    assert_eq!(status("chelsea.png")["class"], 285, "Chelsea is an Egyptian cat");
    for (bad, says) in [("truncated.jpg", "image"), ("notes.txt", "image"), ("tiny.png", "1×1")] {
        let r = status(bad);
        assert_eq!(r["status"], "error", "{r}");
        let e = r["error"].as_str().unwrap().to_lowercase();
        assert!(e.contains(says), "{bad}: {e}");
        assert!(r["numbers"].as_object().unwrap().is_empty(), "{r}");
    }
    let csv = read(&out_dir.join("results.csv"));
    assert_eq!(csv.lines().skip(1).filter(|l| l.contains(",error,")).count(), 3, "{csv}");
    assert!(out_dir.join("saliency/chelsea.png.png").is_file() && out_dir.join("saliency/chelsea.png.npy").is_file());
    assert!(!out_dir.join("saliency/tiny.png.png").exists());
}

#[test]
fn a_manifest_gives_classes_and_bad_arguments_fail_clearly() {
    let dir = scratch("manifest");
    let images = shared().join("images");
    let manifest = dir.join("list.csv");
    std::fs::write(
        &manifest,
        format!("path,class\n{0}/chelsea.png,tabby\n{0}/coffee.png,\n{0}/chelsea.png2,\n", images.display()),
    )
    .unwrap();
    let out_dir = dir.join("out");
    let out = batch("saliency", &manifest, &out_dir, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let rows: Vec<serde_json::Value> =
        read(&out_dir.join("results.jsonl")).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let chelsea = rows.iter().find(|r| r["image"].as_str().unwrap().ends_with("chelsea.png")).unwrap();
    assert_eq!((chelsea["class"].as_u64(), chelsea["numbers"]["class"].as_u64()), (Some(281), Some(281)), "tabby");
    let missing = rows.iter().find(|r| r["image"].as_str().unwrap().ends_with("png2")).unwrap();
    assert_eq!(missing["status"], "error", "{missing}");

    for (args, says) in [
        (vec!["--shard", "3/3"], "0 <= i < n"),
        (vec!["--set", "nonsense=1"], "nonsense"),
        (vec!["--set", "steps=0"], "steps"),
    ] {
        let out = batch("saliency,ig", &manifest, &dir.join("bad"), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
    let out = batch("classviz", &manifest, &dir.join("bad"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("does not take an image"), "{}", text(&out.stderr));
    let out = batch("saliency", &dir.join("nowhere"), &dir.join("bad"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
