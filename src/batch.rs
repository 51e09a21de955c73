//! Many images at once (issue 30): one row of the results table per (image, method), made and written here so
//! that `netlens batch`, the Python package and the Ray recipe (docs/scale.md) produce the same table, byte for
//! byte. Every method runs through the registry (`registry::run_to_end`); nothing here knows a method.
//!
//! The table: `image, class, method, status, error, numbers`. `class` is the class the row is about: the one the
//! caller gave for the image (a manifest's class), else the model's top-1 for it. `numbers` is the method's report
//! flattened to its numbers and booleans (`extra.completeness.delta`, `fooled`, …) as one JSON object with sorted
//! keys: the columns differ per method, and one fixed header is what lets shards' tables concatenate.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};
use crate::methods::registry::{self, Ctx, Input, MethodSpec, Panel};
use crate::network::Classifier;
use crate::tensor::argmax;

pub const CSV_FILE: &str = "results.csv";
pub const JSONL_FILE: &str = "results.jsonl";

/// One (image, method) result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub image: String,
    pub class: Option<usize>,
    pub method: String,
    /// `ok` or `error`.
    pub status: String,
    /// Why it failed (empty when ok).
    pub error: String,
    /// The report's numbers and booleans by dotted key.
    pub numbers: Map<String, Json>,
}

impl Row {
    pub fn error(image: &str, class: Option<usize>, method: &str, error: &Error) -> Row {
        Row {
            image: image.into(),
            class,
            method: method.into(),
            status: "error".into(),
            error: error.to_string(),
            numbers: Map::new(),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// The row as one JSON line (no newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("rows serialise")
    }
}

/// A report's numbers and booleans by dotted key; its text, its `lines` and its lists (curves) are left out.
pub fn report_numbers(report: &Json) -> Map<String, Json> {
    fn walk(prefix: &str, v: &Json, out: &mut Map<String, Json>) {
        match v {
            Json::Number(_) | Json::Bool(_) => {
                out.insert(prefix.to_string(), v.clone());
            }
            Json::Object(o) => {
                for (k, v) in o {
                    if prefix.is_empty() && k == "lines" {
                        continue;
                    }
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Map::new();
    walk("", report, &mut out);
    out
}

/// The class a row is about: the one asked for, else the image's top-1.
pub fn row_class(net: &Classifier, input: &Input, asked: Option<usize>) -> Result<usize> {
    match asked {
        Some(k) => Ok(k),
        None => Ok(argmax(input.logits(net)?)),
    }
}

/// Runs one registry method on one image to the end: its row and panels (none when it failed). `set` are the
/// method's settings as JSON (checked here by the registry); `class`, when given, becomes the method's `class`
/// setting if it has one. A failure (bad settings, an engine error, even a panic) is a row, never an abort.
pub fn run_method(
    ctx: &Ctx,
    spec: &MethodSpec,
    image: &str,
    input: &Input,
    class: Option<usize>,
    set: &Map<String, Json>,
) -> (Row, Vec<Panel>) {
    let work = || -> Result<(usize, Vec<Panel>, Json)> {
        let row_class = row_class(ctx.net, input, class)?;
        let mut set = set.clone();
        if let Some(k) = class {
            if spec.settings.iter().any(|s| s.key == "class") {
                set.insert("class".into(), Json::from(k));
            }
        }
        let settings = spec.settings(&Json::Object(set), ctx.net.num_classes())?;
        let run = registry::run_to_end(ctx, spec, Some(input), &settings, |_, _| true)?;
        Ok((row_class, run.panels(), run.report()))
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(Ok((k, panels, report))) => {
            let row = Row {
                image: image.into(),
                class: Some(k),
                method: spec.id.into(),
                status: "ok".into(),
                error: String::new(),
                numbers: report_numbers(&report),
            };
            (row, panels)
        }
        Ok(Err(e)) => (Row::error(image, class, spec.id, &e), vec![]),
        Err(_) => {
            (Row::error(image, class, spec.id, &Error::Invalid("internal error: the method panicked".into())), vec![])
        }
    }
}

/// The order of every table: by image, then method.
pub fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| (&a.image, &a.method).cmp(&(&b.image, &b.method)));
}

/// Writes `dir/results.csv` and `dir/results.jsonl`, sorted (each through a temporary file and a rename, so a
/// reader never sees half a table).
pub fn write_tables(dir: &Path, rows: &mut [Row]) -> Result<()> {
    sort_rows(rows);
    let io = |e: std::io::Error| Error::Invalid(format!("cannot write the results table in '{}': {e}", dir.display()));
    let mut csv = csv::Writer::from_writer(vec![]);
    csv.write_record(["image", "class", "method", "status", "error", "numbers"]).map_err(|e| io(e.into()))?;
    for r in rows.iter() {
        let class = r.class.map(|k| k.to_string()).unwrap_or_default();
        let numbers = serde_json::to_string(&r.numbers).expect("numbers serialise");
        csv.write_record([&r.image, &class, &r.method, &r.status, &r.error, &numbers]).map_err(|e| io(e.into()))?;
    }
    let csv = csv.into_inner().map_err(|e| io(e.into_error()))?;
    let mut jsonl = Vec::new();
    for r in rows.iter() {
        writeln!(jsonl, "{}", r.to_json_line()).map_err(io)?;
    }
    write_atomic(&dir.join(CSV_FILE), &csv).map_err(io)?;
    write_atomic(&dir.join(JSONL_FILE), &jsonl).map_err(io)
}

/// Writes through `path.tmp` and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
