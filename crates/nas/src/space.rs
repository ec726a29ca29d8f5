//! Search spaces: the [`SearchSpace`] abstraction and the NAS-Bench-201-style cell space.
//!
//! A [`CellSpace`] cell is a DAG on `n` nodes (node 0 = input, node `n−1` = output); every edge
//! `i → j` (`i < j`) carries one operation from the space's op list, and node `j` sums its incoming
//! edges. With NAS-Bench-201's 4 nodes and 5 ops there are `5⁶ = 15,625` cells.
//!
//! String form (NAS-Bench-201): nodes `1..n` in order, each `|op~i|op~i'|…|` listing its inputs
//! `i = 0..j−1`, joined by `+`: `|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|…|`.
//!
//! Isomorphism: two cells compute the same function (up to weight sharing) when their canonical
//! strings agree. The canonical string is built node by node: a `none` edge (or an edge from a
//! node that is identically zero) contributes `#`, a `skip_connect` edge contributes the source
//! node's string, any other op contributes `(src)@op`; a node's string is the sorted `+`-join of
//! its contributions. This is NAS-Bench-201's own rule; it counts 6,466 unique cells in the
//! standard space (test).

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;

use rand::Rng;

use crate::{Error, Result};

/// A search space over architectures of type [`SearchSpace::Arch`].
pub trait SearchSpace {
    /// An architecture.
    type Arch: Clone + Eq + Hash + Debug;

    /// A uniformly random architecture.
    fn sample(&self, rng: &mut dyn rand::RngCore) -> Self::Arch;

    /// Every architecture, when the space is finite and small enough to list.
    fn enumerate(&self) -> Option<Vec<Self::Arch>>;

    /// All architectures that differ from `a` in exactly one decision.
    fn neighbours(&self, a: &Self::Arch) -> Vec<Self::Arch>;

    /// A uniformly random neighbour of `a` (one decision changed).
    fn mutate(&self, a: &Self::Arch, rng: &mut dyn rand::RngCore) -> Self::Arch {
        let n = self.neighbours(a);
        if n.is_empty() {
            return a.clone();
        }
        n[rng.gen_range(0..n.len())].clone()
    }

    /// The string form of `a`.
    fn encode(&self, a: &Self::Arch) -> String;

    /// Parses the string form.
    ///
    /// # Errors
    /// A malformed string or an unknown operation name, naming the offending part.
    fn decode(&self, s: &str) -> Result<Self::Arch>;

    /// A key equal for isomorphic architectures and different otherwise.
    fn canonical(&self, a: &Self::Arch) -> String;
}

/// NAS-Bench-201's operation names.
pub const NB201_OPS: [&str; 5] = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"];

/// A cell space with `nodes` nodes and the given op names (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellSpace {
    nodes: usize,
    ops: Vec<String>,
}

/// A cell: the op index of every edge, in the order `(0→1), (0→2), (1→2), (0→3), (1→3), (2→3), …`
/// (node by node, sources ascending — the string order).
///
/// A deserialised cell must have `n(n−1)/2` edges for some `n ≥ 2` (1, 3, 6, 10, …); its op
/// indices are checked against a space by [`CellSpace::check`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<usize>")]
pub struct Cell(pub Vec<usize>);

impl TryFrom<Vec<usize>> for Cell {
    type Error = Error;
    fn try_from(edges: Vec<usize>) -> Result<Self> {
        // n(n−1)/2 = e  ⇔  n = (1 + √(1 + 8e)) / 2; the node count is at most e + 1
        let e = edges.len();
        let triangular = (2..=e + 1).map(|n| n * (n - 1) / 2).take_while(|&m| m <= e).any(|m| m == e);
        if !triangular {
            return Err(Error::invalid(
                "cell",
                format!("{e} edges"),
                "a cell on n ≥ 2 nodes has n(n−1)/2 edges",
            ));
        }
        Ok(Cell(edges))
    }
}

impl CellSpace {
    /// A space of `nodes ≥ 2` nodes over distinct, non-empty op names (`none` and `skip_connect`
    /// get their special meaning when present).
    ///
    /// # Errors
    /// Fewer than 2 nodes, no ops, empty or repeated names, or names containing `|`, `~` or `+`.
    pub fn new(nodes: usize, ops: &[&str]) -> Result<Self> {
        if nodes < 2 {
            return Err(Error::invalid("nodes", nodes, "a cell needs at least an input and an output node"));
        }
        if ops.is_empty() {
            return Err(Error::invalid("ops", "[]", "need at least one operation"));
        }
        let mut seen = HashSet::new();
        for op in ops {
            if op.is_empty() || op.contains(['|', '~', '+']) {
                return Err(Error::invalid(
                    "ops",
                    format!("{op:?}"),
                    "names must be non-empty without '|', '~' or '+'",
                ));
            }
            if !seen.insert(*op) {
                return Err(Error::invalid("ops", format!("{op:?}"), "repeated operation name"));
            }
        }
        Ok(CellSpace { nodes, ops: ops.iter().map(|s| s.to_string()).collect() })
    }

    /// NAS-Bench-201: 4 nodes, its 5 ops.
    pub fn nb201() -> Self {
        CellSpace::new(4, &NB201_OPS).expect("valid NB201 space")
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The op names.
    pub fn ops(&self) -> &[String] {
        &self.ops
    }

    /// Number of edges `n(n−1)/2`.
    pub fn num_edges(&self) -> usize {
        self.nodes * (self.nodes - 1) / 2
    }

    /// The edges `(from, to)` in cell order.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        (1..self.nodes).flat_map(|j| (0..j).map(move |i| (i, j))).collect()
    }

    /// Number of cells `|ops|^edges` (saturating).
    pub fn size(&self) -> u128 {
        (self.ops.len() as u128).saturating_pow(self.num_edges() as u32)
    }

    /// Index of op `name`.
    ///
    /// # Errors
    /// An unknown name, listing the known ones.
    pub fn op_index(&self, name: &str) -> Result<usize> {
        self.ops.iter().position(|o| o == name).ok_or_else(|| {
            Error::invalid("op", format!("{name:?}"), format!("unknown operation; known: {:?}", self.ops))
        })
    }

    /// Checks that `c` has one valid op per edge.
    ///
    /// # Errors
    /// Wrong length or an op index out of range.
    pub fn check(&self, c: &Cell) -> Result<()> {
        if c.0.len() != self.num_edges() {
            return Err(Error::invalid(
                "cell",
                format!("{:?}", c.0),
                format!("expected {} edges", self.num_edges()),
            ));
        }
        if let Some(o) = c.0.iter().find(|o| **o >= self.ops.len()) {
            return Err(Error::invalid("cell", o, format!("op index must be < {}", self.ops.len())));
        }
        Ok(())
    }

    /// Whether the output is connected to the input by a path of non-`none` edges.
    pub fn is_connected(&self, c: &Cell) -> bool {
        let none = self.ops.iter().position(|o| o == "none");
        let mut reach = vec![false; self.nodes];
        reach[0] = true;
        for (e, (i, j)) in self.edges().into_iter().enumerate() {
            if reach[i] && Some(c.0[e]) != none {
                reach[j] = true;
            }
        }
        reach[self.nodes - 1]
    }

    /// The canonical string (module docs); `consider_zero = false` treats `none` as an ordinary op.
    pub fn canonical_with(&self, c: &Cell, consider_zero: bool) -> String {
        let mut node_str: Vec<String> = vec!["0".to_string()];
        let mut e = 0;
        for _j in 1..self.nodes {
            let mut parts = Vec::with_capacity(node_str.len());
            for src in node_str.iter() {
                let op = &self.ops[c.0[e]];
                e += 1;
                let part = if consider_zero && (op == "none" || src == "#") {
                    "#".to_string()
                } else if op == "skip_connect" {
                    src.clone()
                } else {
                    format!("({src})@{op}")
                };
                parts.push(part);
            }
            parts.sort();
            node_str.push(parts.join("+"));
        }
        node_str.pop().unwrap_or_default()
    }
}

impl SearchSpace for CellSpace {
    type Arch = Cell;

    fn sample(&self, rng: &mut dyn rand::RngCore) -> Cell {
        Cell((0..self.num_edges()).map(|_| rng.gen_range(0..self.ops.len())).collect())
    }

    fn enumerate(&self) -> Option<Vec<Cell>> {
        let total = self.size();
        if total > 10_000_000 {
            return None;
        }
        let (k, m) = (self.ops.len(), self.num_edges());
        Some(
            (0..total as usize)
                .map(|mut idx| {
                    // Last edge varies fastest.
                    let mut v = vec![0; m];
                    for slot in v.iter_mut().rev() {
                        *slot = idx % k;
                        idx /= k;
                    }
                    Cell(v)
                })
                .collect(),
        )
    }

    fn neighbours(&self, a: &Cell) -> Vec<Cell> {
        let mut out = Vec::new();
        for e in 0..a.0.len() {
            for o in 0..self.ops.len() {
                if o != a.0[e] {
                    let mut c = a.clone();
                    c.0[e] = o;
                    out.push(c);
                }
            }
        }
        out
    }

    fn encode(&self, a: &Cell) -> String {
        let mut e = 0;
        (1..self.nodes)
            .map(|j| {
                let parts: Vec<String> = (0..j)
                    .map(|i| {
                        let s = format!("{}~{i}", self.ops[a.0[e]]);
                        e += 1;
                        s
                    })
                    .collect();
                format!("|{}|", parts.join("|"))
            })
            .collect::<Vec<_>>()
            .join("+")
    }

    fn decode(&self, s: &str) -> Result<Cell> {
        let nodes: Vec<&str> = s.split('+').collect();
        if nodes.len() != self.nodes - 1 {
            return Err(Error::invalid(
                "cell string",
                format!("{s:?}"),
                format!("expected {} '+'-separated nodes", self.nodes - 1),
            ));
        }
        let mut ops = Vec::with_capacity(self.num_edges());
        for (j0, node) in nodes.iter().enumerate() {
            let j = j0 + 1;
            let inner = node.strip_prefix('|').and_then(|n| n.strip_suffix('|')).ok_or_else(|| {
                Error::invalid("cell string", format!("{node:?}"), "each node must look like |op~i|op~i|")
            })?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != j {
                return Err(Error::invalid(
                    format!("node {j}"),
                    format!("{node:?}"),
                    format!("expected {j} inputs"),
                ));
            }
            for (i, edge) in edges.iter().enumerate() {
                let (op, src) = edge.split_once('~').ok_or_else(|| {
                    Error::invalid(format!("node {j}"), format!("{edge:?}"), "an edge must be op~source")
                })?;
                let src: usize = src.parse().map_err(|_| {
                    Error::invalid(
                        format!("node {j}"),
                        format!("{edge:?}"),
                        "the source must be a node index",
                    )
                })?;
                if src != i {
                    return Err(Error::invalid(
                        format!("node {j}"),
                        format!("{edge:?}"),
                        format!("expected source {i} here"),
                    ));
                }
                ops.push(self.op_index(op)?);
            }
        }
        Ok(Cell(ops))
    }

    fn canonical(&self, a: &Cell) -> String {
        self.canonical_with(a, true)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn deserialised_cells_need_a_triangular_edge_count() {
        for ok in ["[0]", "[0,1,2]", "[1,1,1,1,1,1]"] {
            assert!(serde_json::from_str::<super::Cell>(ok).is_ok(), "{ok}");
        }
        for bad in ["[]", "[0,1]", "[0,0,0,0]", "[0,0,0,0,0,0,0]"] {
            let e = serde_json::from_str::<super::Cell>(bad).unwrap_err().to_string();
            assert!(e.contains("n(n−1)/2"), "{bad}: {e}");
        }
    }

    use super::*;
    use rand::SeedableRng;

    #[test]
    fn nb201_counts() {
        let s = CellSpace::nb201();
        let all = s.enumerate().unwrap();
        assert_eq!(all.len(), 15_625);
        let unique: HashSet<String> = all.iter().map(|c| s.canonical(c)).collect();
        assert_eq!(unique.len(), 6_466);
        let connected = all.iter().filter(|c| s.is_connected(c)).count();
        assert!(connected < 15_625 && connected > 6_000);
    }

    #[test]
    fn encoding_round_trips() {
        let s = CellSpace::nb201();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for _ in 0..200 {
            let c = s.sample(&mut rng);
            assert_eq!(s.decode(&s.encode(&c)).unwrap(), c);
        }
        let text =
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
        assert_eq!(s.encode(&s.decode(text).unwrap()), text);
    }

    #[test]
    fn malformed_strings_and_unknown_ops_are_errors() {
        let s = CellSpace::nb201();
        let e = s.decode("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|").unwrap_err().to_string();
        assert!(e.contains("conv_5x5") && e.contains("nor_conv_3x3"), "{e}");
        assert!(s.decode("|none~0|+|none~0|none~1|").is_err());
        assert!(s.decode("none~0+|none~0|none~1|+|none~0|none~1|none~2|").is_err());
        assert!(s.decode("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|").is_err());
        assert!(s.decode("|none~x|+|none~0|none~1|+|none~0|none~1|none~2|").is_err());
        assert!(CellSpace::new(4, &["a", "a"]).is_err());
        assert!(CellSpace::new(1, &["a"]).is_err());
    }

    #[test]
    fn isomorphism_examples() {
        let s = CellSpace::nb201();
        let d = |t: &str| s.decode(t).unwrap();
        // Operations applied to an identically-zero node do not matter.
        let a = d("|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|");
        let b = d("|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|");
        assert_eq!(s.canonical(&a), s.canonical(&b));
        // The order of the summands at a node does not matter.
        let c = d("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|");
        let e = d("|nor_conv_1x1~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|");
        assert_eq!(s.canonical(&c), s.canonical(&e));
        assert_ne!(s.canonical(&a), s.canonical(&c));
        let f = d("|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|");
        assert_ne!(s.canonical(&c), s.canonical(&f));
        assert!(!s.canonical_with(&a, false).contains('#'));
    }

    #[test]
    fn neighbours_and_mutation() {
        let s = CellSpace::nb201();
        let c = Cell(vec![0, 1, 2, 3, 4, 0]);
        let n = s.neighbours(&c);
        assert_eq!(n.len(), 6 * 4);
        assert!(n.iter().all(|x| x.0.iter().zip(&c.0).filter(|(a, b)| a != b).count() == 1));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let m = s.mutate(&c, &mut rng);
        assert!(n.contains(&m));
        let small = CellSpace::new(4, &["none", "skip_connect", "nor_conv_3x3"]).unwrap();
        assert_eq!(small.enumerate().unwrap().len(), 729);
    }
}
