//! ETAS fitting: EM-style stochastic declustering with optimisation of the triggering parameters
//! (as in the `etas` package), then a direct maximum-likelihood polish with L-BFGS and standard
//! errors from the observed information.

use super::likelihood::{area, dlog_g, log_likelihood_with_grad, r2, source_compensator, NPAR};
use super::model::{Etas, EtasParams};
use super::pair_sum::{pair_sums, pair_values, Shape, Sources};
use super::windows::WindowSearch;
use crate::data::Catalogue;
use crate::error::{Error, Result};
use crate::optim::Lbfgs;
use crate::simd::Simd;
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Options of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EtasFitConfig {
    /// Maximum EM iterations.
    pub max_em_iter: usize,
    /// EM stops when no parameter moves more than this.
    pub em_tol: f64,
    /// Pairs whose triggering probability is below this are dropped from the M-step.
    pub min_prob: f64,
    /// Polish the EM estimate by maximising the full likelihood directly.
    pub polish: bool,
    /// Compute standard errors from the observed information.
    pub std_errors: bool,
    /// Catalogues with more events than this are fitted with time-window sums: the E-step skips
    /// pairs whose triggering probability is proved below `min_prob` in total, and the polish and
    /// standard errors use [`log_likelihood_truncated`](super::log_likelihood_truncated) with
    /// `rel_tol`.
    pub truncate_above: usize,
    /// Relative tolerance of the truncated log-likelihood and gradient.
    pub rel_tol: f64,
}

impl Default for EtasFitConfig {
    fn default() -> Self {
        EtasFitConfig {
            max_em_iter: 20,
            em_tol: 1e-3,
            min_prob: 1e-8,
            polish: true,
            std_errors: true,
            truncate_above: 20_000,
            rel_tol: 1e-9,
        }
    }
}

/// A fitted ETAS model.
#[derive(Debug, Clone, PartialEq)]
pub struct EtasFit {
    /// The estimate.
    pub model: Etas,
    /// Log-likelihood at the estimate.
    pub log_likelihood: f64,
    /// Standard errors in [`PARAM_NAMES`](super::model::PARAM_NAMES) order (NaN for parameters a temporal model does not use),
    /// when computed and the information matrix is positive definite.
    pub std_errors: Option<[f64; NPAR]>,
    /// EM iterations run.
    pub em_iterations: usize,
    /// Whether EM met its tolerance.
    pub converged: bool,
}

/// Items per parallel chunk in [`sum_in_chunks`]; fixed, so the summation order is too.
const CHUNK: usize = 1024;

/// `Σ_i f(x_i)` and the gradients `f` adds into its second argument, summed in parallel over
/// fixed chunks and then chunk by chunk in order: the result is the same bit for bit whatever the
/// number of threads or the work stealing (a rayon `fold().reduce()` is not).
fn sum_in_chunks<T: Sync>(xs: &[T], f: impl Fn(&T, &mut [f64; NPAR]) -> f64 + Sync) -> (f64, [f64; NPAR]) {
    let parts: Vec<(f64, [f64; NPAR])> = xs
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut g = [0.0; NPAR];
            let v = chunk.iter().map(|x| f(x, &mut g)).sum::<f64>();
            (v, g)
        })
        .collect();
    parts
        .into_iter()
        .fold((0.0, [0.0; NPAR]), |(v, g), (pv, pg)| (v + pv, std::array::from_fn(|k| g[k] + pg[k])))
}

/// Indices of the free parameters.
fn free(model: &Etas) -> Vec<usize> {
    if model.spatial {
        (0..NPAR).collect()
    } else {
        (0..6).collect()
    }
}

/// Unconstrained coordinates: ω = −1 + e^x, ρ = e^x, others as they are.
fn to_x(p: &EtasParams, idx: &[usize]) -> Vec<f64> {
    let v = p.to_vec();
    idx.iter()
        .map(|&k| match k {
            4 => (v[4] + 1.0).ln(),
            8 => v[8].ln(),
            _ => v[k],
        })
        .collect()
}

fn from_x(base: &EtasParams, idx: &[usize], x: &[f64]) -> EtasParams {
    let mut v = base.to_vec();
    for (&k, &xi) in idx.iter().zip(x) {
        v[k] = match k {
            4 => -1.0 + xi.exp(),
            8 => xi.exp(),
            _ => xi,
        };
    }
    EtasParams::from_slice(&v).expect("9 values")
}

/// d param / d x for the transformed coordinates.
fn jac(p: &EtasParams, k: usize) -> f64 {
    match k {
        4 => p.omega + 1.0,
        8 => p.rho,
        _ => 1.0,
    }
}

/// Log-likelihood and gradient: all pairs, or truncated for catalogues above the threshold.
fn loglik(
    model: &Etas,
    cat: &Catalogue,
    with_grad: bool,
    cfg: &EtasFitConfig,
) -> Result<(f64, Option<[f64; NPAR]>)> {
    if cat.len() > cfg.truncate_above {
        let t = super::log_likelihood_truncated(model, cat, with_grad, cfg.rel_tol)?;
        Ok((t.log_likelihood, t.grad))
    } else {
        log_likelihood_with_grad(model, cat, with_grad)
    }
}

struct Pair {
    j: usize,
    dt: f64,
    r2: f64,
    p: f64,
}

/// One target's background probability and its triggering pairs above the threshold.
type Row = (f64, Vec<Pair>);

/// E-step over all earlier events of each target, pair by pair with [`Etas::triggering`].
fn e_step_all_pairs(model: &Etas, cat: &Catalogue, min_prob: f64) -> Vec<Row> {
    let ev = cat.events();
    (cat.first_target()..ev.len())
        .into_par_iter()
        .map(|i| {
            let mu = model.params.mu();
            let mut gs = Vec::with_capacity(i);
            let mut lam = mu;
            for j in 0..i {
                let dt = ev[i].time - ev[j].time;
                let rr = if model.spatial { r2(&ev[i], &ev[j]) } else { 0.0 };
                let g = model.triggering(dt, rr, ev[j].mag);
                lam += g;
                gs.push(Pair { j, dt, r2: rr, p: g });
            }
            gs.retain_mut(|q| {
                q.p /= lam;
                q.p > min_prob
            });
            gs.shrink_to_fit();
            (mu / lam, gs)
        })
        .collect()
}

/// E-step over per-target windows: each target's window is the shortest whose proved bound on
/// the intensity of the events before it is at most `min_prob` times a lower bound of the
/// target's intensity (from a short window), so the pairs skipped carry less than `min_prob` of
/// its triggering probability in total; the kernels inside go through the vectorised pair loop.
fn e_step_windowed(model: &Etas, cat: &Catalogue, min_prob: f64) -> Vec<Row> {
    let ev = cat.events();
    let src = Sources::new(model, cat);
    let sh = Shape::of(model);
    let simd = Simd::detected();
    let mu = model.params.mu();
    let search = WindowSearch::new(model, &src, ev, false);
    let targets: Vec<usize> = (cat.first_target()..ev.len()).collect();
    let start_of = |i: usize, window: f64| src.t[..i].partition_point(|&t| t < src.t[i] - window);
    let lam_lo: Vec<f64> = targets
        .par_iter()
        .map(|&i| mu + pair_sums(simd, &src, &sh, i, start_of(i, search.shortest()), false).trig)
        .collect();
    let cuts = search.cuts(&targets, |n, cut| cut.omitted <= min_prob * lam_lo[n]);
    targets
        .par_iter()
        .zip(cuts)
        .map_init(Vec::new, |g, (&i, cut)| {
            // one buffer of kernels per worker, reused from target to target
            let start = start_of(i, cut.window);
            g.clear();
            let lam = mu + pair_values(simd, &src, &sh, i, start, g);
            let gs = (start..i)
                .zip(g.iter().copied())
                .filter(|&(_, g)| g / lam > min_prob)
                .map(|(j, g)| {
                    let rr = if model.spatial { r2(&ev[i], &ev[j]) } else { 0.0 };
                    Pair { j, dt: ev[i].time - ev[j].time, r2: rr, p: g / lam }
                })
                .collect();
            (mu / lam, gs)
        })
        .collect()
}

/// Fits ETAS to `cat` starting from `init` (whose `mc`, `b_value` and `spatial` flag are kept).
pub fn fit(cat: &Catalogue, init: &Etas, cfg: &EtasFitConfig) -> Result<EtasFit> {
    init.validate()?;
    if cat.first_target() >= cat.len() {
        return Err(Error::Data("the catalogue has no target events".into()));
    }
    let ev = cat.events();
    let first = cat.first_target();
    let a_bg = area(init, cat) * (cat.t_end() - cat.t_start());
    let mut model = *init;
    let trig_idx: Vec<usize> = free(init).into_iter().filter(|&k| k != 0).collect();
    let mut em_it = 0;
    let mut converged = false;
    while em_it < cfg.max_em_iter {
        // E-step: background and triggering probabilities of every target (for a large
        // catalogue, over windows whose earlier pairs carry less than min_prob in total)
        let rows = if cat.len() > cfg.truncate_above {
            e_step_windowed(&model, cat, cfg.min_prob)
        } else {
            e_step_all_pairs(&model, cat, cfg.min_prob)
        };
        let n_bg: f64 = rows.iter().map(|r| r.0).sum();
        let pairs: Vec<Pair> = rows.into_iter().flat_map(|r| r.1).collect();
        // M-step: μ in closed form, triggering parameters by L-BFGS on the expected complete-data
        // log-likelihood Q = Σ p log g − Σ_j C_j
        let mut new = model.params;
        new.log10_mu = (n_bg / a_bg).log10();
        let x0 = to_x(&new, &trig_idx);
        let base = new;
        let res = Lbfgs { max_iter: 200, gtol: 1e-6, ..Default::default() }.minimize(&x0, |x, g| {
            let p = from_x(&base, &trig_idx, x);
            let m = Etas { params: p, ..model };
            if m.validate().is_err() {
                return f64::INFINITY;
            }
            let (q, gq) = sum_in_chunks(&pairs, |pr, gq| {
                let mut dl = [0.0; NPAR];
                dlog_g(&m, pr.dt, pr.r2, ev[pr.j].mag - m.mc, &mut dl);
                for k in 0..NPAR {
                    gq[k] += pr.p * dl[k];
                }
                pr.p * m.triggering(pr.dt, pr.r2, ev[pr.j].mag).ln()
            });
            let (cs, gc) = sum_in_chunks(ev, |s, gc| {
                let mut gs = [0.0; NPAR];
                let (s0, s1) = ((cat.t_start() - s.time).max(0.0), cat.t_end() - s.time);
                let c = source_compensator(&m, s.mag, s0, s1, Some(&mut gs));
                for k in 0..NPAR {
                    gc[k] += gs[k];
                }
                c
            });
            let scale = ev.len() as f64;
            for (gi, &k) in g.iter_mut().zip(&trig_idx) {
                *gi = -(gq[k] - gc[k]) * jac(&p, k) / scale;
            }
            -(q - cs) / scale
        })?;
        new = from_x(&base, &trig_idx, &res.x);
        let change =
            model.params.to_vec().iter().zip(new.to_vec()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        model = Etas { params: new, ..model };
        em_it += 1;
        if change < cfg.em_tol {
            converged = true;
            break;
        }
    }
    if cfg.polish {
        let idx = free(&model);
        let x0 = to_x(&model.params, &idx);
        let base = model.params;
        let scale = (cat.len() - first) as f64;
        let res = Lbfgs { max_iter: 300, gtol: 1e-7, ..Default::default() }.minimize(&x0, |x, g| {
            let p = from_x(&base, &idx, x);
            let m = Etas { params: p, ..model };
            match loglik(&m, cat, true, cfg) {
                Ok((ll, Some(gr))) => {
                    for (gi, &k) in g.iter_mut().zip(&idx) {
                        *gi = -gr[k] * jac(&p, k) / scale;
                    }
                    -ll / scale
                }
                _ => f64::INFINITY,
            }
        })?;
        model = Etas { params: from_x(&base, &idx, &res.x), ..model };
    }
    let (ll, _) = loglik(&model, cat, false, cfg)?;
    let std_errors = if cfg.std_errors { standard_errors_with(&model, cat, cfg)? } else { None };
    Ok(EtasFit { model, log_likelihood: ll, std_errors, em_iterations: em_it, converged })
}

/// Standard errors from the observed information `−∇² log L` (central differences of the analytic
/// gradient, relative step 1e-4), in [`PARAM_NAMES`](super::model::PARAM_NAMES) order; `None` if the information matrix is not
/// positive definite. Catalogues above 20 000 events use the truncated likelihood (rel_tol 1e-9).
pub fn standard_errors(model: &Etas, cat: &Catalogue) -> Result<Option<[f64; NPAR]>> {
    standard_errors_with(model, cat, &EtasFitConfig::default())
}

/// [`standard_errors`] with the likelihood `cfg` selects (all pairs, or truncated above
/// `cfg.truncate_above` events).
fn standard_errors_with(model: &Etas, cat: &Catalogue, cfg: &EtasFitConfig) -> Result<Option<[f64; NPAR]>> {
    let idx = free(model);
    let n = idx.len();
    let mut h = DMatrix::<f64>::zeros(n, n);
    let base = model.params.to_vec();
    for (col, &k) in idx.iter().enumerate() {
        let step = 1e-4 * base[k].abs().max(0.1);
        let grad_at = |delta: f64| -> Result<[f64; NPAR]> {
            let mut v = base.clone();
            v[k] += delta;
            let m = Etas { params: EtasParams::from_slice(&v)?, ..*model };
            Ok(loglik(&m, cat, true, cfg)?.1.expect("gradient requested"))
        };
        let (gp, gm) = (grad_at(step)?, grad_at(-step)?);
        for (row, &r) in idx.iter().enumerate() {
            h[(row, col)] = -(gp[r] - gm[r]) / (2.0 * step);
        }
    }
    let h = (&h + h.transpose()) * 0.5;
    let Some(chol) = h.cholesky() else { return Ok(None) };
    let cov = chol.inverse();
    let mut se = [f64::NAN; NPAR];
    for (row, &k) in idx.iter().enumerate() {
        se[k] = cov[(row, row)].sqrt();
    }
    Ok(Some(se))
}
