//! Strong order of the SDE solvers on geometric Brownian motion.

use super::*;

/// Strong convergence of every SDE solver on geometric Brownian motion against its exact solution
/// on the same Brownian path (Itô or Stratonovich as the solver converges to), with the fitted
/// orders; and Monte-Carlo moments of GBM against the closed forms.
pub const SDE_STRONG_ORDER: Task = Task::new(
    "sde_strong_order",
    "strong error vs step on GBM for Euler–Maruyama, Milstein (Itô/Stratonovich), Heun, Euler–Heun, SRIW1, reversible Heun",
    sde_strong_order,
);

fn sde_strong_order(cfg: &SuiteConfig) -> TaskResult {
    use crate::sde::{
        reversible_heun, sdeint_on_grid, BrownianPath, EulerHeun, EulerMaruyama, FnSde, Heun, Milstein,
        Noise, SdeSolver, Sriw1,
    };
    let (mu, sigma) = (0.5, 0.3);
    let gbm = FnSde {
        f: move |_t: f64, y: &Tensor| Ok(y * mu),
        g: move |_t: f64, y: &Tensor| Ok(y * sigma),
        noise: Noise::Diagonal,
    };
    let n = cfg.pick(2000, 20000);
    let dev = cfg.device;
    let fine = BrownianPath::new(0.0, 1.0 / 4096.0, 4096, &[n, 1], cfg.seed, Kind::Double, dev)?;
    let w_t = (0..4096)
        .try_fold(Tensor::zeros([n, 1], (Kind::Double, dev)), |a, k| fine.increment(k).map(|dw| a + dw))?;
    let y0 = Tensor::ones([n, 1], (Kind::Double, dev));
    let solvers: Vec<(Box<dyn SdeSolver>, f64)> = vec![
        (Box::new(EulerMaruyama), 0.5),
        (Box::new(Milstein { stratonovich: false }), 1.0),
        (Box::new(Milstein { stratonovich: true }), 1.0),
        (Box::new(Heun), 1.0),
        (Box::new(EulerHeun), 1.0),
        (Box::new(Sriw1), 1.5),
    ];
    let mut r = TaskReport::new();
    let mut plot =
        Plot::new("strong_error", "Strong error on GBM (commutative noise)", "step size h", "E|X_T^h − X_T|")
            .log(true, true);
    let fit = |pts: &[(f64, f64)]| {
        let l: Vec<(f64, f64)> = pts.iter().map(|(h, e)| (h.ln(), e.ln())).collect();
        let mx = l.iter().map(|p| p.0).sum::<f64>() / l.len() as f64;
        let my = l.iter().map(|p| p.1).sum::<f64>() / l.len() as f64;
        l.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
            / l.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>()
    };
    for (s, nominal) in &solvers {
        let drift = if s.stratonovich() { mu } else { mu - sigma * sigma / 2.0 };
        let exact = (&w_t * sigma + drift).exp();
        let mut pts = Vec::new();
        for k in [16usize, 32, 64, 128, 256] {
            let path = fine.coarsen(k)?;
            let ys = sdeint_on_grid(&gbm, s.as_ref(), &y0, &path, &SaveAt::every_step())?.ys;
            let err = (ys.last().expect("solved") - &exact).abs().mean(Kind::Double).double_value(&[]);
            pts.push((path.h(), err));
        }
        r.metric(
            format!("{}_strong_order", s.name()),
            Metric::new(fit(&pts), "", Better::Higher)
                .with_reference(*nominal, "theory for commutative noise"),
        )?;
        plot = plot.line(s.name(), pts);
    }
    // reversible Heun (Stratonovich, order 1 for commutative noise in practice; 0.5 in general)
    let exact = (&w_t * sigma + mu).exp();
    let mut pts = Vec::new();
    for k in [16usize, 32, 64, 128, 256] {
        let path = fine.coarsen(k)?;
        let st = reversible_heun(&gbm, &y0, &path, false)?;
        pts.push((path.h(), (st.y - &exact).abs().mean(Kind::Double).double_value(&[])));
    }
    r.metric(
        "reversible_heun_strong_order",
        Metric::new(fit(&pts), "", Better::Higher).with_reference(1.0, "commutative noise"),
    )?;
    plot = plot.line("reversible_heun", pts);
    r.plot(plot);
    // additive noise: dX = −sin X dt + ½ dW against SRA1 on the finest grid
    use crate::sde::Sra1;
    let add = FnSde {
        f: |_t: f64, y: &Tensor| Ok(-y.sin()),
        g: |_t: f64, y: &Tensor| Ok(y.ones_like() * 0.5),
        noise: Noise::Additive,
    };
    let reference = sdeint_on_grid(&add, &Sra1, &y0, &fine, &SaveAt::t1())?.ys.pop().expect("solved");
    let mut add_plot = Plot::new(
        "strong_error_additive",
        "Strong error, additive noise (dX = −sin X dt + ½ dW)",
        "step size h",
        "E|X_T^h − X_T^ref|",
    )
    .log(true, true);
    let additive: Vec<(Box<dyn SdeSolver>, f64)> =
        vec![(Box::new(EulerMaruyama), 1.0), (Box::new(Heun), 1.0), (Box::new(Sra1), 1.5)];
    for (s, nominal) in &additive {
        let mut pts = Vec::new();
        for k in [16usize, 32, 64, 128, 256] {
            let path = fine.coarsen(k)?;
            let y = sdeint_on_grid(&add, s.as_ref(), &y0, &path, &SaveAt::t1())?.ys.pop().expect("solved");
            pts.push((path.h(), (y - &reference).abs().mean(Kind::Double).double_value(&[])));
        }
        r.metric(
            format!("additive_{}_strong_order", s.name()),
            Metric::new(fit(&pts), "", Better::Higher).with_reference(*nominal, "theory for additive noise"),
        )?;
        add_plot = add_plot.line(s.name(), pts);
    }
    r.plot(add_plot);
    // Monte-Carlo moments of Euler–Maruyama on GBM at T = 1 (dt = 1/4096)
    let ys = sdeint_on_grid(&gbm, &EulerMaruyama, &y0, &fine, &SaveAt::every_step())?.ys;
    let x: Vec<f64> =
        Vec::try_from(ys.last().expect("solved").flatten(0, -1)).map_err(core_tensor::Error::from)?;
    let (m, v) = core_tensor::metrics::mean_var(&x)?;
    r.metric("gbm_mean", Metric::new(m, "", Better::Lower).with_reference(mu.exp(), "closed form e^{μT}"))?;
    r.metric(
        "gbm_variance",
        Metric::new(v, "", Better::Lower)
            .with_reference((2.0 * mu).exp() * ((sigma * sigma).exp() - 1.0), "closed form"),
    )?;
    Ok(r)
}
