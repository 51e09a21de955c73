//! netlens: what a pretrained ImageNet CNN has learned.
//!
//! Data flows one way, one module per stage:
//! image bytes --[`imageio`]--> [`Tensor`] --[`forward`] (tract, recording activations)-->
//! [`backward`] (our reverse pass, one VJP per op in [`vjp`]) --> [`methods`] --> [`render`] --> RGBA.

// The threaded page build (pinned nightly, docs/performance.md: Threads in the page) notes an allocation failure on a pool
// thread before it traps, so that the thread waiting for it stops waiting (`threads::on_pool`).
#![cfg_attr(all(target_arch = "wasm32", feature = "wasm-threads"), feature(alloc_error_hook))]

pub mod backward;
#[cfg(not(target_arch = "wasm32"))]
pub mod batch;
pub mod classes;
pub mod engine;
pub mod error;
pub mod forward;
pub mod graph;
pub mod imageio;
pub mod methods;
pub mod model_files;
pub mod model_memory;
pub mod network;
pub mod preprocess;
pub mod qr;
pub mod render;
pub mod rules;
pub mod tensor;
#[cfg(test)]
mod test_data;
pub mod threads;
pub mod vjp;
pub mod window_max;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[cfg(all(feature = "python", not(target_arch = "wasm32")))]
mod python;

pub use error::{Error, Result};
pub use network::Classifier;
pub use tensor::Tensor;
