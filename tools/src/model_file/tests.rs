use super::*;
use mam_core::adaptive::PPB;

fn sample() -> (AdaptiveModel, Meta) {
    let sym = SymbolModel {
        symbol: "EURUSD".into(),
        sample_ns: 60_000_000_000,
        vol: VolParams {
            omega: 12_345,
            alpha_ppb: 51_234_567,
            beta_ppb: 930_000_001,
            initial_var: 9_876_543_210,
        },
        sigma_target: 98_765,
        regime: RegimeModel {
            sigma_ref: 101_010,
            edges: [150, 300, 500, 800, 1200, 1800, 3000],
            trans: [
                [990_000_000, 9_000_000, 1_000_000],
                [5_000_000, 990_000_000, 5_000_000],
                [1_000, 19_999_000, 980_000_000],
            ],
            emit: [
                [
                    300_000_000,
                    200_000_000,
                    200_000_000,
                    150_000_000,
                    100_000_000,
                    49_000_000,
                    999_000,
                    1_000,
                ],
                [125_000_000; BUCKETS],
                [
                    1_000,
                    9_999_000,
                    40_000_000,
                    100_000_000,
                    150_000_000,
                    200_000_000,
                    200_000_000,
                    300_000_000,
                ],
            ],
            switch_ppb: 800_000_000,
        },
    };
    let tight = ClusterParams {
        stressed_margin_level: Ratio::parse("450.5").unwrap(),
        ..ClusterParams::default()
    };
    let model = AdaptiveModel {
        symbols: vec![sym],
        clusters: vec![ClusterParams::default(), tight],
    };
    let meta = Meta {
        created_by: "mam test".into(),
        symbols: vec!["EURUSD".into()],
        bar_files: vec![BarFile {
            name: "HISTDATA_COM_ASCII_EURUSD_M12018.zip".into(),
            bytes: 3_412_112,
        }],
        train_from: "2018-01-01".into(),
        train_to: "2018-02-01".into(),
        test_to: Some("2018-03-01".into()),
        split: "in sample [2018-01-01, 2018-02-01), out of sample [2018-02-01, 2018-03-01)".into(),
        fit: vec![SymbolFit {
            symbol: "EURUSD".into(),
            returns_in: 30_000,
            returns_out: 28_000,
            qlike_ewma_in: 0.7123,
            qlike_garch_in: 0.6987654321,
            qlike_ewma_out: Some(0.75),
            qlike_garch_out: Some(0.7400000000000001),
            chosen: "garch".into(),
            state_share: [0.25, 0.5, 0.25],
            hmm_iterations: 42,
        }],
    };
    model.validate().unwrap();
    let row: u64 = model.symbols[0].regime.emit[0]
        .iter()
        .map(|&x| u64::from(x))
        .sum();
    assert_eq!(row, PPB);
    (model, meta)
}

fn path() -> &'static Path {
    Path::new("m.toml")
}

#[test]
fn round_trip_through_a_file() {
    let (model, meta) = sample();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("model.toml");
    save(&p, &model, &meta).unwrap();
    let (m2, meta2) = load(&p).unwrap();
    assert_eq!(m2, model);
    assert_eq!(meta2, meta);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("format = \"mam-adaptive-model\"\nversion = 1\nchecksum = \""));
    assert!(text.contains("stressed_margin_level = \"450.5\""), "{text}");
    // Saving what was loaded gives the same bytes.
    assert_eq!(to_text(&m2, &meta2).unwrap(), text);
}

#[test]
fn one_flipped_digit_is_refused_by_the_checksum() {
    let (model, meta) = sample();
    let text = to_text(&model, &meta).unwrap();
    let edited = text.replace("omega = 12345", "omega = 12346");
    assert_ne!(edited, text);
    let e = from_text(&edited, path()).unwrap_err();
    assert!(matches!(e, ModelFileError::Checksum { .. }), "{e:?}");
    assert!(e.to_string().contains("m.toml: checksum mismatch"), "{e}");
    let no_sum: String = text
        .lines()
        .filter(|l| !l.starts_with("checksum"))
        .map(|l| format!("{l}\n"))
        .collect();
    let e = from_text(&no_sum, path()).unwrap_err();
    assert!(matches!(e, ModelFileError::Checksum { .. }), "{e:?}");
}

/// A file re-hashed after an edit, as a careless tool (or a test) would write it.
fn rehash(text: &str) -> String {
    let (_, body) = without_checksum_line(text).unwrap();
    let sum = sha256_hex(&body);
    body.replacen(
        "version = ",
        &format!("checksum = \"{sum}\"\nversion = "),
        1,
    )
    .replacen(
        &format!("checksum = \"{sum}\"\nversion = 1\n"),
        &format!("version = 1\nchecksum = \"{sum}\"\n"),
        1,
    )
}

#[test]
fn wrong_version_and_format_are_refused() {
    let (model, meta) = sample();
    let text = to_text(&model, &meta).unwrap();
    let v2 = text.replace("version = 1\n", "version = 2\n");
    let e = from_text(&v2, path()).unwrap_err();
    assert_eq!(e.to_string(), "m.toml: model version 2, this mam reads 1");
    let other = text.replace("mam-adaptive-model", "something-else");
    let e = from_text(&other, path()).unwrap_err();
    assert!(matches!(e, ModelFileError::Format { .. }), "{e:?}");
    let e = from_text("not = [toml", path()).unwrap_err();
    assert!(matches!(e, ModelFileError::Parse { .. }), "{e:?}");
}

#[test]
fn missing_or_out_of_range_fields_are_refused_even_with_a_good_checksum() {
    let (model, meta) = sample();
    let text = to_text(&model, &meta).unwrap();
    let missing = rehash(&text.replace("switch_ppb = 800000000\n", ""));
    let e = from_text(&missing, path()).unwrap_err();
    assert!(e.to_string().contains("switch_ppb"), "{e}");
    let negative = rehash(&text.replace("omega = 12345", "omega = -1"));
    assert!(matches!(
        from_text(&negative, path()).unwrap_err(),
        ModelFileError::Parse { .. }
    ));
    let bad_ratio = rehash(&text.replace("\"450.5\"", "\"450.1234567\""));
    let e = from_text(&bad_ratio, path()).unwrap_err();
    assert!(
        e.to_string().contains("clusters[1].stressed_margin_level"),
        "{e}"
    );
    let invalid = rehash(&text.replace("switch_ppb = 800000000", "switch_ppb = 400000000"));
    let e = from_text(&invalid, path()).unwrap_err();
    assert!(matches!(e, ModelFileError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains("switch_ppb"), "{e}");
    // The rehash helper itself produces a file that loads.
    assert!(from_text(&rehash(&text), path()).is_ok());
}
