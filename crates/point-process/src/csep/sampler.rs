//! Random numbers for the simulation-based CSEP tests: the workspace generator, or a
//! re-implementation of numpy's legacy `RandomState` (MT19937, `rand`, `poisson`) that reproduces
//! pycsep's simulations draw for draw when given the seed pycsep was given.

use core_tensor::seed::Rng;
use rand::Rng as _;
use rand_distr::{Distribution, Poisson};

/// The draws a simulation-based test makes: uniforms on `[0, 1)` and Poisson counts.
pub trait Sampler {
    /// A uniform number on `[0, 1)`.
    fn uniform(&mut self) -> f64;
    /// A Poisson count of mean `lambda ≥ 0` (0 for a mean of 0 or a non-finite mean).
    fn poisson(&mut self, lambda: f64) -> u64;
}

impl Sampler for Rng {
    fn uniform(&mut self) -> f64 {
        self.gen::<f64>()
    }
    fn poisson(&mut self, lambda: f64) -> u64 {
        match Poisson::new(lambda) {
            Ok(p) => p.sample(self) as u64,
            Err(_) => 0,
        }
    }
}

/// numpy's legacy generator (`numpy.random.seed(s)` then `rand`, `poisson`): MT19937 seeded by
/// `init_genrand(s)`, 53-bit uniforms from two 32-bit outputs, Poisson by multiplication below a
/// mean of 10 and by Hörmann's PTRS transformed rejection above.
#[derive(Clone)]
pub struct NumpyLegacy {
    mt: [u32; 624],
    i: usize,
}

impl std::fmt::Debug for NumpyLegacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NumpyLegacy {{ i: {} }}", self.i)
    }
}

impl NumpyLegacy {
    /// The generator after `numpy.random.seed(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        NumpyLegacy { mt, i: 624 }
    }

    /// The next 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.i >= 624 {
            for k in 0..624 {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % 624] & 0x7fff_ffff);
                self.mt[k] = self.mt[(k + 397) % 624] ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 };
            }
            self.i = 0;
        }
        let mut y = self.mt[self.i];
        self.i += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
}

/// numpy's `loggam`: Stirling series with ten coefficients, arguments below 7 shifted up.
fn loggam(x: f64) -> f64 {
    const A: [f64; 10] = [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.41025641025641e-03,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e+00,
    ];
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let n = if x < 7.0 { (7.0 - x) as i64 } else { 0 };
    let mut x0 = x + n as f64;
    let x2 = (1.0 / x0) * (1.0 / x0);
    let mut gl0 = A[9];
    for k in (0..9).rev() {
        gl0 *= x2;
        gl0 += A[k];
    }
    let mut gl = gl0 / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * x0.ln() - x0;
    if x < 7.0 {
        for _ in 0..n {
            gl -= (x0 - 1.0).ln();
            x0 -= 1.0;
        }
    }
    gl
}

/// Largest number of rejection rounds of one Poisson draw (the acceptance rate of PTRS is above
/// 0.8, so this is never reached by a working generator).
const MAX_ROUNDS: usize = 1_000_000;

impl Sampler for NumpyLegacy {
    fn uniform(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    fn poisson(&mut self, lam: f64) -> u64 {
        if !(lam.is_finite() && lam > 0.0) {
            return 0;
        }
        if lam >= 10.0 {
            let slam = lam.sqrt();
            let loglam = lam.ln();
            let b = 0.931 + 2.53 * slam;
            let a = -0.059 + 0.02483 * b;
            let inva = 1.1239 + 1.1328 / (b - 3.4);
            let vr = 0.9277 - 3.6224 / (b - 2.0);
            for _ in 0..MAX_ROUNDS {
                let u = self.uniform() - 0.5;
                let v = self.uniform();
                let us = 0.5 - u.abs();
                let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
                if us >= 0.07 && v <= vr {
                    return k as u64;
                }
                if k < 0.0 || (us < 0.013 && v > us) {
                    continue;
                }
                if v.ln() + inva.ln() - (a / (us * us) + b).ln() <= -lam + k * loglam - loggam(k + 1.0) {
                    return k as u64;
                }
            }
            return lam.round() as u64;
        }
        let enlam = (-lam).exp();
        let (mut x, mut prod) = (0u64, 1.0);
        for _ in 0..MAX_ROUNDS {
            prod *= self.uniform();
            if prod > enlam {
                x += 1;
            } else {
                return x;
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_outputs() {
        // init_genrand(5489) is the reference seeding of MT19937: its first output is 3499211612
        // and its 10000th 4123659995 (the C++ standard's check value for mt19937)
        let mut g = NumpyLegacy::new(5489);
        assert_eq!(g.next_u32(), 3_499_211_612);
        for _ in 1..9999 {
            g.next_u32();
        }
        assert_eq!(g.next_u32(), 4_123_659_995);
        // the Stirling series agrees with lgamma
        for x in [1.5, 3.0, 7.5, 40.0] {
            assert!((loggam(x) - libm::lgamma(x)).abs() < 1e-12, "{x}");
        }
    }
}
