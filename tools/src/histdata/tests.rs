use super::*;

const ALL: UtcRange = UtcRange {
    from_ns: 0,
    to_ns: u64::MAX,
};

fn read(text: &str) -> Result<Bars, HistDataError> {
    let mut bars = Bars::default();
    bars.read_csv(BufReader::new(text.as_bytes()), Path::new("t.csv"), ALL)?;
    Ok(bars)
}

fn line_err(text: &str) -> (u64, String) {
    match read(text) {
        Err(HistDataError::Line { line, why, .. }) => (line, why),
        other => panic!("expected a line error, got {other:?}"),
    }
}

#[test]
fn parses_rows_exactly_and_shifts_est_to_utc() {
    let b = read("20180101 170000;1.200370;1.201060;1.200370;1.201000;0\r\n").unwrap();
    assert_eq!(b.rows, 1);
    let bar = b.bars[0];
    // 17:00 EST on 1 January is 22:00 UTC the same day.
    assert_eq!(format_utc(bar.ts_utc_ns), "2018-01-01 22:00");
    assert_eq!(bar.open, Price::parse("1.20037").unwrap());
    assert_eq!(bar.high.raw(), 120_106_000);
    assert_eq!(bar.close.to_string(), "1.201");
    // Summer too: the files have no daylight saving.
    let b = read("20180701 170000;1.1;1.1;1.1;1.1;0\n").unwrap();
    assert_eq!(format_utc(b.bars[0].ts_utc_ns), "2018-07-01 22:00");
    // The evening bars after 19:00 EST are the next UTC day.
    let b = read("20181231 200000;1.1;1.1;1.1;1.1;0\n").unwrap();
    assert_eq!(format_utc(b.bars[0].ts_utc_ns), "2019-01-01 01:00");
}

#[test]
fn bad_lines_name_their_line_and_fault() {
    let ok = "20180101 170000;1.1;1.2;1.0;1.1;0\n";
    let cases = [
        ("20180101;1.1;1.2;1.0;1.1;0", "not `YYYYMMDD HHMMSS`"),
        ("20180230 170000;1.1;1.2;1.0;1.1;0", "no such date"),
        ("20180101 246000;1.1;1.2;1.0;1.1;0", "no such time"),
        ("99990101 170100;1.1;1.2;1.0;1.1;0", "outside 1970-2554"),
        ("19691231 170100;1.1;1.2;1.0;1.1;0", "outside 1970-2554"),
        ("20180101 170100;1.1;1.2;1.0", "missing field `close`"),
        ("20180101 170100;1.1;1.2;1.0;1.1", "missing field `volume`"),
        ("20180101 170100;1.1;1.2;1.0;1.1;0;7", "more than 6 fields"),
        ("20180101 170100;1.1;abc;1.0;1.1;0", "high"),
        ("20180101 170100;1.1;1.2;1.0;1.123456789;0", "close"),
        ("20180101 170100;0;1.2;0;1.1;0", "not positive"),
        ("20180101 170100;1.1;1.0;1.2;1.1;0", "inconsistent bar"),
        ("20180101 170100;1.3;1.2;1.0;1.1;0", "inconsistent bar"),
        ("20180101 170100;1.1;1.2;1.0;1.1;x", "volume"),
    ];
    for (row, want) in cases {
        let (line, why) = line_err(&format!("{ok}{row}\n"));
        assert_eq!(line, 2, "{row}");
        assert!(why.contains(want), "{row}: `{why}` lacks `{want}`");
    }
    let e = read(&format!("{ok}20180101 1701xx;1;1;1;1;0\n")).unwrap_err();
    assert!(e.to_string().starts_with("t.csv:2: timestamp"), "{e}");
}

#[test]
fn out_of_order_is_refused_with_its_line() {
    let text = "20180101 170000;1.1;1.1;1.1;1.1;0\n\
                20180101 170200;1.1;1.1;1.1;1.1;0\n\
                20180101 170100;1.1;1.1;1.1;1.1;0\n";
    let e = read(text).unwrap_err();
    assert!(
        matches!(e, HistDataError::OutOfOrder { line: 3, .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("t.csv:3") && msg.contains("20180101 170100"),
        "{msg}"
    );
    assert!(msg.contains("2018-01-01 22:02"), "{msg}");
}

#[test]
fn duplicates_keep_the_first_and_are_counted() {
    let text = "20180101 170000;1.1;1.1;1.1;1.1;0\n\
                20180101 170000;1.2;1.2;1.2;1.2;0\n\
                20180101 170000;1.1;1.1;1.1;1.1;0\n\
                20180101 170100;1.3;1.3;1.3;1.3;0\n";
    let b = read(text).unwrap();
    assert_eq!((b.rows, b.duplicates, b.bars.len()), (4, 2, 2));
    assert_eq!(b.bars[0].close.to_string(), "1.1");
    assert_eq!(b.bars[1].close.to_string(), "1.3");
}

#[test]
fn the_range_is_half_open_in_utc() {
    // 18:59 and 19:00 EST are 23:59 and 00:00 UTC.
    let text = "20180101 185900;1.1;1.1;1.1;1.1;0\n\
                20180101 190000;1.1;1.1;1.1;1.1;0\n\
                20180102 185900;1.1;1.1;1.1;1.1;0\n\
                20180102 190000;1.1;1.1;1.1;1.1;0\n";
    let range = UtcRange {
        from_ns: parse_date("2018-01-02").unwrap(),
        to_ns: parse_date("2018-01-03").unwrap(),
    };
    let mut b = Bars::default();
    b.read_csv(BufReader::new(text.as_bytes()), Path::new("t"), range)
        .unwrap();
    assert_eq!(b.rows, 4);
    let kept: Vec<_> = b.bars.iter().map(|x| format_utc(x.ts_utc_ns)).collect();
    assert_eq!(kept, ["2018-01-02 00:00", "2018-01-02 23:59"]);
}

#[test]
fn dates_and_names() {
    assert_eq!(parse_date("1970-01-02").unwrap(), 86_400 * NS);
    assert_eq!(format_date(parse_date("2018-07-01").unwrap()), "2018-07-01");
    for bad in [
        "2018-7-01",
        "2018-02-29",
        "2018-13-01",
        "18-01-01xx",
        "1969-12-31",
    ] {
        assert!(parse_date(bad).is_err(), "{bad}");
    }
    let z = Path::new("x/HISTDATA_COM_ASCII_XAUUSD_M12018.zip");
    assert_eq!(identify(z), Some(("XAUUSD".into(), 2018)));
    let c = Path::new("DAT_ASCII_EURUSD_M1_2019.csv");
    assert_eq!(identify(c), Some(("EURUSD".into(), 2019)));
    assert_eq!(identify(Path::new("notes.zip")), None);
    let e = find_zip(Path::new("/nonexistent"), "EURUSD", 2018).unwrap_err();
    assert!(
        e.to_string()
            .contains("HISTDATA_COM_ASCII_EURUSD_M12018.zip"),
        "{e}"
    );
}

/// Row counts, ends and order of the real 2018 files, as PROVENANCE.md lists them.
#[test]
fn real_files_match_provenance() {
    let dir = mam_tests::shared_data().join("histdata");
    let expect = [
        ("AUDUSD", 369_457, "2018-01-01 22:00", "2018-12-31 21:58"),
        ("EURUSD", 372_607, "2018-01-01 22:00", "2018-12-31 21:59"),
        ("GBPUSD", 372_261, "2018-01-01 22:00", "2018-12-31 21:58"),
        ("USDCAD", 367_942, "2018-01-01 22:00", "2018-12-31 21:58"),
        ("USDCHF", 370_264, "2018-01-01 22:00", "2018-12-31 21:58"),
        ("USDJPY", 371_800, "2018-01-01 22:00", "2018-12-31 21:58"),
        ("XAUUSD", 353_778, "2018-01-01 23:01", "2018-12-31 21:58"),
    ];
    for (sym, rows, first, last) in expect {
        let path = find_zip(&dir, sym, 2018).unwrap();
        let b = read_bars(&[path], ALL).unwrap();
        assert_eq!((b.rows, b.duplicates), (rows, 0), "{sym}");
        assert_eq!(b.bars.len() as u64, rows, "{sym}");
        assert_eq!(format_utc(b.bars[0].ts_utc_ns), first, "{sym}");
        assert_eq!(
            format_utc(b.bars[b.bars.len() - 1].ts_utc_ns),
            last,
            "{sym}"
        );
        assert!(b.bars.windows(2).all(|w| w[0].ts_utc_ns < w[1].ts_utc_ns));
    }
    let listed = list_dir(&dir).unwrap();
    assert_eq!(listed.len(), 7);
    assert!(listed.iter().all(|(_, y, _)| *y == 2018));
}
