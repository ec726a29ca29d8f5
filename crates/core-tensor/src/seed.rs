//! Reproducibility: one seed drives libtorch's generator and every Rust-side random choice.

use rand::SeedableRng;

/// The Rust random generator used across sciml-rs (ChaCha8: fast, portable, reproducible).
pub type Rng = rand_chacha::ChaCha8Rng;

/// Seeds libtorch's global generators (CPU and CUDA) and returns a Rust generator from `seed`.
pub fn seed_everything(seed: u64) -> Rng {
    seed_torch(seed);
    rng(seed)
}

/// Seeds libtorch's global generators (CPU and every CUDA device) with `seed`; the only place in
/// the workspace that seeds libtorch, so that a seed means the same stream everywhere (the bits of
/// `seed` are passed unchanged).
pub fn seed_torch(seed: u64) {
    tch::manual_seed(seed as i64);
}

/// libtorch's generator seeded with `seed` for one library call, handed back afterwards.
///
/// tch cannot read or restore libtorch's generator state, so a function that must draw from its
/// own seed (a training run, an architecture's initial weights) would otherwise leave the global
/// stream reseeded: the caller's next draws would depend on the callee's seed and on how many
/// numbers it drew. On entry the scope draws one number from the caller's stream; on drop (early
/// returns and errors included) it reseeds with that number. The caller's stream after the call
/// is then a function of its own state alone, as if the call had consumed a single draw.
#[derive(Debug)]
#[must_use = "the caller's stream is handed back when the scope is dropped"]
pub struct TorchSeedScope {
    resume: u64,
}

impl TorchSeedScope {
    /// Draws the caller's resume point, then seeds libtorch with `seed`.
    pub fn enter(seed: u64) -> Self {
        let resume =
            // cpu: the resume seed comes from the CPU generator
            tch::Tensor::randint(i64::MAX, [1], (tch::Kind::Int64, tch::Device::Cpu)).int64_value(&[0]);
        seed_torch(seed);
        TorchSeedScope { resume: resume as u64 }
    }
}

impl Drop for TorchSeedScope {
    fn drop(&mut self) {
        seed_torch(self.resume);
    }
}

/// A Rust generator from `seed`, independent of libtorch.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// Derives a child seed from a parent seed and a stream index (SplitMix64 mixing), so that
/// per-epoch, per-worker or per-sequence streams are independent yet reproducible.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z =
        seed.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(stream.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn same_seed_same_numbers() {
        let a: Vec<u32> = (0..5).map(|_| 0).scan(rng(7), |r, _| Some(r.gen())).collect();
        let b: Vec<u32> = (0..5).map(|_| 0).scan(rng(7), |r, _| Some(r.gen())).collect();
        assert_eq!(a, b);
        let _ = seed_everything(11);
        let x = tch::Tensor::randn([4], (tch::Kind::Float, tch::Device::Cpu));
        let _ = seed_everything(11);
        let y = tch::Tensor::randn([4], (tch::Kind::Float, tch::Device::Cpu));
        assert!(x.equal(&y));
    }

    /// What a caller draws after a seeded library call depends on the caller's seed only, not on
    /// the seed the call used or on how much it drew.
    #[test]
    fn a_seed_scope_hands_the_callers_stream_back() {
        let call = |seed: u64, draws: i64| {
            let _scope = TorchSeedScope::enter(seed);
            let _ = tch::Tensor::randn([draws], (tch::Kind::Float, tch::Device::Cpu));
        };
        let after = |seed: u64, draws: i64| {
            seed_torch(7);
            call(seed, draws);
            tch::Tensor::randn([3], (tch::Kind::Float, tch::Device::Cpu))
        };
        assert!(after(1, 10).equal(&after(2, 1000)));
        // inside, the call sees exactly its own seed's stream
        seed_torch(3);
        let direct = tch::Tensor::randn([3], (tch::Kind::Float, tch::Device::Cpu));
        seed_torch(99);
        let scoped = {
            let _scope = TorchSeedScope::enter(3);
            tch::Tensor::randn([3], (tch::Kind::Float, tch::Device::Cpu))
        };
        assert!(direct.equal(&scoped));
    }

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
        assert_eq!(derive_seed(5, 9), derive_seed(5, 9));
    }
}
