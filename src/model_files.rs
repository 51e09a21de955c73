//! Where the default model and class names are found when no path is given: the CLI and the Python package
//! (src/python.rs) look in the same places, in the same order.

use std::path::{Path, PathBuf};

pub const MODEL_FILE: &str = "squeezenet1_1.onnx";
pub const CLASSES_FILE: &str = "imagenet_classes.txt";
pub const SYNSETS_FILE: &str = "imagenet_synset_words.txt";

/// assets/models as the build copies it, else $NETLENS_SHARED/models, else ../shared/models (beside the crate).
pub fn default_dirs() -> Vec<PathBuf> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![crate_dir.join("assets/models")];
    if let Some(shared) = std::env::var_os("NETLENS_SHARED") {
        dirs.push(PathBuf::from(shared).join("models"));
    }
    dirs.push(crate_dir.join("../shared/models"));
    dirs
}

/// The first `file` in [`default_dirs`].
pub fn find_default(file: &str) -> Option<PathBuf> {
    default_dirs().into_iter().map(|d| d.join(file)).find(|p| p.is_file())
}
