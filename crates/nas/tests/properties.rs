//! Property tests: the architecture-string decoders (NAS-Bench-201 cells, DARTS genotypes), the
//! table and shard parsers and the CIFAR-10 decoder take arbitrary text and bytes and return `Ok`
//! or a clear `Err` — never a panic. Decoded architectures round-trip through their encoders.
//!
//! `PROPTEST_CASES` sets the number of cases per property (default 256).

use nas::darts_space::DartsSpace;
use nas::data::{decode_cifar10, CIFAR_RECORD};
use nas::space::{Cell, CellSpace, SearchSpace};
use nas::table::{Shard, Table};
use proptest::prelude::*;

/// NB201-like strings: the right punctuation and op names, in any order and count.
fn nb201_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("|".to_string()),
        Just("+".to_string()),
        Just("~".to_string()),
        Just("none".to_string()),
        Just("skip_connect".to_string()),
        Just("nor_conv_3x3".to_string()),
        Just("avg_pool_3x3".to_string()),
        (0u32..5).prop_map(|i| i.to_string()),
        Just("99999999999999999999".to_string()),
        "[ -~]{0,3}",
    ];
    proptest::collection::vec(token, 0..30).prop_map(|t| t.concat())
}

/// DARTS-like genotype strings: brackets, parentheses, op names and input indices.
fn darts_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[".to_string()),
        Just("]".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just("normal=".to_string()),
        Just("reduce=".to_string()),
        Just(";".to_string()),
        Just("sep_conv_3x3".to_string()),
        Just("skip_connect".to_string()),
        Just("max_pool_3x3".to_string()),
        (0u32..7).prop_map(|i| i.to_string()),
        "[ -~]{0,3}",
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #[test]
    fn nb201_decoder_is_total_and_round_trips(s in prop_oneof![nb201_like(), "\\PC{0,60}"]) {
        let space = CellSpace::nb201();
        if let Ok(cell) = space.decode(&s) {
            prop_assert!(space.check(&cell).is_ok());
            prop_assert_eq!(space.decode(&space.encode(&cell)).unwrap(), cell);
        }
    }

    #[test]
    fn nb201_encoding_round_trips_every_cell(ops in proptest::collection::vec(0usize..5, 6)) {
        let space = CellSpace::nb201();
        let cell = Cell(ops);
        prop_assert_eq!(space.decode(&space.encode(&cell)).unwrap(), cell);
    }

    #[test]
    fn darts_decoder_is_total_and_round_trips(s in prop_oneof![darts_like(), "\\PC{0,80}"]) {
        let space = DartsSpace::default();
        if let Ok(g) = space.decode(&s) {
            prop_assert!(g.check().is_ok());
            prop_assert_eq!(space.decode(&space.encode(&g)).unwrap(), g);
        }
    }

    #[test]
    fn darts_random_genotypes_round_trip(seed in any::<u64>()) {
        let space = DartsSpace::default();
        let g = space.sample(&mut core_tensor::seed::rng(seed));
        prop_assert_eq!(space.decode(&space.encode(&g)).unwrap(), g);
    }

    #[test]
    fn table_and_shard_parsers_are_total(s in "\\PC{0,200}", shard in "[0-9/ a-z]{0,8}") {
        let _ = Table::parse(&s, "t.json");
        if let Ok(sh) = Shard::parse(&shard) {
            prop_assert!(sh.index < sh.count);
        }
    }

    #[test]
    fn cifar10_decoder_is_total(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (1usize..3).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * CIFAR_RECORD)),
    ]) {
        match decode_cifar10(&bytes) {
            Ok((x, y)) => {
                prop_assert_eq!(x.size(), vec![(bytes.len() / CIFAR_RECORD) as i64, 3, 32, 32]);
                prop_assert_eq!(y.size(), vec![(bytes.len() / CIFAR_RECORD) as i64]);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
