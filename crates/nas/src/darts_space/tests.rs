//! Unit tests of the DARTS space, its operations and its networks.

use std::collections::HashSet;

use tch::{nn, Device, Kind, Tensor};

use super::ops::{Builder, OpModule};
use super::*;
use crate::space::SearchSpace;

fn space() -> DartsSpace {
    DartsSpace::default()
}

#[test]
fn strings_round_trip_and_parse_the_python_notation() {
    let s = space();
    let mut rng = core_tensor::seed::rng(0);
    for _ in 0..300 {
        let g = s.sample(&mut rng);
        g.check().unwrap();
        assert_eq!(s.decode(&s.encode(&g)).unwrap(), g);
    }
    let py = "normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), \
              ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)]; \
              reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), \
              ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)]";
    assert_eq!(s.decode(py).unwrap(), Genotype::darts_v2());
    let text = s.encode(&Genotype::darts_v2());
    assert!(text.starts_with("normal=[(sep_conv_3x3,0),(sep_conv_3x3,1),"), "{text}");
    // The cells may come in either order.
    let (n, r) = text.split_once(';').unwrap();
    assert_eq!(s.decode(&format!("{r};{n}")).unwrap(), Genotype::darts_v2());
}

#[test]
fn malformed_strings_and_unknown_ops_are_errors() {
    let s = space();
    let good = s.encode(&Genotype::darts_v2());
    let e = s.decode(&good.replace("dil_conv_3x3", "conv_7x7")).unwrap_err().to_string();
    assert!(e.contains("conv_7x7") && e.contains("sep_conv_5x5") && e.contains("pair 7"), "{e}");
    // Node 0 may only read states 0 and 1.
    let e = s.decode(&good.replacen("(sep_conv_3x3,1)", "(sep_conv_3x3,2)", 1)).unwrap_err().to_string();
    assert!(e.contains("node 0"), "{e}");
    // Repeated input at a node.
    let e = s.decode(&good.replacen("(sep_conv_3x3,1)", "(sep_conv_3x3,0)", 1)).unwrap_err().to_string();
    assert!(e.contains("distinct"), "{e}");
    for bad in [
        "",
        "normal=[]",
        &good.replace(";reduce", ";cell"),
        &good.replace("reduce=", "normal="),
        &good.replacen("(sep_conv_3x3,0),", "", 1),
        &good.replacen("(sep_conv_3x3,0)", "(sep_conv_3x3,x)", 1),
        &good.replacen("(sep_conv_3x3,0)", "sep_conv_3x3,0", 1),
        &good.replacen("]", "", 1),
        &format!("{good};normal=[]"),
    ] {
        assert!(s.decode(bad).is_err(), "{bad:?} should not parse");
    }
    // An op outside a restricted space.
    let no_none = DartsSpace::new(&DartsOp::ALL[1..]).unwrap();
    let mut g = Genotype::darts_v2();
    g.normal.0[3].0 = DartsOp::None;
    let e = no_none.decode(&s.encode(&g)).unwrap_err().to_string();
    assert!(e.contains("none") && e.contains("outside"), "{e}");
    assert!(DartsSpace::new(&[]).is_err());
    assert!(DartsSpace::new(&[DartsOp::None, DartsOp::None]).is_err());
    assert!(DartsOp::from_name("sep_conv_7x7").is_err());
}

#[test]
fn canonical_key_ignores_input_order_and_none_inputs() {
    let s = space();
    let mut rng = core_tensor::seed::rng(3);
    for _ in 0..100 {
        let g = s.sample(&mut rng);
        let mut swapped = g.clone();
        for j in 0..STEPS {
            swapped.normal.0.swap(2 * j, 2 * j + 1);
            swapped.reduce.0.swap(2 * j, 2 * j + 1);
        }
        assert_eq!(s.canonical(&g), s.canonical(&swapped));
        // Any single change of a non-`none` edge changes the key.
        for n in s.neighbours(&g) {
            let changed_none_input = [(&g.normal, &n.normal), (&g.reduce, &n.reduce)].iter().any(|(a, b)| {
                a.0.iter()
                    .zip(b.0.iter())
                    .any(|(x, y)| x.0 == DartsOp::None && y.0 == DartsOp::None && x != y)
            });
            assert_eq!(s.canonical(&g) == s.canonical(&n), changed_none_input);
        }
    }
    // Node 1 may read states 0, 1, 2; a `none` edge there contributes zeros whatever it reads.
    let mut a = Genotype::darts_v2();
    a.normal.0[2] = (DartsOp::None, 0);
    let mut b = a.clone();
    b.normal.0[2] = (DartsOp::None, 2);
    b.check().unwrap();
    assert_eq!(s.canonical(&a), s.canonical(&b));
    assert!(s.canonical(&a).contains("(none,*)"));
}

#[test]
fn neighbours_change_one_decision() {
    let s = space();
    let mut rng = core_tensor::seed::rng(5);
    let g = s.sample(&mut rng);
    let n = s.neighbours(&g);
    // Per cell: 8 edges × 7 other ops, plus Σ_edges (j + 2 − 2) other valid inputs = 2·(0+1+2+3).
    assert_eq!(n.len(), 2 * (8 * 7 + 12));
    let diff = |a: &CellGenotype, b: &CellGenotype| {
        a.0.iter().zip(b.0.iter()).map(|(x, y)| (x.0 != y.0) as usize + (x.1 != y.1) as usize).sum::<usize>()
    };
    for x in &n {
        x.check().unwrap();
        assert_eq!(diff(&g.normal, &x.normal) + diff(&g.reduce, &x.reduce), 1);
    }
    assert_eq!(n.iter().collect::<HashSet<_>>().len(), n.len());
    let m = s.mutate(&g, &mut rng);
    assert!(n.contains(&m));
    assert!(s.enumerate().is_none());
    assert_eq!(s.size(), (2880u128 * 8u128.pow(8)).pow(2));
    // Sampling is uniform: node 1 has 3 · 2 = 6 ordered input pairs and |ops| = 8 ops per edge.
    let draws = 6000;
    let mut pairs = std::collections::HashMap::new();
    let mut ops = std::collections::HashMap::new();
    for _ in 0..draws {
        let c = s.sample(&mut rng).reduce;
        *pairs.entry((c.0[2].1, c.0[3].1)).or_insert(0usize) += 1;
        *ops.entry(c.0[5].0).or_insert(0usize) += 1;
    }
    assert_eq!(pairs.len(), 6);
    assert_eq!(ops.len(), 8);
    // Binomial s.d. of a frequency: √(p(1−p)/n) ≤ 0.0048 here; allow 4 s.d.
    assert!(pairs.values().all(|&k| (k as f64 / draws as f64 - 1.0 / 6.0).abs() < 0.02), "{pairs:?}");
    assert!(ops.values().all(|&k| (k as f64 / draws as f64 - 1.0 / 8.0).abs() < 0.018), "{ops:?}");
    // Sampling is deterministic given the seed.
    assert_eq!(s.sample(&mut core_tensor::seed::rng(9)), s.sample(&mut core_tensor::seed::rng(9)));
}

fn builders() -> Vec<Builder> {
    let mut out = Vec::new();
    for variant in [Variant::Standard, Variant::SelfNormalising] {
        for op_set in [OpSet::Darts, OpSet::Sharp { mid_mult: 1.5 }] {
            out.push(Builder { variant, op_set });
        }
    }
    out
}

#[test]
fn every_op_keeps_or_halves_the_spatial_shape() {
    let x = Tensor::randn([2, 4, 8, 8], (Kind::Float, Device::Cpu));
    for b in builders() {
        let vs = nn::VarStore::new(Device::Cpu);
        for op in DartsOp::ALL {
            for (stride, side) in [(1, 8), (2, 4)] {
                let m = OpModule::new(&b, &(vs.root() / format!("{op}{stride}")), op, 4, stride).unwrap();
                let y = m.forward(&b, &x, true);
                assert_eq!(y.size(), vec![2, 4, side, side], "{op} stride {stride} {b:?}");
            }
        }
    }
    // Closed forms for the parameter-free ops.
    let b = builders()[0];
    let vs = nn::VarStore::new(Device::Cpu);
    let run = |op: DartsOp, stride: i64| {
        OpModule::new(&b, &vs.root(), op, 4, stride).unwrap().forward(&b, &x, false)
    };
    assert!(run(DartsOp::SkipConnect, 1).equal(&x));
    assert_eq!(run(DartsOp::None, 2).abs().sum(Kind::Float).double_value(&[]), 0.0);
    // Max pool, stride 2, at output (1, 2): max over rows 1..=3, cols 3..=5.
    let mp = run(DartsOp::MaxPool3x3, 2).double_value(&[1, 2, 1, 2]);
    let window = x.get(1).get(2).narrow(0, 1, 3).narrow(1, 3, 3);
    assert_eq!(mp, window.max().double_value(&[]));
    // Average pool, stride 1, at the corner: the 2×2 valid neighbourhood.
    let ap = run(DartsOp::AvgPool3x3, 1).double_value(&[0, 1, 0, 0]);
    let corner = x.get(0).get(1).narrow(0, 0, 2).narrow(1, 0, 2).mean(Kind::Float).double_value(&[]);
    assert!((ap - corner).abs() < 1e-6);
}

#[test]
fn separable_convolutions_have_the_published_parameter_counts() {
    let count = |b: Builder, op: DartsOp, c: i64| {
        let vs = nn::VarStore::new(Device::Cpu);
        let _m = OpModule::new(&b, &vs.root(), op, c, 1).unwrap();
        vs.trainable_variables().iter().map(|t| t.numel()).sum::<usize>() as i64
    };
    let darts = Builder { variant: Variant::Standard, op_set: OpSet::Darts };
    let c = 6;
    // SepConv: 2 × (k²C depthwise + C² pointwise + 2C BN affine).
    assert_eq!(count(darts, DartsOp::SepConv5x5, c), 2 * (25 * c + c * c + 2 * c));
    // DilConv: k²C + C² + 2C.
    assert_eq!(count(darts, DartsOp::DilConv3x3, c), 9 * c + c * c + 2 * c);
    // FactorizedReduce (stride 2 skip): 2 × C·C/2 + 2C.
    let vs = nn::VarStore::new(Device::Cpu);
    let _fr = OpModule::new(&darts, &vs.root(), DartsOp::SkipConnect, c, 2).unwrap();
    assert_eq!(vs.trainable_variables().iter().map(|t| t.numel()).sum::<usize>() as i64, c * c + 2 * c);
    // SharpSepConv with C_mid = 2C: k²C + C·C_mid + 2C_mid + k²C_mid + C_mid·C + 2C.
    let sharp = Builder { variant: Variant::Standard, op_set: OpSet::Sharp { mid_mult: 2.0 } };
    let m = 2 * c;
    assert_eq!(count(sharp, DartsOp::DilConv3x3, c), 9 * c + c * m + 2 * m + 9 * m + m * c + 2 * c);
    // The self-normalising variant has no BatchNorm parameters.
    let selu = Builder { variant: Variant::SelfNormalising, op_set: OpSet::Darts };
    assert_eq!(count(selu, DartsOp::SepConv3x3, c), 2 * (9 * c + c * c));
}

fn tiny(variant: Variant, op_set: OpSet) -> DartsNetConfig {
    DartsNetConfig { channels: 4, layers: 3, classes: 2, variant, op_set, ..Default::default() }
}

#[test]
fn networks_have_the_right_shapes() {
    let mut rng = core_tensor::seed::rng(11);
    let x = Tensor::randn([3, 3, 8, 8], (Kind::Float, Device::Cpu));
    for b in builders() {
        let vs = nn::VarStore::new(Device::Cpu);
        let g = space().sample(&mut rng);
        let net = DartsNetwork::new(&vs.root(), &g, tiny(b.variant, b.op_set)).unwrap();
        assert_eq!(net.forward_t(&x, true).unwrap().size(), vec![3, 2]);
        // Two reductions: 4 → 8 → 16 channels per node, 4 nodes concatenated.
        assert_eq!(net.features(&x, false).unwrap().size(), vec![3, 4 * 16]);
    }
    let vs = nn::VarStore::new(Device::Cpu);
    let net =
        DartsNetwork::new(&vs.root(), &Genotype::darts_v2(), tiny(Variant::Standard, OpSet::Darts)).unwrap();
    assert_eq!(net.config().reduction_layers(), vec![1, 2]);
    for bad in [[3, 3, 6, 8], [3, 1, 8, 8]] {
        let e = net.forward_t(&Tensor::zeros(bad, (Kind::Float, Device::Cpu)), false).unwrap_err();
        assert!(e.to_string().contains('x'), "{e}");
    }
    assert!(net.forward_t(&Tensor::zeros([8, 8], (Kind::Float, Device::Cpu)), false).is_err());
    for cfg in [
        DartsNetConfig { channels: 0, ..tiny(Variant::Standard, OpSet::Darts) },
        DartsNetConfig { classes: 1, ..tiny(Variant::Standard, OpSet::Darts) },
        DartsNetConfig { drop_path_prob: 1.0, ..tiny(Variant::Standard, OpSet::Darts) },
        tiny(Variant::Standard, OpSet::Sharp { mid_mult: f64::NAN }),
    ] {
        assert!(DartsNetwork::new(&vs.root(), &Genotype::darts_v2(), cfg).is_err(), "{cfg:?}");
    }
    let mut bad = Genotype::darts_v2();
    bad.reduce.0[7].1 = 9;
    let e =
        DartsNetwork::new(&vs.root(), &bad, tiny(Variant::Standard, OpSet::Darts)).unwrap_err().to_string();
    assert!(e.contains("reduce") && e.contains("node 3"), "{e}");
}

#[test]
fn a_few_steps_lower_the_loss_on_a_two_class_task() {
    for (variant, op_set) in
        [(Variant::Standard, OpSet::Darts), (Variant::SelfNormalising, OpSet::Sharp { mid_mult: 1.0 })]
    {
        core_tensor::seed::seed_torch(0);
        let gen = crate::data::ProceduralImages { classes: 2, size: 8, noise: 0.05 };
        let (x, y) = gen.generate(32, &mut core_tensor::seed::rng(1)).unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let mut net = DartsNetwork::new(&vs.root(), &Genotype::darts_v2(), tiny(variant, op_set)).unwrap();
        let mut opt = core_tensor::train::Optimizer::from_var_store(
            core_tensor::train::OptimizerConfig::adam(3e-3),
            &vs,
        )
        .unwrap();
        // Batch statistics in both measurements (running averages lag after a few steps).
        let loss = |net: &DartsNetwork| net.forward_t(&x, true).unwrap().cross_entropy_for_logits(&y);
        let before = tch::no_grad(|| loss(&net).double_value(&[]));
        net.set_drop_path_prob(0.1).unwrap();
        for _ in 0..12 {
            opt.zero_grad();
            loss(&net).backward();
            opt.step().unwrap();
        }
        net.set_drop_path_prob(0.0).unwrap();
        let after = tch::no_grad(|| loss(&net).double_value(&[]));
        assert!(after < 0.8 * before, "{variant:?}: loss {before} → {after}");
    }
}

#[test]
fn selu_variant_self_normalises_through_a_deep_stack() {
    core_tensor::seed::seed_torch(2);
    let selu = Builder { variant: Variant::SelfNormalising, op_set: OpSet::Darts };
    let plain = Builder { variant: Variant::Standard, op_set: OpSet::Darts };
    let vs = nn::VarStore::new(Device::Cpu);
    let depth = 16;
    let stack = |b: &Builder, name: &str| {
        (0..depth)
            .map(|i| {
                OpModule::new(b, &(vs.root() / format!("{name}{i}")), DartsOp::SepConv3x3, 32, 1).unwrap()
            })
            .collect::<Vec<_>>()
    };
    let (s, p) = (stack(&selu, "selu"), stack(&plain, "plain"));
    let x = Tensor::randn([4, 32, 64, 64], (Kind::Float, Device::Cpu));
    let stats = |t: &Tensor| (t.mean(Kind::Float).double_value(&[]), t.var(false).double_value(&[]));
    // Tolerance: per output channel a LeCun-normal depthwise 3×3 kernel has gain χ²₉/9 (relative
    // s.d. √(2/9) ≈ 0.47) and a 32-input pointwise one χ²₃₂/32 (0.25), and zero padding removes
    // ≈ 6 % of the variance per depthwise layer at 64×64. SELU's attracting fixed point (0, 1)
    // undoes these deviations layer by layer, so over 32 SELU layers the statistics stay in a band
    // around (0, 1) (measured: |mean| ≤ 0.02, variance 0.70–1.03) instead of drifting.
    let mut h = x.shallow_clone();
    for (i, m) in s.iter().enumerate() {
        h = m.forward(&selu, &h, false);
        let (mean, var) = stats(&h);
        assert!(mean.abs() < 0.1 && (0.6..1.4).contains(&var), "SELU op {i}: mean {mean}, var {var}");
    }
    // The ReLU version with PyTorch's default initialisation (BatchNorm in evaluation mode is the
    // identity at initialisation) shrinks the variance by ≈ 1/6 per convolution.
    let mut h = x.shallow_clone();
    for m in &p {
        h = m.forward(&plain, &h, false);
    }
    let (_, var_plain) = stats(&h);
    assert!(var_plain < 1e-6, "ReLU stack variance {var_plain}");
}
