//! Threads do not change results (native): logits and input gradients of the real model are bit-identical with
//! 1, 2 and 3 threads, because work is only split where each output element is still summed by one task in the
//! same order (src/threads.rs).

mod common;

use common::*;
use netlens::threads::with_threads;
use netlens::{imageio, Classifier, Tensor};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn logits_and_gradients_are_bit_identical_across_thread_counts() {
    let net = Classifier::from_onnx_bytes(&squeezenet_bytes()).unwrap();
    let photo = imageio::rgb_to_tensor(&imageio::load_224(&read_shared("images/chelsea.png")).unwrap());
    let noise = randn_tensor(&[1, 3, 224, 224], 13);
    for (x, class) in [(&photo, 285), (&noise, 76)] {
        let run = |n: usize| -> (Vec<f32>, Tensor) { with_threads(n, || net.logits_and_grad(x, class).unwrap()) };
        let (logits1, grad1) = run(1);
        assert!(grad1.data.iter().any(|&g| g != 0.0));
        for n in [2, 3] {
            let (logits, grad) = run(n);
            assert_eq!(bits(&logits), bits(&logits1), "logits with {n} threads differ from 1 thread");
            assert_eq!(bits(&grad.data), bits(&grad1.data), "gradient with {n} threads differs from 1 thread");
        }
    }
}
