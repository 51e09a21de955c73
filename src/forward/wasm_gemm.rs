//! A 4 × 8 float32 matrix-product kernel for tract in the browser (wasm SIMD), registered with tract-linalg's own
//! dispatch and picked for every f32 product the forward pass runs.
//!
//! Why: the convolutions are ~90 % of the page's forward pass, and tract's wasm pick, an 8 × 8 tile, keeps 16
//! accumulators — all 16 of an x86 core's vector registers once the browser has compiled it, so each step of the
//! inner loop also spills. This tile keeps 8 accumulators, 2 vectors of B and 1 broadcast A value in registers,
//! and loads each A value already broadcast (`v128.load32_splat`, one instruction) instead of a scalar load and a
//! splat. Each output still accumulates `acc + a × b` over k in order, without fused multiply-add, as tract's
//! kernel does: the values are bit for bit tract's (the reference tests run unchanged in both wasm builds).
//!
//! The kernel speaks tract's `FusedKerSpec` protocol: a list of operations on the MR × NR accumulator tile
//! (clear, add a packed product, per-row / per-column / scalar ops tract fuses into the product such as a
//! convolution's bias and ReLU, store). Semantics as tract-linalg's generic kernel (`generic/mmm.rs`): `Sub(m)` is
//! `m − acc`, `SubF(m)` is `acc − m`, min / max as wasm's `f32x4.min` / `max` (what tract's own wasm kernels use).

use std::arch::wasm32::*;
use std::sync::LazyLock;

use tract_linalg::isa::Arch;
use tract_linalg::mmm::{DynKernel, FusedKerSpec, MatMatMul, Query};
use tract_linalg::mmm_routines::MmmRoutine;
use tract_linalg::mmm_tiers::MmmTier;
use tract_linalg::pack::Packing;
use tract_onnx::prelude::{Datum, DatumType};

const NAME: &str = "netlens_wasm_f32_4x8";
const MR: usize = 4;
const NR: usize = 8;

/// The accumulator tile: row r, columns 0–3 in `[r][0]`, 4–7 in `[r][1]`.
type Tile = [[v128; 2]; MR];

#[inline(always)]
fn each(t: &mut Tile, f: impl Fn(v128) -> v128) {
    for row in t.iter_mut() {
        for v in row.iter_mut() {
            *v = f(*v);
        }
    }
}

#[inline(always)]
unsafe fn per_row(t: &mut Tile, m: *const f32, f: impl Fn(v128, v128) -> v128) {
    for (r, row) in t.iter_mut().enumerate() {
        let s = unsafe { v128_load32_splat(m.add(r) as *const u32) };
        for v in row.iter_mut() {
            *v = f(s, *v);
        }
    }
}

#[inline(always)]
unsafe fn per_col(t: &mut Tile, m: *const f32, f: impl Fn(v128, v128) -> v128) {
    let (lo, hi) = unsafe { (v128_load(m as *const v128), v128_load(m.add(4) as *const v128)) };
    for row in t.iter_mut() {
        row[0] = f(lo, row[0]);
        row[1] = f(hi, row[1]);
    }
}

/// The 4 × 8 product loop: `acc[r][c] += a[k][r] × b[k][c]` for k in order (A packed 4 per k, B 8 per k).
#[inline(always)]
unsafe fn add_mat_mul(t: &mut Tile, k: usize, pa: *const f32, pb: *const f32) {
    let [[mut a0, mut a1], [mut b0, mut b1], [mut c0, mut c1], [mut d0, mut d1]] = *t;
    for i in 0..k {
        unsafe {
            let a = pa.add(MR * i) as *const u32;
            let b = pb.add(NR * i);
            let (lo, hi) = (v128_load(b as *const v128), v128_load(b.add(4) as *const v128));
            let s = v128_load32_splat(a);
            a0 = f32x4_add(a0, f32x4_mul(s, lo));
            a1 = f32x4_add(a1, f32x4_mul(s, hi));
            let s = v128_load32_splat(a.add(1));
            b0 = f32x4_add(b0, f32x4_mul(s, lo));
            b1 = f32x4_add(b1, f32x4_mul(s, hi));
            let s = v128_load32_splat(a.add(2));
            c0 = f32x4_add(c0, f32x4_mul(s, lo));
            c1 = f32x4_add(c1, f32x4_mul(s, hi));
            let s = v128_load32_splat(a.add(3));
            d0 = f32x4_add(d0, f32x4_mul(s, lo));
            d1 = f32x4_add(d1, f32x4_mul(s, hi));
        }
    }
    *t = [[a0, a1], [b0, b1], [c0, c1], [d0, d1]];
}

/// A row's 8 values.
#[inline(always)]
fn lanes(pair: &[v128; 2]) -> [f32; NR] {
    let mut out = [0.0; NR];
    for (h, v) in pair.iter().enumerate() {
        out[4 * h] = f32x4_extract_lane::<0>(*v);
        out[4 * h + 1] = f32x4_extract_lane::<1>(*v);
        out[4 * h + 2] = f32x4_extract_lane::<2>(*v);
        out[4 * h + 3] = f32x4_extract_lane::<3>(*v);
    }
    out
}

/// Runs one `FusedKerSpec` list. 0: done; 1: an operation this kernel does not do (tract then fails the
/// product instead of computing something wrong; `can_fuse` keeps such operations out of its lists).
unsafe fn kernel(ops: &[FusedKerSpec<f32>]) -> isize {
    let zero = f32x4_splat(0.0);
    let mut t: Tile = [[zero; 2]; MR];
    for op in ops {
        unsafe {
            match *op {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => t = [[zero; 2]; MR],
                FusedKerSpec::LoadTile(_col_major, row_major) => {
                    for (r, row) in t.iter_mut().enumerate() {
                        row[0] = v128_load(row_major.add(NR * r) as *const v128);
                        row[1] = v128_load(row_major.add(NR * r + 4) as *const v128);
                    }
                }
                FusedKerSpec::ScalarMin(m) => each(&mut t, |v| f32x4_min(f32x4_splat(m), v)),
                FusedKerSpec::ScalarMax(m) => each(&mut t, |v| f32x4_max(f32x4_splat(m), v)),
                FusedKerSpec::ScalarAdd(m) => each(&mut t, |v| f32x4_add(f32x4_splat(m), v)),
                FusedKerSpec::ScalarMul(m) => each(&mut t, |v| f32x4_mul(f32x4_splat(m), v)),
                FusedKerSpec::ScalarSub(m) => each(&mut t, |v| f32x4_sub(f32x4_splat(m), v)),
                FusedKerSpec::ScalarSubF(m) => each(&mut t, |v| f32x4_sub(v, f32x4_splat(m))),
                FusedKerSpec::LeakyRelu(m) => each(&mut t, |v| {
                    let scaled = f32x4_mul(f32x4_splat(m), v);
                    v128_bitselect(v, scaled, f32x4_gt(v, zero))
                }),
                FusedKerSpec::PerRowMin(m) => per_row(&mut t, m, |s, v| f32x4_min(s, v)),
                FusedKerSpec::PerRowMax(m) => per_row(&mut t, m, |s, v| f32x4_max(s, v)),
                FusedKerSpec::PerRowAdd(m) => per_row(&mut t, m, |s, v| f32x4_add(s, v)),
                FusedKerSpec::PerRowMul(m) => per_row(&mut t, m, |s, v| f32x4_mul(s, v)),
                FusedKerSpec::PerRowSub(m) => per_row(&mut t, m, |s, v| f32x4_sub(s, v)),
                FusedKerSpec::PerRowSubF(m) => per_row(&mut t, m, |s, v| f32x4_sub(v, s)),
                FusedKerSpec::PerColMin(m) => per_col(&mut t, m, |s, v| f32x4_min(s, v)),
                FusedKerSpec::PerColMax(m) => per_col(&mut t, m, |s, v| f32x4_max(s, v)),
                FusedKerSpec::PerColAdd(m) => per_col(&mut t, m, |s, v| f32x4_add(s, v)),
                FusedKerSpec::PerColMul(m) => per_col(&mut t, m, |s, v| f32x4_mul(s, v)),
                FusedKerSpec::PerColSub(m) => per_col(&mut t, m, |s, v| f32x4_sub(s, v)),
                FusedKerSpec::PerColSubF(m) => per_col(&mut t, m, |s, v| f32x4_sub(v, s)),
                FusedKerSpec::AddRowColProducts(rows, cols) => {
                    let (lo, hi) = (v128_load(cols as *const v128), v128_load(cols.add(4) as *const v128));
                    for (r, row) in t.iter_mut().enumerate() {
                        let s = v128_load32_splat(rows.add(r) as *const u32);
                        row[0] = f32x4_add(row[0], f32x4_mul(s, lo));
                        row[1] = f32x4_add(row[1], f32x4_mul(s, hi));
                    }
                }
                FusedKerSpec::AddUnicast(tile) if tile.item_size == 4 => {
                    for (r, row) in t.iter_mut().enumerate() {
                        let at = |c: usize| {
                            *(tile.ptr.offset(tile.row_byte_stride * r as isize + tile.col_byte_stride * c as isize)
                                as *const f32)
                        };
                        row[0] = f32x4_add(row[0], f32x4(at(0), at(1), at(2), at(3)));
                        row[1] = f32x4_add(row[1], f32x4(at(4), at(5), at(6), at(7)));
                    }
                }
                FusedKerSpec::AddMatMul { k, pa, pb, packing: 0 } => {
                    add_mat_mul(&mut t, k, pa as *const f32, pb as *const f32)
                }
                FusedKerSpec::Store(tile) if tile.item_size == 4 => {
                    for (r, pair) in t.iter().enumerate() {
                        let row = tile.ptr.offset(tile.row_byte_stride * r as isize);
                        if tile.col_byte_stride == 4 {
                            v128_store(row as *mut v128, pair[0]);
                            v128_store(row.add(16) as *mut v128, pair[1]);
                        } else {
                            for (c, v) in lanes(pair).iter().enumerate() {
                                *(row.offset(tile.col_byte_stride * c as isize) as *mut f32) = *v;
                            }
                        }
                    }
                }
                _ => return 1,
            }
        }
    }
    0
}

static KERNEL: LazyLock<DynKernel<MR, NR, f32>> = LazyLock::new(|| {
    let mut k = DynKernel::<MR, NR, f32>::new(NAME, kernel, f32::packing(MR), f32::packing(NR));
    k.arch = Some(Arch::Wasm32Simd128);
    // Only what `kernel` does: no quantized scaling (tract then runs those as separate ops).
    k.with_can_fuse(|spec| {
        use tract_linalg::mmm::FusedSpec;
        !matches!(spec, FusedSpec::QScale(..) | FusedSpec::RoundingShiftRight(..) | FusedSpec::ShiftLeft(..))
    })
});

fn make() -> Box<dyn MatMatMul> {
    KERNEL.mmm()
}

inventory::submit! { MmmRoutine { make } }

// Above tract's own wasm tier: this kernel for every f32 matrix product (not matrix × vector, n = 1, where
// tract's gemv kernels stand, nor other types).
inventory::submit! {
    MmmTier {
        arch: Some(Arch::Wasm32Simd128),
        precedence: 200,
        name: "netlens wasm f32 4x8",
        applies: |_| true,
        preferred: |_, accumulator: DatumType, query: &Query, _| {
            (accumulator == f32::datum_type() && query.n != Some(1)).then_some(NAME)
        },
    }
}

/// The kernel tract's dispatch picks for an f32 product of these sizes (tests/wasm.rs checks it is this one).
pub fn picked(m: usize, k: usize, n: usize) -> Option<String> {
    tract_linalg::mmm::MmmDispatch::native()
        .preferred_kernel(f32::datum_type(), Some(m), Some(k), Some(n))
        .map(|kernel| kernel.name().to_string())
}
