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
