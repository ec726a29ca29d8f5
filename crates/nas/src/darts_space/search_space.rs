//! The DARTS search space ([`DartsSpace`]): validation, sampling, neighbours and the string forms.

use std::collections::HashSet;

use rand::Rng;

use super::genotype::{CellGenotype, DartsOp, Genotype, EDGES, STEPS};
use crate::space::SearchSpace;
use crate::{Error, Result};

/// The DARTS search space over a subset of [`DartsOp`] (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DartsSpace {
    ops: Vec<DartsOp>,
}

impl Default for DartsSpace {
    /// All eight DARTS operations.
    fn default() -> Self {
        DartsSpace { ops: DartsOp::ALL.to_vec() }
    }
}

impl DartsSpace {
    /// A space whose edges choose among `ops`.
    ///
    /// # Errors
    /// No ops or a repeated op.
    pub fn new(ops: &[DartsOp]) -> Result<Self> {
        if ops.is_empty() {
            return Err(Error::invalid("ops", "[]", "need at least one operation"));
        }
        let mut seen = HashSet::new();
        for o in ops {
            if !seen.insert(*o) {
                return Err(Error::invalid("ops", o, "repeated operation"));
            }
        }
        Ok(DartsSpace { ops: ops.to_vec() })
    }

    /// The operations.
    pub fn ops(&self) -> &[DartsOp] {
        &self.ops
    }

    /// Number of genotypes `(2880 · |ops|⁸)²` (ordered edge pairs; saturating).
    pub fn size(&self) -> u128 {
        let inputs: u128 = (0..STEPS as u128).map(|j| (j + 2) * (j + 1)).product();
        let cell = inputs.saturating_mul((self.ops.len() as u128).saturating_pow(EDGES as u32));
        cell.saturating_mul(cell)
    }

    /// Checks that `g` is a valid genotype over this space's ops.
    ///
    /// # Errors
    /// Invalid inputs or an op outside the space.
    pub fn check(&self, g: &Genotype) -> Result<()> {
        g.check()?;
        for (name, c) in [("normal", &g.normal), ("reduce", &g.reduce)] {
            if let Some((o, _)) = c.0.iter().find(|(o, _)| !self.ops.contains(o)) {
                return Err(Error::invalid(
                    name,
                    o,
                    format!("operation outside the space; known: {:?}", self.op_names()),
                ));
            }
        }
        Ok(())
    }

    fn op_names(&self) -> Vec<&'static str> {
        self.ops.iter().map(|o| o.name()).collect()
    }

    fn sample_cell(&self, rng: &mut dyn rand::RngCore) -> CellGenotype {
        let mut edges = [(DartsOp::None, 0); EDGES];
        for j in 0..STEPS {
            let a = rng.gen_range(0..j + 2);
            let mut b = rng.gen_range(0..j + 1);
            if b >= a {
                b += 1;
            }
            edges[2 * j] = (self.ops[rng.gen_range(0..self.ops.len())], a);
            edges[2 * j + 1] = (self.ops[rng.gen_range(0..self.ops.len())], b);
        }
        CellGenotype(edges)
    }

    fn cell_neighbours(&self, c: &CellGenotype) -> Vec<CellGenotype> {
        let mut out = Vec::new();
        for e in 0..EDGES {
            let (op, input) = c.0[e];
            let sibling = c.0[e ^ 1].1;
            for &o in &self.ops {
                if o != op {
                    let mut n = c.clone();
                    n.0[e].0 = o;
                    out.push(n);
                }
            }
            for i in 0..e / 2 + 2 {
                if i != input && i != sibling {
                    let mut n = c.clone();
                    n.0[e].1 = i;
                    out.push(n);
                }
            }
        }
        out
    }
}

impl SearchSpace for DartsSpace {
    type Arch = Genotype;

    fn sample(&self, rng: &mut dyn rand::RngCore) -> Genotype {
        let normal = self.sample_cell(rng);
        let reduce = self.sample_cell(rng);
        Genotype { normal, reduce }
    }

    /// `None`: the space holds about 2·10²¹ genotypes.
    fn enumerate(&self) -> Option<Vec<Genotype>> {
        None
    }

    /// One op or one input changed (keeping the node's inputs distinct): `2 · (8 (|ops| − 1) + 12)`
    /// neighbours.
    fn neighbours(&self, a: &Genotype) -> Vec<Genotype> {
        let mut out: Vec<Genotype> = self
            .cell_neighbours(&a.normal)
            .into_iter()
            .map(|normal| Genotype { normal, reduce: a.reduce.clone() })
            .collect();
        out.extend(
            self.cell_neighbours(&a.reduce)
                .into_iter()
                .map(|reduce| Genotype { normal: a.normal.clone(), reduce }),
        );
        out
    }

    fn encode(&self, a: &Genotype) -> String {
        format!("normal={};reduce={}", a.normal.encode(), a.reduce.encode())
    }

    fn decode(&self, s: &str) -> Result<Genotype> {
        let clean: String = s.chars().filter(|c| !c.is_whitespace() && *c != '\'' && *c != '"').collect();
        let parts: Vec<&str> = clean.split(';').collect();
        if parts.len() != 2 {
            return Err(Error::invalid(
                "genotype string",
                format!("{s:?}"),
                "expected normal=[…];reduce=[…] (two ';'-separated cells)",
            ));
        }
        let mut normal = None;
        let mut reduce = None;
        for part in parts {
            let (name, body) = part.split_once('=').ok_or_else(|| {
                Error::invalid("genotype string", format!("{part:?}"), "each cell must be name=[…]")
            })?;
            let slot = match name {
                "normal" => &mut normal,
                "reduce" => &mut reduce,
                other => {
                    return Err(Error::invalid(
                        "cell name",
                        format!("{other:?}"),
                        "expected \"normal\" or \"reduce\"",
                    ))
                }
            };
            if slot.is_some() {
                return Err(Error::invalid("cell name", format!("{name:?}"), "given twice"));
            }
            *slot = Some(CellGenotype::decode(name, body)?);
        }
        let g = Genotype {
            normal: normal
                .ok_or_else(|| Error::invalid("genotype string", format!("{s:?}"), "no normal cell"))?,
            reduce: reduce
                .ok_or_else(|| Error::invalid("genotype string", format!("{s:?}"), "no reduce cell"))?,
        };
        self.check(&g)?;
        Ok(g)
    }

    fn canonical(&self, a: &Genotype) -> String {
        let [n, r] = a.cells();
        format!("normal={};reduce={}", n.canonical(), r.canonical())
    }
}
