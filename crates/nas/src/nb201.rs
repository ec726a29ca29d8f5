//! NAS-Bench-201 results (Dong & Yang 2020) read from a CSV export of the official benchmark file.
//!
//! The benchmark ships as a PyTorch pickle that only its Python API reads; `scripts/export_nb201.py`
//! (run by the user next to their copy, with the `nas-bench-201` package) writes one row per
//! architecture, dataset and training schedule, averaged over the benchmark's seeds:
//!
//! ```text
//! arch_index,arch,dataset,hp,valid_acc,test_acc,train_acc,params_mb,flops_m
//! 0,|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|,cifar10-valid,200,84.89,84.44,99.99,0.4,0.9
//! ```
//!
//! - `arch`: the standard string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` over the five NB201 ops
//!   ([`CellSpace::nb201`]); node `j`'s group lists its inputs `0 … j − 1`.
//! - `dataset`: `cifar10-valid`, `cifar10`, `cifar100` or `ImageNet16-120` (the API's keys);
//!   `hp`: `12` or `200` (epochs of the schedule).
//! - Accuracies in percent as the API reports them; `valid_acc` is empty where the dataset has no
//!   validation split (`cifar10` trains on train + valid), `train_acc`, `params_mb` (MB of
//!   parameters) and `flops_m` (MFLOPs) may be empty.
//!
//! [`Nb201`] answers queries by string or by [`Cell`] and hands the searches and proxies of this
//! crate an objective ([`Nb201::objective`]) and the accuracy of every architecture of a dataset
//! ([`Nb201::accuracies`]), so they can be scored against the real benchmark.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::space::{Cell, CellSpace, SearchSpace};
use crate::{Error, Result};

/// The CSV columns, in order.
pub const NB201_COLUMNS: [&str; 9] =
    ["arch_index", "arch", "dataset", "hp", "valid_acc", "test_acc", "train_acc", "params_mb", "flops_m"];

/// The datasets of the benchmark, as its API names them.
pub const NB201_DATASETS: [&str; 4] = ["cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"];

/// One architecture on one dataset under one schedule (seed mean).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nb201Record {
    /// Index in the benchmark (0 … 15 624).
    pub index: usize,
    /// The architecture string.
    pub arch: String,
    /// Validation accuracy, % (none for `cifar10`).
    pub valid_acc: Option<f64>,
    /// Test accuracy, %.
    pub test_acc: f64,
    /// Final training accuracy, %.
    pub train_acc: Option<f64>,
    /// Parameters, MB.
    pub params_mb: Option<f64>,
    /// FLOPs, millions.
    pub flops_m: Option<f64>,
}

/// The benchmark's records by `(dataset, hp)` and architecture string.
#[derive(Debug, Clone)]
pub struct Nb201 {
    space: CellSpace,
    records: BTreeMap<(String, String), BTreeMap<String, Nb201Record>>,
}

fn parse_acc(field: &str, name: &str, line: usize, optional: bool) -> Result<Option<f64>> {
    let f = field.trim();
    if f.is_empty() {
        return if optional {
            Ok(None)
        } else {
            Err(Error::invalid(name, format!("line {line}: empty"), "a value is required"))
        };
    }
    let v: f64 =
        f.parse().map_err(|_| Error::invalid(name, format!("line {line}: {f:?}"), "not a number"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(Error::invalid(name, format!("line {line}: {v}"), "must be finite and ≥ 0"));
    }
    if name.ends_with("_acc") && v > 100.0 {
        return Err(Error::invalid(name, format!("line {line}: {v}"), "accuracies are percentages (≤ 100)"));
    }
    Ok(Some(v))
}

impl Nb201 {
    /// Parses a CSV export (module docs); `source` names it in errors.
    ///
    /// # Errors
    /// A wrong header, a row with the wrong number of fields, a malformed architecture string, an
    /// unknown dataset or schedule, a bad number, or an architecture listed twice for one dataset and
    /// schedule.
    pub fn parse_csv(text: &str, source: &str) -> Result<Self> {
        let space = CellSpace::nb201();
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let header = lines.next().map(|(_, l)| l.trim()).unwrap_or_default();
        let want = NB201_COLUMNS.join(",");
        if header != want {
            return Err(Error::invalid(source, format!("header {header:?}"), format!("expected {want:?}")));
        }
        let mut records: BTreeMap<(String, String), BTreeMap<String, Nb201Record>> = BTreeMap::new();
        for (i, line) in lines {
            let n = i + 1;
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != NB201_COLUMNS.len() {
                return Err(Error::invalid(
                    source,
                    format!("line {n}: {} fields", f.len()),
                    format!("expected {}", NB201_COLUMNS.len()),
                ));
            }
            let index: usize = f[0]
                .trim()
                .parse()
                .map_err(|_| Error::invalid("arch_index", format!("line {n}: {:?}", f[0]), "not an index"))?;
            let arch = f[1].trim();
            let cell = space
                .decode(arch)
                .map_err(|e| Error::invalid("arch", format!("line {n}: {arch}"), e.to_string()))?;
            let (dataset, hp) = (f[2].trim(), f[3].trim());
            if !NB201_DATASETS.contains(&dataset) {
                return Err(Error::invalid(
                    "dataset",
                    format!("line {n}: {dataset}"),
                    format!("expected one of {NB201_DATASETS:?}"),
                ));
            }
            if hp != "12" && hp != "200" {
                return Err(Error::invalid("hp", format!("line {n}: {hp}"), "expected 12 or 200"));
            }
            let rec = Nb201Record {
                index,
                arch: space.encode(&cell),
                valid_acc: parse_acc(f[4], "valid_acc", n, true)?,
                test_acc: parse_acc(f[5], "test_acc", n, false)?.unwrap_or(0.0),
                train_acc: parse_acc(f[6], "train_acc", n, true)?,
                params_mb: parse_acc(f[7], "params_mb", n, true)?,
                flops_m: parse_acc(f[8], "flops_m", n, true)?,
            };
            let table = records.entry((dataset.to_string(), hp.to_string())).or_default();
            if table.insert(rec.arch.clone(), rec).is_some() {
                return Err(Error::invalid(
                    source,
                    format!("line {n}: {arch} on {dataset}/{hp}"),
                    "listed twice",
                ));
            }
        }
        Ok(Nb201 { space, records })
    }

    /// Reads a CSV export from disk.
    ///
    /// # Errors
    /// An unreadable file, or as [`Nb201::parse_csv`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        let text = std::fs::read_to_string(p)
            .map_err(|e| Error::invalid("path", p.display(), format!("cannot read the NB201 export: {e}")))?;
        Self::parse_csv(&text, &p.display().to_string())
    }

    /// The NB201 cell space (5 ops, 4 nodes).
    pub fn space(&self) -> &CellSpace {
        &self.space
    }

    /// The `(dataset, hp)` pairs present.
    pub fn tables(&self) -> Vec<(String, String)> {
        self.records.keys().cloned().collect()
    }

    /// The record of `arch` (the standard string) on `dataset` under schedule `hp`; `None` when the
    /// export does not hold it.
    ///
    /// # Errors
    /// A malformed architecture string.
    pub fn query(&self, arch: &str, dataset: &str, hp: &str) -> Result<Option<&Nb201Record>> {
        let cell = self.space.decode(arch)?;
        Ok(self.query_cell(&cell, dataset, hp))
    }

    /// The record of a cell of [`CellSpace::nb201`].
    pub fn query_cell(&self, cell: &Cell, dataset: &str, hp: &str) -> Option<&Nb201Record> {
        let key = self.space.encode(cell);
        self.records.get(&(dataset.to_string(), hp.to_string()))?.get(&key)
    }

    /// Every architecture of a table with its record, in string order.
    pub fn accuracies(&self, dataset: &str, hp: &str) -> Vec<(Cell, &Nb201Record)> {
        self.records
            .get(&(dataset.to_string(), hp.to_string()))
            .map(|t| t.values().filter_map(|r| Some((self.space.decode(&r.arch).ok()?, r))).collect())
            .unwrap_or_default()
    }

    /// A search objective: the validation accuracy (%) of a cell on `dataset` under `hp` (the test
    /// accuracy where the dataset has no validation split).
    ///
    /// # Errors
    /// (of the objective) A cell the export does not hold.
    pub fn objective<'a>(&'a self, dataset: &'a str, hp: &'a str) -> impl Fn(&Cell) -> Result<f64> + 'a {
        move |c: &Cell| {
            self.query_cell(c, dataset, hp).map(|r| r.valid_acc.unwrap_or(r.test_acc)).ok_or_else(|| {
                Error::invalid(
                    "cell",
                    self.space.encode(c),
                    format!("not in the NB201 export for {dataset}/{hp}"),
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    const B: &str =
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";

    fn file() -> String {
        format!(
            "{}\n0,{B},cifar10-valid,200,84.89,84.44,99.99,0.4,0.9\n1,{A},cifar10-valid,200,91.55,94.37,100,1.5,220.1\n\
             1,{A},cifar10,200,,94.37,,1.5,220.1\n1,{A},cifar100,12,60.1,59.9,,,\n",
            NB201_COLUMNS.join(",")
        )
    }

    #[test]
    fn queries_by_string_and_by_cell() {
        let nb = Nb201::parse_csv(&file(), "test.csv").unwrap();
        assert_eq!(nb.tables().len(), 3);
        let r = nb.query(A, "cifar10-valid", "200").unwrap().unwrap();
        assert_eq!((r.index, r.valid_acc, r.test_acc), (1, Some(91.55), 94.37));
        assert_eq!(nb.query(A, "cifar10", "200").unwrap().unwrap().valid_acc, None);
        assert!(nb.query(B, "cifar100", "12").unwrap().is_none());
        let cell = nb.space().decode(B).unwrap();
        assert_eq!(nb.query_cell(&cell, "cifar10-valid", "200").unwrap().index, 0);
        let accs = nb.accuracies("cifar10-valid", "200");
        assert_eq!(accs.len(), 2);
        let obj = nb.objective("cifar10-valid", "200");
        assert_eq!(obj(&cell).unwrap(), 84.89);
        let obj10 = nb.objective("cifar10", "200");
        assert_eq!(obj10(&nb.space().decode(A).unwrap()).unwrap(), 94.37);
        assert!(obj10(&cell).unwrap_err().to_string().contains("not in the NB201 export"));
        // the best of the table by the objective is A
        let best = accs.iter().max_by(|a, b| a.1.test_acc.total_cmp(&b.1.test_acc)).unwrap();
        assert_eq!(best.1.arch, A);
        assert!(nb.query("|nor_conv_3x3~0|", "cifar10", "200").is_err());
    }

    #[test]
    fn malformed_exports_are_named_errors() {
        let good = file();
        let header = NB201_COLUMNS.join(",");
        for (bad, what) in [
            (good.replacen("valid_acc", "val_acc", 1), "header"),
            (good.replacen("84.89", "x", 1), "valid_acc"),
            (good.replacen("94.37,100", "194.37,100", 1), "test_acc"),
            (good.replacen("cifar100,12", "svhn,12", 1), "dataset"),
            (good.replacen("cifar100,12", "cifar100,90", 1), "hp"),
            (good.replacen("avg_pool_3x3~0", "max_pool_3x3~0", 1), "arch"),
            (good.replacen(",0.4,0.9", ",0.4", 1), "fields"),
            (format!("{header}\n1,{A},cifar10,200,,94.37,,,\n1,{A},cifar10,200,,94.0,,,\n"), "twice"),
            (format!("{header}\n1,{A},cifar10,200,,,,,\n"), "test_acc"),
            (good.replacen("84.89", "NaN", 1), "valid_acc"),
        ] {
            let e = Nb201::parse_csv(&bad, "x.csv").unwrap_err().to_string();
            assert!(e.contains(what), "{what}: {e}");
        }
        assert!(Nb201::load("/nonexistent/nb201.csv").unwrap_err().to_string().contains("cannot read"));
    }
}
