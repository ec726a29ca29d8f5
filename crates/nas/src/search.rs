//! Black-box search over any [`SearchSpace`]: random search and regularised evolution.
//!
//! Both query an objective `f(arch) → score` (higher is better), e.g. the validation accuracy in
//! a [`crate::table::Table`], and stop after `budget` queries.
//!
//! Regularised evolution (Real et al. 2019): start from `population` random architectures; then
//! repeatedly draw `sample_size` members uniformly, mutate the best of them (one decision changed),
//! evaluate the child, append it and remove the **oldest** member.

use std::collections::VecDeque;

use rand::Rng;

use crate::space::SearchSpace;
use crate::{Error, Result};

/// Outcome of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult<A> {
    /// The best architecture queried.
    pub best: A,
    /// Its score.
    pub best_score: f64,
    /// Best score after each query.
    pub trajectory: Vec<f64>,
}

struct Tracker<A> {
    best: Option<(A, f64)>,
    trajectory: Vec<f64>,
}

impl<A: Clone> Tracker<A> {
    fn record(&mut self, a: &A, s: f64) {
        if self.best.as_ref().is_none_or(|(_, b)| s > *b) {
            self.best = Some((a.clone(), s));
        }
        let b = self.best.as_ref().map(|x| x.1).unwrap_or(s);
        self.trajectory.push(b);
    }

    fn finish(self) -> Result<SearchResult<A>> {
        let (best, best_score) = self.best.ok_or_else(|| Error::invalid("budget", 0, "must be ≥ 1"))?;
        Ok(SearchResult { best, best_score, trajectory: self.trajectory })
    }
}

fn checked(s: f64) -> Result<f64> {
    if s.is_nan() {
        return Err(Error::invalid("score", s, "the objective returned NaN"));
    }
    Ok(s)
}

/// Random search: `budget` uniformly sampled architectures.
///
/// # Errors
/// `budget = 0`, or an objective error / NaN score.
pub fn random_search<S: SearchSpace>(
    space: &S,
    budget: usize,
    rng: &mut impl Rng,
    mut f: impl FnMut(&S::Arch) -> Result<f64>,
) -> Result<SearchResult<S::Arch>> {
    let mut t = Tracker { best: None, trajectory: Vec::with_capacity(budget) };
    for _ in 0..budget {
        let a = space.sample(rng);
        let s = checked(f(&a)?)?;
        t.record(&a, s);
    }
    t.finish()
}

/// Regularised evolution (module docs).
///
/// # Errors
/// `budget = 0`, `population < 2`, `sample_size ∉ [1, population]`, or an objective error.
pub fn regularized_evolution<S: SearchSpace>(
    space: &S,
    budget: usize,
    population: usize,
    sample_size: usize,
    rng: &mut impl Rng,
    mut f: impl FnMut(&S::Arch) -> Result<f64>,
) -> Result<SearchResult<S::Arch>> {
    if population < 2 {
        return Err(Error::invalid("population", population, "must be ≥ 2"));
    }
    if sample_size == 0 || sample_size > population {
        return Err(Error::invalid("sample_size", sample_size, format!("must be in [1, {population}]")));
    }
    let mut t = Tracker { best: None, trajectory: Vec::with_capacity(budget) };
    let mut pop: VecDeque<(S::Arch, f64)> = VecDeque::with_capacity(population);
    for q in 0..budget {
        let a = if q < population {
            space.sample(rng)
        } else {
            let parent = (0..sample_size)
                .map(|_| &pop[rng.gen_range(0..pop.len())])
                .fold(None::<&(S::Arch, f64)>, |b, m| match b {
                    Some(b) if b.1 >= m.1 => Some(b),
                    _ => Some(m),
                })
                .expect("sample_size ≥ 1");
            space.mutate(&parent.0, rng)
        };
        let s = checked(f(&a)?)?;
        t.record(&a, s);
        pop.push_back((a, s));
        if pop.len() > population {
            pop.pop_front();
        }
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Cell, CellSpace};

    /// A score with a unique optimum: the number of edges equal to op 2.
    fn score(c: &Cell) -> Result<f64> {
        Ok(c.0.iter().filter(|o| **o == 2).count() as f64)
    }

    #[test]
    fn evolution_finds_the_optimum_and_beats_random_search() {
        let space = CellSpace::nb201();
        let mut re_wins = 0;
        for seed in 0..10 {
            let re =
                regularized_evolution(&space, 150, 20, 5, &mut core_tensor::seed::rng(seed), score).unwrap();
            let rs = random_search(&space, 150, &mut core_tensor::seed::rng(seed), score).unwrap();
            assert_eq!(re.trajectory.len(), 150);
            assert!(re.trajectory.windows(2).all(|w| w[1] >= w[0]));
            assert_eq!(score(&re.best).unwrap(), re.best_score);
            if re.best_score > rs.best_score {
                re_wins += 1;
            }
            assert!(re.best_score >= 5.0, "seed {seed}: {}", re.best_score);
        }
        assert!(re_wins >= 7, "evolution beat random search in {re_wins}/10 runs");
    }

    #[test]
    fn bad_settings_are_errors() {
        let space = CellSpace::nb201();
        let mut rng = core_tensor::seed::rng(0);
        assert!(random_search(&space, 0, &mut rng, score).is_err());
        assert!(regularized_evolution(&space, 10, 1, 1, &mut rng, score).is_err());
        assert!(regularized_evolution(&space, 10, 4, 5, &mut rng, score).is_err());
        assert!(random_search(&space, 3, &mut rng, |_| Ok(f64::NAN)).is_err());
    }
}
