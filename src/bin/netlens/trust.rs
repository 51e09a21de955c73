//! `netlens faithfulness` and `netlens sanity` (issue 8): the trust tests of attribution maps, one line per method.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value as Json};

use super::{check_outputs, parse_sets, write_png, Common, Failure, Outcome, Session};

fn settings(class: Option<String>, methods: Option<String>, set: &[String]) -> Outcome<Map<String, Json>> {
    let mut map = parse_sets(set)?;
    if let Some(class) = class {
        map.insert("class".into(), Json::String(class));
    }
    if let Some(methods) = methods {
        map.insert("methods".into(), Json::String(methods));
    }
    Ok(map)
}

fn write_json(path: &Path, value: &Json) -> Outcome<()> {
    let text = serde_json::to_string_pretty(value).expect("reports serialise");
    std::fs::write(path, text).map_err(|e| Failure::Run(format!("cannot write '{}': {e}", path.display())))
}

fn num(v: &Json) -> String {
    v.as_f64().map_or("–".into(), |v| format!("{v:.3}"))
}

/// Deletion and insertion AUCs per method (and the random order); `--json` adds the curves.
pub fn faithfulness(
    c: &Common,
    img: &Path,
    class: Option<String>,
    methods: Option<String>,
    set: &[String],
    json_out: Option<PathBuf>,
) -> Outcome<()> {
    check_outputs(&[json_out.as_ref()])?;
    let done = Session::open(c)?.run("faithfulness", Some(img), settings(class, methods, set)?)?;
    let r = &done.report;
    let k = r["class"].as_u64().unwrap_or(0) as usize;
    println!(
        "deletion/insertion for {} (p = {:.3}, baseline p = {:.3}), {} steps",
        done.session.label(k),
        r["p_image"].as_f64().unwrap_or(f64::NAN),
        r["p_baseline"].as_f64().unwrap_or(f64::NAN),
        r["steps"]
    );
    println!("{:<24} {:>13} {:>14}", "method", "deletion AUC", "insertion AUC");
    for m in r["methods"].as_array().into_iter().flatten() {
        println!(
            "{:<24} {:>13} {:>14}",
            format!("{} ({})", m["id"].as_str().unwrap_or(""), m["name"].as_str().unwrap_or("")),
            num(&m["deletion_auc"]),
            num(&m["insertion_auc"])
        );
    }
    if let Some(path) = json_out {
        write_json(&path, &json!({ "image": img.display().to_string(), "report": r }))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Rank correlations per randomisation depth; `-o` writes the map grid, `--json` the numbers.
pub fn sanity(
    c: &Common,
    img: &Path,
    class: Option<String>,
    methods: Option<String>,
    set: &[String],
    output: Option<PathBuf>,
    json_out: Option<PathBuf>,
) -> Outcome<()> {
    check_outputs(&[output.as_ref(), json_out.as_ref()])?;
    let done = Session::open(c)?.run("sanity", Some(img), settings(class, methods, set)?)?;
    let r = &done.report;
    let k = r["class"].as_u64().unwrap_or(0) as usize;
    let columns: Vec<&str> = r["columns"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
    println!("model randomization for {}; columns: {}", done.session.label(k), columns.join(", "));
    for m in r["methods"].as_array().into_iter().flatten() {
        let row = |key: &str| m[key].as_array().into_iter().flatten().map(num).collect::<Vec<_>>().join(" ");
        println!("{:<12} rho |map|: {}", m["id"].as_str().unwrap_or(""), row("abs"));
        println!("{:<12} rho signed: {}", "", row("signed"));
    }
    if let Some(path) = output {
        let grid = done.panel("grid")?;
        write_png(&path, &grid.rgba, grid.width, grid.height)?;
        println!("wrote {} ({})", path.display(), grid.title);
    }
    if let Some(path) = json_out {
        write_json(&path, &json!({ "image": img.display().to_string(), "report": r }))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
