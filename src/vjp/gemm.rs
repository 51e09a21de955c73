//! The one matrix product every VJP that needs one goes through (Conv, Gemm, MatMul).

/// C (m×n) = A (m×k) · B (k×n), all given by pointer and (row, column) strides.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    c: &mut [f32],
    alpha: f32,
) {
    // The bounds matrixmultiply will touch, checked here so the unsafe call cannot read or write outside.
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs;
    assert!(m == 0 || k == 0 || a.len() > last(m, k, rsa, csa));
    assert!(k == 0 || n == 0 || b.len() > last(k, n, rsb, csb));
    assert!(m == 0 || n == 0 || c.len() >= m * n);
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}
