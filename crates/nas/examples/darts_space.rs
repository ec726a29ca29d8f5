//! The DARTS search space: sample a genotype, print and parse string forms (including DARTS's
//! published `DARTS_V2` cells), and build small evaluation networks in the standard and the
//! sharpDARTS / self-normalising variants, forwarding a batch of procedural images.
//!
//! `cargo run -p sciml-nas --release --example darts_space`

use nas::darts_space::{DartsNetConfig, DartsNetwork, DartsSpace, Genotype, OpSet, Variant};
use nas::data::ProceduralImages;
use nas::space::SearchSpace;
use tch::nn;

fn main() -> nas::Result<()> {
    let dev = core_tensor::device::device();
    let space = DartsSpace::default();
    println!(
        "DARTS space over {} ops: {} genotypes (normal and reduction cell)",
        space.ops().len(),
        space.size()
    );

    // A random genotype and its string form, which parses back to the same genotype.
    let sampled = space.sample(&mut core_tensor::seed::rng(0));
    let text = space.encode(&sampled);
    println!("sampled:   {text}");
    assert_eq!(space.decode(&text)?, sampled);

    // DARTS's published second-order cells, round-tripped through the string form; the
    // canonical key ignores the order of a node's two edges.
    let v2 = space.decode(&space.encode(&Genotype::darts_v2()))?;
    println!("DARTS_V2:  {}", space.encode(&v2));
    println!("canonical: {}", space.canonical(&v2));
    // The Python notation parses as well.
    let python = "normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), \
                  ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), \
                  ('dil_conv_3x3', 2)];reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), \
                  ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), \
                  ('skip_connect', 2), ('max_pool_3x3', 1)]";
    println!("Python notation parses to DARTS_V2: {}", space.decode(python)? == v2);
    // A malformed string is an error that names the problem.
    if let Err(e) = space.decode("normal=[(sep_conv_9x9,0)];reduce=[]") {
        println!("bad string: {e}");
    }

    // Small evaluation networks (8 channels, 5 cells) on 16×16 procedural images.
    let images = ProceduralImages { classes: 10, size: 16, noise: 0.1 };
    let (x, _) = images.generate(8, &mut core_tensor::seed::rng(1))?;
    let x = x.to_device(dev);
    let small = DartsNetConfig { channels: 8, layers: 5, classes: 10, ..Default::default() };
    let variants = [
        ("standard (ReLU + BN)", small),
        ("sharpDARTS ops", DartsNetConfig { op_set: OpSet::Sharp { mid_mult: 1.0 }, ..small }),
        ("self-normalising (SELU)", DartsNetConfig { variant: Variant::SelfNormalising, ..small }),
    ];
    for (genotype_name, g) in [("DARTS_V2", &v2), ("sampled", &sampled)] {
        for (name, cfg) in variants {
            core_tensor::seed::seed_torch(0);
            let vs = nn::VarStore::new(dev);
            let net = DartsNetwork::new(&vs.root(), g, cfg)?;
            let params: i64 = vs.trainable_variables().iter().map(|v| v.numel() as i64).sum();
            let logits = tch::no_grad(|| net.forward_t(&x, false))?;
            println!(
                "{genotype_name:>8} / {name:<24} {params:>7} parameters, logits {:?}, std {:.3}",
                logits.size(),
                logits.std(false).double_value(&[])
            );
        }
    }
    Ok(())
}
