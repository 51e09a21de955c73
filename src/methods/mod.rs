//! The methods: the three CS231n "NetworkVisualization" experiments, ported from their PyTorch semantics, and
//! the attribution family. Each is declared once in [`registry`] (settings, outputs, how to start it).
//!
//! Each long-running method is a stepper (`FoolingRun`, `ClassVizRun`, the attribution `Stepper`s) so that the
//! browser worker can do one step per message-loop turn, report progress and be cancelled.

pub mod applicable;
pub mod attack;
pub mod attention;
pub mod attribution;
pub mod classviz;
pub mod contract;
pub mod features;
pub mod fooling;
pub mod image_ops;
pub mod registry;
pub mod saliency;
pub mod settings;
pub mod shard;
pub mod trust;

/// Upper bound on iteration counts: the page sends user-typed numbers, and 10k steps is already minutes.
pub const MAX_ITERS: usize = 10_000;
