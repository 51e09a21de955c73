//! docs/models.md's supported-ops table is written by hand for users; this keeps it true: every ONNX name that
//! `vjp::OPS` declares appears in the table, and every op name the table's rows start a list with is declared.

use netlens::vjp::OPS;

/// The table under "Supported ops (`vjp::OPS`)": its rows, up to the first line that is not one.
fn table() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/models.md")).expect("docs/models.md");
    let start = readme.find("Supported ops (`vjp::OPS`)").expect("the supported-ops heading of docs/models.md");
    readme[start..]
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The words of `text` (runs of ASCII letters and digits).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect()
}

#[test]
fn every_declared_op_is_in_the_readme_table() {
    let table = table();
    assert!(table.lines().count() > 5, "the supported-ops table was not found:\n{table}");
    let words = words(&table);
    let missing: Vec<&str> =
        OPS.iter().flat_map(|d| d.names.iter().copied()).filter(|name| !words.contains(name)).collect();
    assert!(missing.is_empty(), "ops in vjp::OPS but not in the README's table: {missing:?}");
}

#[test]
fn every_op_the_table_lists_first_in_a_row_is_declared() {
    // The first op of each row's op list (the cell after the family), e.g. "Conv", "MaxPool", "Gemm".
    let declared: Vec<&str> = OPS.iter().flat_map(|d| d.names.iter().copied()).collect();
    for row in table().lines().skip(2) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some(first) = cells.get(2).and_then(|c| words(c).first().copied()) else { continue };
        assert!(
            declared.contains(&first) || first == "Constant",
            "README lists '{first}' but vjp::OPS does not declare it"
        );
    }
}
