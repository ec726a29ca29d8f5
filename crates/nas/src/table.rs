//! A tabular micro-benchmark built by the crate itself (NAS-Bench-201 style, small enough for a
//! laptop): every cell of a small [`CellSpace`] is trained on procedural images under one fixed
//! protocol for several seeds, and the accuracies are stored as JSON.
//!
//! Cells are trained once per isomorphism class (the [`SearchSpace::canonical`] key); an entry
//! records how many cells of the space share it, so means over "random architectures" weight
//! classes by their size.
//!
//! Building is **resumable** (the table file is rewritten atomically after every trained cell and
//! an interrupted build continues where it stopped) and **shardable**: `Shard { index: i, count: n }`
//! takes every `n`-th class starting at `i`, so a job array can build the shards in parallel and
//! [`Table::merge`] joins them. Two builds pointed at the same file share it: each save takes the
//! file's lock and merges the runs already there ([`Table::save_merged`]). A loaded file is
//! validated (cells, canonical keys, accuracies), so a hand-edited or truncated table is an error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tch::{nn, Device};

use core_tensor::train::optim::trainable_named;
use core_tensor::train::LrSchedule;

use crate::data::ProceduralImages;
use crate::model::{CellNetwork, NetworkConfig};
use crate::space::{Cell, CellSpace, SearchSpace};
use crate::train::{train_classifier, ImageData, TrainConfig};
use crate::{Error, Result};

/// Everything that defines a table: space, data, network and training protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableConfig {
    /// Nodes of the cell.
    pub nodes: usize,
    /// Op names of the cell space.
    pub ops: Vec<String>,
    /// Procedural image classes.
    pub classes: usize,
    /// Image side in pixels.
    pub image_size: usize,
    /// Pixel noise.
    pub noise: f64,
    /// Training, validation and test set sizes.
    pub sizes: (usize, usize, usize),
    /// Seed of the data set.
    pub data_seed: u64,
    /// Network settings.
    pub network: NetworkConfig,
    /// Training protocol.
    pub train: TrainConfig,
}

impl TableConfig {
    /// The micro-benchmark: 4 nodes, ops {none, skip_connect, nor_conv_3x3} (3⁶ = 729 cells in
    /// 127 isomorphism classes), 8 classes of 16×16 images with noise 0.2 (1000 training, 500
    /// validation and 1000 test images), 8-channel networks, `epochs` epochs of batch 50.
    pub fn micro(epochs: usize) -> Self {
        TableConfig {
            nodes: 4,
            ops: ["none", "skip_connect", "nor_conv_3x3"].map(String::from).to_vec(),
            classes: 8,
            image_size: 16,
            noise: 0.2,
            sizes: (1000, 500, 1000),
            data_seed: 2024,
            network: NetworkConfig { channels: 8, classes: 8, ..NetworkConfig::default() },
            train: TrainConfig {
                lr: 0.05,
                schedule: LrSchedule::Cosine { t_max: epochs.max(1), eta_min: 0.0 },
                ..TrainConfig::new(epochs, 50)
            },
        }
    }

    /// The cell space.
    ///
    /// # Errors
    /// Invalid nodes or op names.
    pub fn space(&self) -> Result<CellSpace> {
        let ops: Vec<&str> = self.ops.iter().map(String::as_str).collect();
        CellSpace::new(self.nodes, &ops)
    }

    /// The data set (deterministic from `data_seed`) on `device`.
    ///
    /// # Errors
    /// Invalid generator settings or empty splits.
    pub fn data(&self, device: Device) -> Result<ImageData> {
        let gen = ProceduralImages { classes: self.classes, size: self.image_size, noise: self.noise };
        let (a, b, c) = self.sizes;
        if a == 0 || b == 0 || c == 0 {
            return Err(Error::invalid("sizes", format!("{:?}", self.sizes), "every split needs samples"));
        }
        let (x, y) = gen.generate(a + b + c, &mut core_tensor::seed::rng(self.data_seed))?;
        let (a, b, c) = (a as i64, b as i64, c as i64);
        Ok(ImageData {
            x_train: x.narrow(0, 0, a),
            y_train: y.narrow(0, 0, a),
            x_val: x.narrow(0, a, b),
            y_val: y.narrow(0, a, b),
            x_test: x.narrow(0, a + b, c),
            y_test: y.narrow(0, a + b, c),
        }
        .to_device(device))
    }

    /// Every isomorphism class: `(canonical key, first cell in enumeration order, class size)`,
    /// sorted by key.
    ///
    /// # Errors
    /// An invalid space or one too large to enumerate.
    pub fn classes(&self) -> Result<Vec<(String, Cell, usize)>> {
        let space = self.space()?;
        let cells = space
            .enumerate()
            .ok_or_else(|| Error::invalid("space", space.size(), "too large to enumerate for a table"))?;
        let mut map: BTreeMap<String, (Cell, usize)> = BTreeMap::new();
        for c in cells {
            map.entry(space.canonical(&c)).or_insert((c, 0)).1 += 1;
        }
        Ok(map.into_iter().map(|(k, (c, n))| (k, c, n)).collect())
    }
}

/// One trained network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Validation accuracy.
    pub val_acc: f64,
    /// Test accuracy.
    pub test_acc: f64,
    /// Final-epoch training loss.
    pub train_loss: f64,
    /// Wall-clock training time in seconds.
    pub seconds: f64,
}

/// All runs of one isomorphism class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// A representative cell in string form.
    pub cell: String,
    /// Cells of the space in this class.
    pub multiplicity: usize,
    /// Runs by seed.
    pub runs: BTreeMap<u64, Run>,
}

impl Entry {
    /// Mean validation accuracy over seeds.
    pub fn mean_val(&self) -> f64 {
        self.runs.values().map(|r| r.val_acc).sum::<f64>() / self.runs.len().max(1) as f64
    }
    /// Mean test accuracy over seeds.
    pub fn mean_test(&self) -> f64 {
        self.runs.values().map(|r| r.test_acc).sum::<f64>() / self.runs.len().max(1) as f64
    }
}

/// A shard `index` of `count` (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Shard index `i < count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole table.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `"i/n"`.
    ///
    /// # Errors
    /// A malformed string or `i ≥ n`.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || Error::invalid("shard", format!("{s:?}"), "expected i/n with 0 ≤ i < n");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The table: its config and entries by canonical key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// What the entries were trained under.
    pub config: TableConfig,
    /// Entries by canonical key.
    pub entries: BTreeMap<String, Entry>,
}

/// What [`Table::build`] should train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildPlan<'a> {
    /// The shard of classes to train.
    pub shard: Shard,
    /// At most this many classes of the shard, chosen uniformly (seeded); `None` = all.
    pub limit: Option<usize>,
    /// Training seeds: one network per seed and class (seeds can be added to a table later).
    pub seeds: &'a [u64],
    /// Show a progress bar.
    pub progress: bool,
}

impl Table {
    /// An empty table.
    pub fn new(config: TableConfig) -> Self {
        Table { config, entries: BTreeMap::new() }
    }

    /// Reads a table.
    ///
    /// # Errors
    /// An unreadable or malformed file, naming the path.
    pub fn load(path: &Path) -> Result<Table> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid("table", path.display(), format!("cannot read: {e}")))?;
        Table::parse(&text, path.display())
    }

    /// Parses a table from its JSON text; `source` names it in the error.
    ///
    /// # Errors
    /// Text that is not a table file.
    pub fn parse(text: &str, source: impl std::fmt::Display) -> Result<Table> {
        let table: Table = serde_json::from_str(text)
            .map_err(|e| Error::invalid("table", &source, format!("not a table file: {e}")))?;
        table.validate().map_err(|e| Error::invalid("table", &source, e.to_string()))?;
        Ok(table)
    }

    /// Checks what a file could get wrong: the space is valid, every entry's cell decodes in it
    /// and is filed under its canonical key, multiplicities are ≥ 1, accuracies lie in `[0, 1]`
    /// and times are finite and ≥ 0.
    fn validate(&self) -> Result<()> {
        let space = self.config.space()?;
        for (key, e) in &self.entries {
            let cell = space.decode(&e.cell)?;
            if space.canonical(&cell) != *key {
                return Err(Error::invalid(
                    "entry",
                    key,
                    format!("its cell {} has another canonical key", e.cell),
                ));
            }
            if e.multiplicity == 0 {
                return Err(Error::invalid("multiplicity", key, "must be ≥ 1"));
            }
            for (seed, r) in &e.runs {
                let accs_ok = [r.val_acc, r.test_acc].iter().all(|a| (0.0..=1.0).contains(a));
                if !(accs_ok && r.seconds.is_finite() && r.seconds >= 0.0) {
                    return Err(Error::invalid(
                        "run",
                        format!("{key} seed {seed}"),
                        "accuracies must lie in [0, 1] and the time be finite and ≥ 0",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Saves under the table's lock file (`<path>.lock`, an OS advisory lock released when the
    /// process ends, however it ends): the runs already in the file — written by another build of
    /// the same table since this one loaded it — are merged in first, so neither build loses runs.
    ///
    /// # Errors
    /// An I/O failure, a file with another config, or two runs of one (class, seed) that disagree.
    pub fn save_merged(&mut self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut lock_name = path.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_name)?;
        lock.lock()?;
        if path.exists() {
            let on_disk = Table::load(path)?;
            *self = Table::merge(vec![std::mem::replace(self, Table::new(self.config.clone())), on_disk])?;
        }
        let saved = self.save(path);
        lock.unlock()?;
        saved
    }

    /// Writes the table atomically (temporary file, then rename).
    ///
    /// # Errors
    /// An I/O failure.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(Error::other)?;
        core_tensor::checkpoint::write_atomic(path, |tmp| Ok(std::fs::write(tmp, text)?))
    }

    /// Builds (or continues building) the table stored at `path` for `config`: trains every
    /// missing (class, seed) pair of the plan on `device`, saving after each class.
    ///
    /// # Errors
    /// An existing file at `path` with a different config, or a training failure (runs finished
    /// before it stay saved).
    pub fn build(config: &TableConfig, plan: BuildPlan<'_>, path: &Path, device: Device) -> Result<Table> {
        let mut table = if path.exists() {
            let t = Table::load(path)?;
            if &t.config != config {
                return Err(Error::invalid(
                    "table",
                    path.display(),
                    "exists with a different config; use another path",
                ));
            }
            t
        } else {
            Table::new(config.clone())
        };
        let todo = table.plan_classes(plan)?;
        let data = config.data(device)?;
        let space = config.space()?;
        let pb = core_tensor::bench::progress_bar(todo.len() as u64, "micro-benchmark", plan.progress);
        for (key, cell, mult) in todo {
            table.train_class(&space, &data, &key, &cell, mult, plan.seeds)?;
            table.save_merged(path)?;
            pb.inc(1);
        }
        pb.finish_and_clear();
        Ok(table)
    }

    /// The classes of `plan` (shard, then the seeded subset), in a seeded random order.
    fn plan_classes(&self, plan: BuildPlan<'_>) -> Result<Vec<(String, Cell, usize)>> {
        let mut classes: Vec<_> = self
            .config
            .classes()?
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % plan.shard.count == plan.shard.index)
            .map(|(_, c)| c)
            .collect();
        classes.shuffle(&mut core_tensor::seed::rng(self.config.data_seed ^ 0x7ab1e));
        if let Some(k) = plan.limit {
            classes.truncate(k);
        }
        Ok(classes)
    }

    /// Trains the missing seeds of one class.
    #[allow(clippy::too_many_arguments)]
    fn train_class(
        &mut self,
        space: &CellSpace,
        data: &ImageData,
        key: &str,
        cell: &Cell,
        mult: usize,
        seeds: &[u64],
    ) -> Result<()> {
        let entry = self.entries.entry(key.to_string()).or_insert_with(|| Entry {
            cell: space.encode(cell),
            multiplicity: mult,
            runs: BTreeMap::new(),
        });
        for &seed in seeds {
            if entry.runs.contains_key(&seed) {
                continue;
            }
            let run = train_cell(space, cell, &self.config, data, seed)?;
            entry.runs.insert(seed, run);
        }
        Ok(())
    }

    /// The entry of `cell` (any member of its class), training the missing `seeds` first.
    ///
    /// # Errors
    /// An invalid cell or a training failure.
    pub fn ensure(&mut self, cell: &Cell, data: &ImageData, seeds: &[u64]) -> Result<&Entry> {
        let space = self.config.space()?;
        space.check(cell)?;
        let key = space.canonical(cell);
        let mult = if self.entries.contains_key(&key) {
            0
        } else {
            self.config.classes()?.into_iter().find(|c| c.0 == key).map_or(1, |c| c.2)
        };
        self.train_class(&space, data, &key, cell, mult, seeds)?;
        Ok(&self.entries[&key])
    }

    /// The entry of `cell`'s class, if trained.
    ///
    /// # Errors
    /// An invalid cell.
    pub fn query(&self, cell: &Cell) -> Result<Option<&Entry>> {
        let space = self.config.space()?;
        space.check(cell)?;
        Ok(self.entries.get(&space.canonical(cell)))
    }

    /// Joins tables built under the same config (shards); runs of the same class and seed must
    /// agree.
    ///
    /// # Errors
    /// No tables, different configs, or conflicting runs.
    pub fn merge(tables: Vec<Table>) -> Result<Table> {
        let mut it = tables.into_iter();
        let mut out = it.next().ok_or_else(|| Error::invalid("tables", 0, "nothing to merge"))?;
        for t in it {
            if t.config != out.config {
                return Err(Error::invalid("tables", "config", "shards were built under different configs"));
            }
            for (k, e) in t.entries {
                let slot = out
                    .entries
                    .entry(k.clone())
                    .or_insert_with(|| Entry { runs: BTreeMap::new(), ..e.clone() });
                for (seed, run) in e.runs {
                    if let Some(old) = slot.runs.get(&seed) {
                        if old.test_acc != run.test_acc {
                            return Err(Error::invalid(
                                "tables",
                                format!("{k} seed {seed}"),
                                "two shards disagree on the same run",
                            ));
                        }
                    }
                    slot.runs.insert(seed, run);
                }
            }
        }
        Ok(out)
    }

    /// Mean test accuracy of a uniformly random cell of the space, estimated from the trained
    /// classes weighted by their multiplicity.
    pub fn random_mean(&self) -> f64 {
        let (s, w) = self.entries.values().filter(|e| !e.runs.is_empty()).fold((0.0, 0.0), |(s, w), e| {
            (s + e.mean_test() * e.multiplicity as f64, w + e.multiplicity as f64)
        });
        s / w.max(1.0)
    }

    /// Entries with a run for every seed in `seeds`.
    pub fn complete(&self, seeds: &[u64]) -> Vec<&Entry> {
        self.entries.values().filter(|e| seeds.iter().all(|s| e.runs.contains_key(s))).collect()
    }
}

/// Trains the network of `cell` under the table's protocol with training seed `seed`.
///
/// # Errors
/// An invalid cell or a training failure.
pub fn train_cell(
    space: &CellSpace,
    cell: &Cell,
    cfg: &TableConfig,
    data: &ImageData,
    seed: u64,
) -> Result<Run> {
    let start = Instant::now();
    let _seed_scope = core_tensor::seed::TorchSeedScope::enter(seed);
    let vs = nn::VarStore::new(data.x_train.device());
    let net = CellNetwork::new(&vs.root(), space, cell, cfg.network)?;
    let mut rng = core_tensor::seed::rng(core_tensor::seed::derive_seed(seed, 0x7ab1e));
    let out = train_classifier(|x, t| net.forward_t(x, t), trainable_named(&vs), data, &cfg.train, &mut rng)?;
    Ok(Run {
        val_acc: out.val_acc,
        test_acc: out.test_acc,
        train_loss: out.train_loss.last().copied().unwrap_or(f64::NAN),
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> TableConfig {
        let mut c = TableConfig::micro(1);
        c.nodes = 3;
        c.ops = ["none", "skip_connect", "nor_conv_3x3"].map(String::from).to_vec();
        c.classes = 3;
        c.image_size = 8;
        c.sizes = (48, 24, 24);
        c.network = NetworkConfig { channels: 2, classes: 3, ..NetworkConfig::default() };
        c.train = TrainConfig::new(1, 24);
        c
    }

    #[test]
    fn classes_partition_the_space() {
        let c = TableConfig::micro(1);
        let classes = c.classes().unwrap();
        assert_eq!(classes.iter().map(|x| x.2).sum::<usize>(), 729);
        assert_eq!(classes.len(), 127);
        let tc = tiny().classes().unwrap();
        assert_eq!(tc.iter().map(|x| x.2).sum::<usize>(), 27);
        assert!(Shard::parse("1/4").is_ok());
        for bad in ["4/4", "a/2", "1", "0/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sharded_resumable_build_equals_one_build() {
        let cfg = tiny();
        let dir = tempfile::tempdir().unwrap();
        let n = cfg.classes().unwrap().len();
        let plan = |shard| BuildPlan { shard, limit: None, progress: false, seeds: &[0, 1] };
        let whole = Table::build(&cfg, plan(Shard::ALL), &dir.path().join("all.json"), Device::Cpu).unwrap();
        assert_eq!(whole.entries.len(), n);
        // Shard 0/2 built in two sittings (limit, then resume), shard 1/2 at once, then merged.
        let p0 = dir.path().join("s0.json");
        let first = Table::build(
            &cfg,
            BuildPlan { limit: Some(1), ..plan(Shard { index: 0, count: 2 }) },
            &p0,
            Device::Cpu,
        )
        .unwrap();
        assert_eq!(first.entries.len(), 1);
        let s0 = Table::build(&cfg, plan(Shard { index: 0, count: 2 }), &p0, Device::Cpu).unwrap();
        let s1 =
            Table::build(&cfg, plan(Shard { index: 1, count: 2 }), &dir.path().join("s1.json"), Device::Cpu)
                .unwrap();
        let merged = Table::merge(vec![s0, s1]).unwrap();
        assert_eq!(merged.entries.len(), n);
        for (k, e) in &whole.entries {
            let m = &merged.entries[k];
            assert_eq!(m.multiplicity, e.multiplicity);
            for (s, r) in &e.runs {
                assert_eq!(m.runs[s].test_acc, r.test_acc, "{k} seed {s}");
            }
        }
        // A different config at an existing path is refused; a corrupt file is an error.
        let mut other = cfg.clone();
        other.noise = 0.3;
        assert!(Table::build(&other, plan(Shard::ALL), &p0, Device::Cpu).is_err());
        std::fs::write(dir.path().join("bad.json"), "{not json").unwrap();
        assert!(Table::load(&dir.path().join("bad.json")).unwrap_err().to_string().contains("bad.json"));
        let space = cfg.space().unwrap();
        let q = merged.query(&space.decode("|skip_connect~0|+|nor_conv_3x3~0|none~1|").unwrap()).unwrap();
        assert!(q.is_some());
        assert!(merged.query(&Cell(vec![0; 2])).is_err());
        assert!((0.0..=1.0).contains(&merged.random_mean()));
    }

    /// Two builds of different shards writing one file at the same time: each save merges the
    /// runs already on disk under the lock, so the file ends with every class of both.
    #[test]
    fn concurrent_builds_on_one_file_lose_no_runs() {
        let cfg = tiny();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.json");
        let n = cfg.classes().unwrap().len();
        std::thread::scope(|s| {
            for index in 0..2 {
                let (cfg, path) = (&cfg, &path);
                s.spawn(move || {
                    let plan = BuildPlan {
                        shard: Shard { index, count: 2 },
                        limit: None,
                        progress: false,
                        seeds: &[0],
                    };
                    Table::build(cfg, plan, path, Device::Cpu).unwrap();
                });
            }
        });
        let t = Table::load(&path).unwrap();
        assert_eq!(t.entries.len(), n);
        assert!(t.entries.values().all(|e| e.runs.contains_key(&0)));
    }

    /// A table file edited by hand is checked entry by entry.
    #[test]
    fn a_tampered_table_file_is_an_error_naming_the_entry() {
        let cfg = tiny();
        let space = cfg.space().unwrap();
        let cell = space.decode("|skip_connect~0|+|nor_conv_3x3~0|none~1|").unwrap();
        let key = space.canonical(&cell);
        let run = Run { val_acc: 0.5, test_acc: 0.5, train_loss: 1.0, seconds: 1.0 };
        let mut t = Table::new(cfg);
        t.entries.insert(
            key.clone(),
            Entry { cell: space.encode(&cell), multiplicity: 1, runs: BTreeMap::from([(0, run.clone())]) },
        );
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(Table::parse(&text, "t.json").unwrap(), t);
        let edit = |f: &dyn Fn(&mut Table)| {
            let mut bad = t.clone();
            f(&mut bad);
            Table::parse(&serde_json::to_string(&bad).unwrap(), "t.json").unwrap_err().to_string()
        };
        let e = edit(&|b| b.entries.get_mut(&key).unwrap().runs.get_mut(&0).unwrap().test_acc = 1.5);
        assert!(e.contains("t.json") && e.contains("seed 0"), "{e}");
        let e = edit(&|b| b.entries.get_mut(&key).unwrap().cell = "|nor_conv_3x3~0|+|none~0|none~1|".into());
        assert!(e.contains("canonical"), "{e}");
        let e = edit(&|b| b.entries.get_mut(&key).unwrap().cell = "|conv9~0|".into());
        assert!(e.contains("t.json"), "{e}");
        let e = edit(&|b| b.entries.get_mut(&key).unwrap().multiplicity = 0);
        assert!(e.contains("multiplicity"), "{e}");
    }
}
