//! A tour of the nas crate: a NAS-Bench-201 cell space, zero-cost proxies, the shipped
//! micro-benchmark table, regularised evolution on it, and a short first-order DARTS run whose
//! magnitude and DARTS-PT selections are looked up in the table.
//!
//! `cargo run -p sciml-nas --release --example nas_tour`

use nas::proxies::{score, Proxy};
use nas::search::regularized_evolution;
use nas::space::{CellSpace, SearchSpace};
use nas::supernet::{darts_pt_select, darts_search, DartsConfig, DartsOrder, MixRule, Supernet};
use nas::train::TrainConfig;
use tch::nn;

fn main() -> nas::Result<()> {
    let dev = core_tensor::device::device();
    // The NAS-Bench-201 space: 15,625 cells, string form, isomorphism classes.
    let nb201 = CellSpace::nb201();
    let cell = nb201.sample(&mut core_tensor::seed::rng(0));
    println!("a random NB201 cell: {}", nb201.encode(&cell));

    // The micro-benchmark shipped with the crate (3 ops, 127 classes, 3 seeds each).
    let table = nas::suite::micro_table(&core_tensor::bench::SuiteConfig::quick(std::env::temp_dir()))?;
    let space = table.config.space()?;
    let data = table.config.data(dev)?;
    println!(
        "micro-benchmark: {} classes, random-architecture mean test accuracy {:.3}",
        table.entries.len(),
        table.random_mean()
    );

    // Zero-cost proxies of one cell at initialisation.
    let c = space.sample(&mut core_tensor::seed::rng(1));
    let (x, y) = (data.x_train.narrow(0, 0, 32), data.y_train.narrow(0, 0, 32));
    for p in Proxy::ALL {
        println!("  {:>9}: {:.4e}", p.name(), score(p, &space, &c, table.config.network, &x, &y, 0)?);
    }

    // Regularised evolution on the table's validation accuracy.
    let val = |c: &nas::space::Cell| Ok(table.query(c)?.map(|e| e.mean_val()).unwrap_or(0.0));
    let re = regularized_evolution(&space, 30, 10, 3, &mut core_tensor::seed::rng(2), val)?;
    let test = table.query(&re.best)?.map(|e| e.mean_test()).unwrap_or(f64::NAN);
    println!("regularised evolution (30 queries): {} → test {:.3}", space.encode(&re.best), test);

    // First-order DARTS on a supernet, then magnitude and DARTS-PT selection.
    core_tensor::seed::seed_torch(0);
    let (wv, av) = (nn::VarStore::new(dev), nn::VarStore::new(dev));
    let mut net = Supernet::new(&wv.root(), &av.root(), &space, table.config.network, MixRule::Softmax)?;
    let cfg = DartsConfig::new(DartsOrder::First, 4, 50);
    let mut rng = core_tensor::seed::rng(3);
    darts_search(&net, &wv, &data, &cfg, &mut rng, |e, r| {
        println!("  DARTS epoch {e}: train loss {:.3}, supernet val acc {:.3}", r.train_loss, r.val_acc)
    })?;
    let magnitude = net.magnitude_cell();
    let (pt, _) = darts_pt_select(&mut net, &wv, &data, &TrainConfig::new(1, 50), 1, &mut rng)?;
    for (name, c) in [("magnitude", &magnitude), ("DARTS-PT", &pt)] {
        let acc = table.query(c)?.map(|e| e.mean_test()).unwrap_or(f64::NAN);
        println!("{name:>10}: {} → test {acc:.3}", space.encode(c));
    }
    Ok(())
}
