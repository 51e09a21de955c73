//! The one matrix product every VJP that needs one goes through (Conv, Gemm, MatMul).

use std::mem::MaybeUninit;

use crate::threads;

/// Multiply-adds below which a product runs on the caller: waking the pool costs more than the split saves.
const MIN_PARALLEL_MACS: usize = 1 << 20;

/// C (m×n, rows n apart) = A (m×k) · B (k×n), A and B given by (row, column) strides.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    strides_a: (usize, usize),
    b: &[f32],
    strides_b: (usize, usize),
    c: &mut [f32],
    alpha: f32,
) {
    // SAFETY: f32 and MaybeUninit<f32> have the same layout, and initialised values stay initialised.
    let c = unsafe { &mut *(c as *mut [f32] as *mut [MaybeUninit<f32>]) };
    gemm_into(m, k, n, a, strides_a, b, strides_b, c, alpha);
}

/// As [`gemm`], into memory that need not be initialised (C is only written: β = 0). Once it returns, the first
/// m·n elements of C are.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    c: &mut [MaybeUninit<f32>],
    alpha: f32,
) {
    // The bounds matrixmultiply will touch, checked here so the unsafe calls cannot read or write outside.
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs;
    assert!(m == 0 || k == 0 || a.len() > last(m, k, rsa, csa));
    assert!(k == 0 || n == 0 || b.len() > last(k, n, rsb, csb));
    assert!(m == 0 || n == 0 || c.len() >= m * n);
    let t = threads::threads();
    if t <= 1 || m.saturating_mul(k).saturating_mul(n) < MIN_PARALLEL_MACS || n < 32 * t {
        // SAFETY: the asserts above bound every element read and written.
        unsafe { sgemm_cols(m, k, 0..n, a, (rsa, csa), b, (rsb, csb), c.as_mut_ptr().cast(), n, alpha) };
        return;
    }
    // Split over columns, one band per thread (a multiple of 16 wide): each band reads all of A (small in every
    // VJP: weights) and its own columns of B, and writes only its own columns of C. An element of C is summed the
    // same way whatever band holds it (matrixmultiply blocks k alike for every band), so results are
    // bit-identical at any thread count. Bands by rows would each repack all of B, the large operand.
    let band = n.div_ceil(t).next_multiple_of(16);
    let c_ptr = SendPtr(c.as_mut_ptr().cast());
    threads::for_each_index(n.div_ceil(band), |i| {
        let cols = i * band..((i + 1) * band).min(n);
        // SAFETY: as above; bands write disjoint columns of C.
        unsafe { sgemm_cols(m, k, cols, a, (rsa, csa), b, (rsb, csb), c_ptr.get(), n, alpha) };
    });
}

/// C's raw pointer, shared by the bands (each writes its own columns).
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Columns `cols` of C = A · B, C's rows `ldc` apart. Safety: the caller bounds A, B and C. C is not read
/// (matrixmultiply reads no C when β = 0), so it may be uninitialised.
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_cols(
    m: usize,
    k: usize,
    cols: std::ops::Range<usize>,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    c: *mut f32,
    ldc: usize,
    alpha: f32,
) {
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            cols.len(),
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr().add(cols.start * csb),
            rsb as isize,
            csb as isize,
            0.0,
            c.add(cols.start),
            ldc as isize,
            1,
        );
    }
}
