//! `netlens batch` (issue 30): registry methods over a folder or a manifest of images, one row per (image,
//! method) in OUTDIR/results.csv and results.jsonl (rows made by `netlens::batch`, as the Python package makes
//! them), the outputs per image as `attribute` writes them, resumable and shardable. docs/scale.md.
//!
//! Resuming: OUTDIR/run.json says what the run is (methods, settings, images, shard, model); a rerun with other
//! arguments is refused. Each finished (image, method) appends a line to OUTDIR/journal.jsonl after its outputs
//! are written; a rerun keeps the journal's rows whose outputs are still there and does the rest. The tables are
//! written from the journal at the end, sorted, so a killed and resumed run ends with the same tables.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use netlens::batch::{self, Row};
use netlens::methods::registry::{self, Ctx, Input, MethodSpec, Panel};
use serde_json::{json, Map, Value as Json};

use super::{parse_sets, write_npy, write_png, Common, Failure, Outcome, Session};

const RUN_FILE: &str = "run.json";
const JOURNAL_FILE: &str = "journal.jsonl";

/// `--shard i/n`: the i-th of n shares (0 ≤ i < n), for a Slurm array task or a Kubernetes Job index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("'{s}': expected i/n with 0 <= i < n, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count) = (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// One image of the work list: its id in the table (path relative to the folder, or as the manifest gives it).
struct Item {
    id: String,
    path: PathBuf,
    class: Option<String>,
}

pub struct BatchArgs {
    pub methods: String,
    pub images: PathBuf,
    pub out: PathBuf,
    pub shard: Option<Shard>,
    pub set: Vec<String>,
}

pub fn batch(c: &Common, args: BatchArgs) -> Outcome<()> {
    let specs = methods(&args.methods)?;
    let sets = settings_per_method(&specs, &parse_sets(&args.set)?)?;
    let all = list_images(&args.images)?;
    let total = all.len();
    // Round-robin over the sorted list: shares differ by at most one image, and n shards cover the list once.
    let items: Vec<Item> = match args.shard {
        Some(s) => all.into_iter().enumerate().filter(|(i, _)| i % s.count == s.index).map(|(_, it)| it).collect(),
        None => all,
    };
    let session = Session::open(c)?;
    // Every method's settings read from their text and checked once before any work, as `run` reads them (a class
    // in a manifest is checked per image); the rows get the typed values, as from the Python package.
    let sets = specs
        .iter()
        .zip(sets)
        .map(|(spec, set)| {
            let set = session.typed(spec, set)?;
            session.settings(spec, set.clone())?;
            Ok(set)
        })
        .collect::<Outcome<Vec<_>>>()?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Failure::Run(format!("cannot create '{}': {e}", args.out.display())))?;
    let manifest = json!({
        "netlens": env!("CARGO_PKG_VERSION"),
        "methods": specs.iter().map(|s| s.id).collect::<Vec<_>>(),
        "settings": specs.iter().zip(&sets).map(|(s, set)| (s.id.to_string(), Json::Object(set.clone()))).collect::<Map<_, _>>(),
        "images": args.images.display().to_string(),
        "images_listed": total,
        "shard": args.shard.map(|s| format!("{}/{}", s.index, s.count)),
        "model": model_identity(c),
    });
    check_manifest(&args.out, &manifest)?;

    let mut done = read_journal(&args.out, &specs);
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(args.out.join(JOURNAL_FILE))
        .map_err(|e| Failure::Run(format!("cannot write '{}': {e}", args.out.join(JOURNAL_FILE).display())))?;
    let todo: Vec<&Item> = items
        .iter()
        .filter(|it| specs.iter().any(|s| !done.contains_key(&(it.id.clone(), s.id.to_string()))))
        .collect();
    let skipped = items.len() - todo.len();
    if skipped > 0 {
        eprintln!("netlens: {skipped} of {} images already done in '{}'", items.len(), args.out.display());
    }

    let bar = ProgressBar::new(todo.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} images · {per_sec} · ETA {eta} · {msg}")
            .expect("a valid template"),
    );
    let names = |k: usize| session.label(k);
    let ctx = Ctx { net: &session.net, name: &names };
    for item in todo {
        bar.set_message(item.id.clone());
        let input = std::fs::read(&item.path)
            .map_err(|e| netlens::Error::Image(format!("cannot read the file: {e}")))
            .and_then(|bytes| Input::from_bytes(&session.net, &bytes));
        let class = match &item.class {
            Some(text) => match session.resolve_class(text, "class") {
                Ok(k) => Some(k),
                Err(Failure::Usage(m) | Failure::Run(m)) => {
                    // A manifest's bad class fails that image's rows, not the batch.
                    let e = netlens::Error::Invalid(format!("manifest class: {m}"));
                    record_errors(&mut journal, &mut done, &specs, item, None, &e, &args.out)?;
                    bar.inc(1);
                    continue;
                }
            },
            None => None,
        };
        match input {
            Err(e) => record_errors(&mut journal, &mut done, &specs, item, class, &e, &args.out)?,
            Ok(input) => {
                for (spec, set) in specs.iter().zip(&sets) {
                    if done.contains_key(&(item.id.clone(), spec.id.to_string())) {
                        continue;
                    }
                    let (row, panels) = batch::run_method(&ctx, spec, &item.id, &input, class, set);
                    let outputs = if row.is_ok() { write_outputs(&args.out, spec, &item.id, &panels)? } else { vec![] };
                    append(&mut journal, &mut done, row, outputs, &args.out)?;
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let mut rows: Vec<Row> = done.into_values().collect();
    batch::write_tables(&args.out, &mut rows).map_err(|e| Failure::Run(e.to_string()))?;
    let errors = rows.iter().filter(|r| !r.is_ok()).count();
    println!(
        "{} images × {} methods: {} rows ok, {errors} errors; wrote {}",
        items.len(),
        specs.len(),
        rows.len() - errors,
        args.out.join(batch::CSV_FILE).display()
    );
    Ok(())
}

fn methods(list: &str) -> Outcome<Vec<&'static MethodSpec>> {
    let mut specs: Vec<&'static MethodSpec> = vec![];
    for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let spec = registry::method(id).map_err(|e| Failure::Usage(e.to_string()))?;
        if !spec.needs_image {
            return Err(Failure::Usage(format!(
                "{id} does not take an image, so there is nothing to batch; run it once with `netlens run {id}`"
            )));
        }
        if !specs.iter().any(|s| s.id == spec.id) {
            specs.push(spec);
        }
    }
    if specs.is_empty() {
        return Err(Failure::Usage("--method: give at least one method id (see `netlens methods`)".into()));
    }
    Ok(specs)
}

/// Each `--set key=value` goes to the methods that declare `key`; a key none of them has is an error.
fn settings_per_method(specs: &[&MethodSpec], set: &Map<String, Json>) -> Outcome<Vec<Map<String, Json>>> {
    for key in set.keys() {
        if !specs.iter().any(|s| s.settings.iter().any(|d| d.key == key.as_str())) {
            let ids: Vec<&str> = specs.iter().map(|s| s.id).collect();
            return Err(Failure::Usage(format!("--set {key}: none of {} has a setting '{key}'", ids.join(", "))));
        }
    }
    Ok(specs
        .iter()
        .map(|s| {
            set.iter()
                .filter(|(k, _)| s.settings.iter().any(|d| d.key == k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect())
}

/// A folder (every file below it but hidden ones, sorted by relative path) or a manifest (.csv with a `path`
/// column and an optional `class` column, or .jsonl of `{"path": …, "class": …}`; paths relative to it).
fn list_images(src: &Path) -> Outcome<Vec<Item>> {
    let meta = std::fs::metadata(src).map_err(|e| Failure::Usage(format!("--images '{}': {e}", src.display())))?;
    let mut items = if meta.is_dir() {
        let mut items = vec![];
        walk(src, src, &mut items)?;
        items
    } else {
        read_manifest(src)?
    };
    items.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = items.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(Failure::Usage(format!("--images: '{}' is listed twice", w[0].id)));
    }
    Ok(items)
}

fn walk(root: &Path, dir: &Path, items: &mut Vec<Item>) -> Outcome<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Failure::Run(format!("cannot list '{}': {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| Failure::Run(format!("cannot list '{}': {e}", dir.display())))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, items)?;
        } else {
            let rel = path.strip_prefix(root).expect("below the root");
            let id = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            items.push(Item { id, path, class: None });
        }
    }
    Ok(())
}

fn read_manifest(file: &Path) -> Outcome<Vec<Item>> {
    let base = file.parent().unwrap_or(Path::new("."));
    let bad = |m: String| Failure::Usage(format!("manifest '{}': {m}", file.display()));
    let item = |path: &str, class: Option<String>| Item {
        id: path.to_string(),
        path: base.join(path),
        class: class.filter(|c| !c.trim().is_empty()),
    };
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => {
            let mut reader = csv::Reader::from_path(file).map_err(|e| bad(e.to_string()))?;
            let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
            let col = |name: &str| headers.iter().position(|h| h.trim() == name);
            let path_col = col("path").ok_or_else(|| bad("no 'path' column in its header".into()))?;
            let class_col = col("class");
            let mut items = vec![];
            for record in reader.records() {
                let record = record.map_err(|e| bad(e.to_string()))?;
                let path = record.get(path_col).unwrap_or("").trim();
                if path.is_empty() {
                    return Err(bad(format!("line {}: no path", record.position().map_or(0, |p| p.line()))));
                }
                items.push(item(path, class_col.and_then(|c| record.get(c)).map(str::to_string)));
            }
            Ok(items)
        }
        "jsonl" => {
            let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
            let mut items = vec![];
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let v: Json = serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
                let path = v["path"].as_str().ok_or_else(|| bad(format!("line {}: no \"path\"", n + 1)))?;
                let class = match &v["class"] {
                    Json::Null => None,
                    Json::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                items.push(item(path, class));
            }
            Ok(items)
        }
        _ => Err(bad("expected a folder, a .csv or a .jsonl manifest".into())),
    }
}

/// The model file (path and size), so that a rerun with another model is not taken for the same run.
fn model_identity(c: &Common) -> Json {
    let path = c.model.clone().or_else(|| netlens::model_files::find_default(netlens::model_files::MODEL_FILE));
    let size = path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
    json!({ "path": path.map(|p| p.display().to_string()), "bytes": size })
}

/// Writes run.json, or checks that the one there describes this same run.
fn check_manifest(out: &Path, manifest: &Json) -> Outcome<()> {
    let file = out.join(RUN_FILE);
    if let Ok(text) = std::fs::read_to_string(&file) {
        let old: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        if &old != manifest {
            return Err(Failure::Usage(format!(
                "'{}' holds another run ({} differs from this one's); use another --out or remove it",
                out.display(),
                file.display()
            )));
        }
        return Ok(());
    }
    let text = serde_json::to_string_pretty(manifest).expect("the manifest serialises");
    batch::write_atomic(&file, text.as_bytes())
        .map_err(|e| Failure::Run(format!("cannot write '{}': {e}", file.display())))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct JournalLine {
    row: Row,
    outputs: Vec<String>,
}

/// The journal's rows whose outputs are all still there (a torn last line from a kill is skipped).
fn read_journal(out: &Path, specs: &[&MethodSpec]) -> HashMap<(String, String), Row> {
    let methods: HashSet<&str> = specs.iter().map(|s| s.id).collect();
    let text = std::fs::read_to_string(out.join(JOURNAL_FILE)).unwrap_or_default();
    let mut done = HashMap::new();
    for line in text.lines() {
        let Ok(j) = serde_json::from_str::<JournalLine>(line) else { continue };
        if methods.contains(j.row.method.as_str()) && j.outputs.iter().all(|o| out.join(o).is_file()) {
            done.insert((j.row.image.clone(), j.row.method.clone()), j.row);
        }
    }
    done
}

fn append(
    journal: &mut std::fs::File,
    done: &mut HashMap<(String, String), Row>,
    row: Row,
    outputs: Vec<String>,
    out: &Path,
) -> Outcome<()> {
    let line = serde_json::to_string(&JournalLine { row, outputs }).expect("rows serialise") + "\n";
    // One write per line: a kill leaves at most a torn last line, which the next run skips.
    journal
        .write_all(line.as_bytes())
        .map_err(|e| Failure::Run(format!("cannot write '{}': {e}", out.join(JOURNAL_FILE).display())))?;
    let j: JournalLine = serde_json::from_str(&line).expect("just written");
    done.insert((j.row.image.clone(), j.row.method.clone()), j.row);
    Ok(())
}

/// One error row per method not yet done for an image that cannot be used.
fn record_errors(
    journal: &mut std::fs::File,
    done: &mut HashMap<(String, String), Row>,
    specs: &[&MethodSpec],
    item: &Item,
    class: Option<usize>,
    e: &netlens::Error,
    out: &Path,
) -> Outcome<()> {
    for spec in specs {
        if !done.contains_key(&(item.id.clone(), spec.id.to_string())) {
            append(journal, done, Row::error(&item.id, class, spec.id, e), vec![], out)?;
        }
    }
    Ok(())
}

/// As `attribute` writes them: the first picture panel as OUTDIR/METHOD/ID.png, the first raw values as .npy.
/// Returns their paths relative to OUTDIR.
fn write_outputs(out: &Path, spec: &MethodSpec, id: &str, panels: &[Panel]) -> Outcome<Vec<String>> {
    let stem = output_stem(id);
    let dir = out.join(spec.id).join(&stem).parent().map(Path::to_path_buf).unwrap_or_else(|| out.join(spec.id));
    std::fs::create_dir_all(&dir).map_err(|e| Failure::Run(format!("cannot create '{}': {e}", dir.display())))?;
    let mut written = vec![];
    if let Some(p) = panels.iter().find(|p| p.width > 0 && p.rgba.len() == 4 * (p.width * p.height) as usize) {
        let rel = format!("{}/{stem}.png", spec.id);
        write_png(&out.join(&rel), &p.rgba, p.width, p.height)?;
        written.push(rel);
    }
    if let Some(raw) = panels.iter().find_map(|p| p.raw.as_ref()) {
        let rel = format!("{}/{stem}.npy", spec.id);
        write_npy(&out.join(&rel), raw)?;
        written.push(rel);
    }
    Ok(written)
}

/// An image id as a relative path under OUTDIR/METHOD: its folders kept, anything that could leave OUTDIR
/// (`..`, a root, a drive) dropped.
fn output_stem(id: &str) -> String {
    let parts: Vec<&str> =
        id.split(['/', '\\']).filter(|p| !p.is_empty() && *p != "." && *p != ".." && !p.contains(':')).collect();
    if parts.is_empty() {
        "image".into()
    } else {
        parts.join("/")
    }
}
