//! One error type for every stage, with messages a page can show as they are.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model bytes are not an ONNX model tract can read, or its graph is malformed.
    #[error("model: {0}")]
    Model(String),
    /// The graph holds an op the reverse pass has no VJP for.
    #[error("unsupported op '{op}' at node '{node}'")]
    UnsupportedOp { op: String, node: String },
    /// The image could not be decoded or is unusable (too small, too large, corrupt).
    #[error("image: {0}")]
    Image(String),
    /// A caller passed something out of range (class index, shapes, settings).
    #[error("{0}")]
    Invalid(String),
    /// tract failed while running the forward pass.
    #[error("forward pass: {0}")]
    Forward(String),
}

pub type Result<T> = std::result::Result<T, Error>;
