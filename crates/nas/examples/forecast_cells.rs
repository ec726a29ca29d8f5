//! Two forecasting cells from the recurrence / attention / gating space trained briefly on
//! Lorenz-96 under the `nas_forecast` protocol, scored against the persistence baseline
//! ("repeat the last state").
//!
//! `cargo run -p sciml-nas --release --example forecast_cells`

use nas::forecast::ForecastSpace;
use nas::space::SearchSpace;
use nas::suite::forecast::ForecastProtocol;

fn main() -> nas::Result<()> {
    // Networks this small gain nothing from intra-op threads, and lose a lot when cores are shared.
    tch::set_num_threads(1);
    let dev = core_tensor::device::device();
    let protocol = ForecastProtocol::quick(0);
    let data = protocol.prepare(dev)?;
    println!(
        "Lorenz-96 N = {}, F = {}: {} training windows of {} states; persistence test MSE {:.4} \
         (standardised units)",
        protocol.data.n,
        protocol.data.forcing,
        data.x_train.size()[0],
        protocol.window,
        data.persistence_test
    );
    let space = ForecastSpace;
    for text in [
        "recurrence=lstm;attention=none;gating=none;norm=off",
        "recurrence=gru;attention=self;gating=input_dependent;norm=on",
    ] {
        let arch = space.decode(text)?;
        let start = std::time::Instant::now();
        let s = protocol.train(&data, &arch, 0)?;
        println!(
            "{text}: {} parameters, test MSE {:.4} = {:.3} × persistence (validation {:.3}×), {:.1} s",
            s.params,
            s.test_nmse * data.persistence_test,
            s.test_nmse,
            s.val_nmse,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
