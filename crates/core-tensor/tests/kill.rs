//! The kill test: a child process trains with a checkpoint after every epoch and is killed with
//! SIGKILL at random moments, 24 times, each time resuming from what the last one left. After every
//! kill the newest checkpoint (`epoch-N`) must be complete and load without falling back
//! (`damaged_checkpoints` empty), no temporary entry may look like a checkpoint, and the newest
//! epoch never goes backwards. At the end, the run that was killed 24 times, resumed once more,
//! has exactly (bitwise) the parameters of a run that was never interrupted, and the temporaries
//! the killed runs left are gone.

use core_tensor::data::DataLoader;
use core_tensor::nn::{Activation, Mlp, MlpConfig};
use core_tensor::train::{Control, EpochRecord, OptimizerConfig, TrainHistory, Trainer};
use rand::Rng;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

/// Set in the child: the checkpoint directory to train into.
const CHILD_ENV: &str = "SCIML_KILL_TEST_DIR";
/// Epochs of the run: the child never gets there before it is killed.
const EPOCHS: usize = 1_000_000;
const KILLS: usize = 24;

fn model() -> (nn::VarStore, Mlp) {
    core_tensor::seed::seed_torch(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let m = Mlp::new(&vs.root(), &[2, 16, 1], MlpConfig::default().activation(Activation::Tanh)).unwrap();
    (vs, m)
}

/// Trains (resuming from `dir` when given) until epoch `stop_at` (exclusive) or forever.
fn train(dir: Option<&Path>, stop_at: Option<usize>) -> (TrainHistory, nn::VarStore) {
    core_tensor::seed::seed_torch(1);
    let x = Tensor::rand([64, 2], (Kind::Float, Device::Cpu)) * 4.0 - 2.0;
    let y = (x.select(1, 0).sin() * x.select(1, 1)).unsqueeze(1);
    let data = DataLoader::new(vec![x, y], 16, 7).unwrap();
    let (vs, m) = model();
    let mut cfg = Trainer::builder().epochs(EPOCHS).optimizer(OptimizerConfig::adam(0.01)).seed(42);
    if let Some(d) = dir {
        cfg = cfg.checkpoint(d, 1);
    }
    let mut t = cfg.build().unwrap();
    if let Some(k) = stop_at {
        t.observe(move |r: &EpochRecord| if r.epoch + 1 >= k { Control::Stop } else { Control::Continue });
    }
    let h = t
        .fit(&vs, &data, |b| Ok((m.forward_t(&b[0], true) - &b[1]).square().mean(Kind::Float)), || Ok(None))
        .unwrap();
    (h, vs)
}

/// The newest epoch among the complete `epoch-N` checkpoints; every non-hidden entry must be one.
fn newest_checkpoint(dir: &Path) -> Option<usize> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if sciml_report::fs::is_temporary(&path) {
            assert!(name.starts_with('.'), "a temporary entry that is not hidden: {name}");
            continue;
        }
        let n: usize =
            name.strip_prefix("epoch-").and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{name}"));
        for file in ["trainer.json", "model.safetensors", "optimizer.safetensors"] {
            let listing: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert!(path.join(file).is_file(), "{name} is visible but lacks {file}: {listing:?}");
        }
        newest = newest.max(Some(n));
    }
    newest
}

/// The child: trains into the directory named by `CHILD_ENV` until it is killed. Without the
/// variable (a normal test run) it returns at once.
#[test]
fn checkpoint_writer_child() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        train(Some(Path::new(&dir)), None);
    }
}

#[test]
fn sigkill_at_random_moments_never_loses_the_newest_complete_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = core_tensor::seed::rng(2026);
    let mut last = None;
    let mut temporaries_seen = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "checkpoint_writer_child", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // libtorch loads in a few hundred ms; then an epoch and its checkpoint take milliseconds
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..900)));
        assert!(child.try_wait().unwrap().is_none(), "the child stopped before kill {kill}");
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        temporaries_seen += std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| sciml_report::fs::is_temporary(&e.as_ref().unwrap().path()))
            .count();
        let newest = newest_checkpoint(dir.path());
        assert!(newest >= last, "kill {kill}: the newest checkpoint went back from {last:?} to {newest:?}");
        last = newest;
        // The newest one loads: resuming starts right after it, with nothing skipped. (The check
        // trains one more epoch, exactly what the child would have done, and checkpoints it.)
        if let Some(n) = newest {
            let (h, _) = train(Some(dir.path()), Some(n + 1));
            assert_eq!(h.resumed_at, Some(n), "kill {kill}");
            assert!(h.damaged_checkpoints.is_empty(), "kill {kill}: {:?}", h.damaged_checkpoints);
            last = newest_checkpoint(dir.path());
        }
    }
    let reached = last.expect("no checkpoint was ever written");
    assert!(reached >= KILLS, "only {reached} epochs in {KILLS} runs");
    eprintln!("{KILLS} kills, {reached} epochs, {temporaries_seen} temporary entries seen after kills");
    // Killed and resumed, or never interrupted: the same parameters, bit for bit.
    let (_, resumed) = train(Some(dir.path()), Some(reached + 2));
    // and a resumed run clears what the killed ones left behind
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| sciml_report::fs::is_temporary(p))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let (_, straight) = train(None, Some(reached + 2));
    let sorted = |vs: &nn::VarStore| vs.variables().into_iter().collect::<std::collections::BTreeMap<_, _>>();
    let (resumed, straight) = (sorted(&resumed), sorted(&straight));
    assert_eq!(resumed.len(), straight.len());
    for ((na, a), (nb, b)) in resumed.iter().zip(straight.iter()) {
        assert_eq!(na, nb);
        assert!(a.equal(b), "{na} differs from the uninterrupted run");
    }
}
