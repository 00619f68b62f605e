//! Brent–Dekker root finding exactly as R's `uniroot` does it (`R_zeroin2`).
//!
//! The Mann–Whitney shift function is a step function of the shift, so *which* root comes
//! back depends on the finder's path. Reproducing R's (and Kayenta's) numbers therefore
//! needs R's algorithm step for step: same bracket, same tolerance handling, same choice
//! between bisection and linear or inverse quadratic interpolation. This is a line-by-line
//! port of the algorithm (Forsythe, Malcolm and Moler, *Computer Methods for Mathematical
//! Computations*, the netlib `zeroin`), with R's endpoint checks and iteration limit.

/// The outcome of [`zeroin`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Root {
    /// The approximation of the root.
    pub root: f64,
    /// Function evaluations spent (0 when an endpoint was already a root).
    pub iterations: u32,
    /// Width of the final bracket (0 when an endpoint was a root).
    pub precision: f64,
    /// False when `max_iter` was reached before the tolerance.
    pub converged: bool,
}

/// Find a zero of `f` in `[ax, bx]`, given `fa = f(ax)` and `fb = f(bx)` of opposite signs
/// (or zero), to absolute tolerance `tol`, in at most `max_iter` evaluations.
///
/// Non-finite function values are mapped as R maps them (−∞ → −f64::MAX, NaN and +∞ →
/// f64::MAX), so the search keeps going in a defined direction.
pub fn zeroin(
    ax: f64,
    bx: f64,
    fa: f64,
    fb: f64,
    mut f: impl FnMut(f64) -> f64,
    tol: f64,
    max_iter: u32,
) -> Root {
    let mut eval = |x: f64| clamp_non_finite(f(x));
    let (mut a, mut b) = (ax, bx);
    let (mut fa, mut fb) = (fa, fb);
    let mut c = a;
    let mut fc = fa;

    if fa == 0.0 {
        return Root {
            root: a,
            iterations: 0,
            precision: 0.0,
            converged: true,
        };
    }
    if fb == 0.0 {
        return Root {
            root: b,
            iterations: 0,
            precision: 0.0,
            converged: true,
        };
    }

    let budget = max_iter + 1;
    let mut left = budget;
    while left > 0 {
        left -= 1;
        let prev_step = b - a;

        if fc.abs() < fb.abs() {
            // Make b the best approximation.
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol_act = 2.0 * f64::EPSILON * b.abs() + tol / 2.0;
        let mut new_step = (c - b) / 2.0;

        if new_step.abs() <= tol_act || fb == 0.0 {
            return Root {
                root: b,
                iterations: budget - left - 1,
                precision: (c - b).abs(),
                converged: true,
            };
        }

        // Try interpolation when the previous step was large enough and went the right way.
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                // Two distinct points: linear interpolation.
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // Inverse quadratic interpolation.
                let qq = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * qq * (qq - t1) - (b - a) * (t1 - 1.0));
                q = (qq - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < (0.75 * cb * q - (tol_act * q).abs() / 2.0) && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }

        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        a = b;
        fa = fb;
        b += new_step;
        fb = eval(b);
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            c = a;
            fc = fa;
        }
    }
    Root {
        root: b,
        iterations: max_iter,
        precision: (c - b).abs(),
        converged: false,
    }
}

fn clamp_non_finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else if v == f64::NEG_INFINITY {
        -f64::MAX
    } else {
        f64::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sqrt_two() {
        let f = |x: f64| x * x - 2.0;
        let r = zeroin(0.0, 2.0, f(0.0), f(2.0), f, 1e-10, 1000);
        assert!(r.converged);
        assert!((r.root - 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn endpoint_roots_return_at_once() {
        let f = |x: f64| x - 1.0;
        let r = zeroin(1.0, 3.0, 0.0, 2.0, f, 1e-4, 1000);
        assert_eq!((r.root, r.iterations), (1.0, 0));
        let r = zeroin(-1.0, 1.0, -2.0, 0.0, f, 1e-4, 1000);
        assert_eq!(r.root, 1.0);
    }

    #[test]
    fn step_functions_converge_to_the_jump() {
        let f = |x: f64| if x < 0.3 { 1.0 } else { -1.0 };
        let r = zeroin(0.0, 1.0, 1.0, -1.0, f, 1e-6, 1000);
        assert!((r.root - 0.3).abs() < 1e-5);
    }

    #[test]
    fn reports_non_convergence() {
        let f = |x: f64| (x - 0.123_456).powi(3) + 0.01 * x;
        let r = zeroin(0.0, 1.0, f(0.0), f(1.0), f, 0.0, 2);
        assert!(!r.converged);
    }
}
