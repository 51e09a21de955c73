//! Where unit tests find the shared data (`NETLENS_SHARED`, else `../shared` beside the crate), as the
//! integration tests do (tests/common).

use std::path::PathBuf;

/// The shared data's folder.
pub fn shared() -> PathBuf {
    std::env::var_os("NETLENS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// SqueezeNet 1.1's ONNX file in the shared data.
pub fn squeezenet_path() -> PathBuf {
    shared().join("models/squeezenet1_1.onnx")
}

/// The ONNX file of every entry `models/ZOO/index.json` lists (at least one).
pub fn zoo_models(zoo: &str) -> Vec<PathBuf> {
    let dir = shared().join("models").join(zoo);
    let index = std::fs::read_to_string(dir.join("index.json")).unwrap_or_else(|e| panic!("{zoo}'s index: {e}"));
    let index: serde_json::Value = serde_json::from_str(&index).expect("the index is JSON");
    let entries = index["entries"].as_array().expect("the index's entries");
    assert!(!entries.is_empty(), "{zoo}'s index lists no model");
    entries.iter().map(|e| dir.join(e["onnx"].as_str().expect("an entry's onnx file"))).collect()
}
