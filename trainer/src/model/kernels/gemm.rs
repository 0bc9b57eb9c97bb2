//! A row-major, bounds-checked front for the `gemm` crate's matrix product (the kernels burn's
//! CPU backend also uses): `dst = [dst +] a·b` with any row/column strides of `a` and `b`.

/// How a product may use threads: one (the caller parallelises over images) or the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Single-threaded.
    One,
    /// Every thread of the current rayon pool.
    Pool,
}

/// A strided read-only matrix view: element `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Row stride (elements).
    pub rs: usize,
    /// Column stride (elements).
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        View {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        View {
            data,
            rs: 1,
            cs: cols,
        }
    }

    fn covers(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// `dst[m×n] = (accumulate ? dst : 0) + a[m×k]·b[k×n]`, `dst` row-major with `n` columns.
///
/// # Panics
/// If a view or `dst` is too short for its shape (a caller bug, never an input's).
pub fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    a: View<'_>,
    b: View<'_>,
    threads: Threads,
) {
    assert!(dst.len() >= m * n, "matmul: dst too short");
    assert!(
        a.covers(m, k) && b.covers(k, n),
        "matmul: operand too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::Pool => gemm::Parallelism::Rayon(0),
    };
    // SAFETY: the asserts above keep every index the product touches inside the slices; `dst`
    // is exclusively borrowed and does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &View, b: &View) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    s += a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64;
                }
                out[i * n + j] = s as f32;
            }
        }
        out
    }

    #[test]
    fn products_of_plain_and_transposed_views_match_the_definition() {
        let (m, n, k) = (7, 33, 19);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
            .collect();
        let bt: Vec<f32> = (0..n * k)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 9.0)
            .collect();
        let av = View::rows(&a, k);
        let bv = View::transposed(&bt, k);
        let want = naive(m, n, k, &av, &bv);
        for threads in [Threads::One, Threads::Pool] {
            let mut got = vec![1.0; m * n];
            matmul((m, n, k), &mut got, false, av, bv, threads);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{g} vs {w}");
            }
            matmul((m, n, k), &mut got, true, av, bv, threads);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - 2.0 * w).abs() < 2e-5);
            }
        }
    }
}
