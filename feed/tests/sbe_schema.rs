//! The published XML schema and the hand-written codec agree: every message id, block length,
//! field offset and size in `feed/schema/mam-fx-sbe.xml` is the one the code uses, both ways.

use std::collections::BTreeMap;

use mam_feed::sbe::layout::{self, FIELDS, MESSAGES};

/// Attributes of an XML start tag (`name="value"` pairs).
fn attrs(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap()
            .to_string();
        let after = &rest[eq + 2..];
        let end = after.find('"').expect("closing quote");
        out.insert(name, after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// Every start tag `<name ...>` of the document, in order, with comments removed.
fn tags(xml: &str) -> Vec<(String, BTreeMap<String, String>, bool)> {
    let mut s = xml.to_string();
    while let Some(a) = s.find("<!--") {
        let b = s[a..].find("-->").expect("comment end") + a + 3;
        s.replace_range(a..b, "");
    }
    let mut out = Vec::new();
    let mut rest = s.as_str();
    while let Some(a) = rest.find('<') {
        let b = rest[a..].find('>').unwrap() + a;
        let body = &rest[a + 1..b];
        rest = &rest[b + 1..];
        if body.starts_with('?') {
            continue;
        }
        if let Some(close) = body.strip_prefix('/') {
            out.push((close.trim().to_string(), BTreeMap::new(), true));
            continue;
        }
        let name = body
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        out.push((name, attrs(body), false));
        if body.ends_with('/') {
            // self-closing: no end tag
        }
    }
    out
}

fn primitive_size(p: &str) -> usize {
    match p {
        "char" | "int8" | "uint8" => 1,
        "int16" | "uint16" => 2,
        "int32" | "uint32" => 4,
        "int64" | "uint64" => 8,
        other => panic!("unknown primitive {other}"),
    }
}

fn schema_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/mam-fx-sbe.xml"
    ))
    .expect("schema file")
}

#[test]
fn xml_and_code_agree() {
    check(&schema_text());
}

#[test]
fn a_drifted_schema_is_caught() {
    let xml = schema_text();
    for (from, to) in [
        (
            r#"name="askPx" id="133" type="PriceNULL" offset="24""#,
            r#"name="askPx" id="133" type="PriceNULL" offset="32""#,
        ),
        (
            r#"name="Trade" id="5" blockLength="40""#,
            r#"name="Trade" id="5" blockLength="48""#,
        ),
        (r#"name="Quote" id="3""#, r#"name="Quote" id="6""#),
        (
            r#"<type name="TradeId" primitiveType="uint64"/>"#,
            r#"<type name="TradeId" primitiveType="uint32"/>"#,
        ),
    ] {
        let bad = xml.replacen(from, to, 1);
        assert_ne!(bad, xml, "mutation `{from}` applies");
        let r = std::panic::catch_unwind(|| check(&bad));
        assert!(r.is_err(), "mutation `{from}` -> `{to}` not caught");
    }
}

fn check(xml: &str) {
    let tags = tags(xml);
    // Schema header.
    let (_, schema, _) = tags
        .iter()
        .find(|(n, _, c)| n == "sbe:messageSchema" && !c)
        .unwrap();
    assert_eq!(schema["id"], layout::SCHEMA_ID.to_string());
    assert_eq!(schema["version"], layout::SCHEMA_VERSION.to_string());
    assert_eq!(schema["byteOrder"], "littleEndian");

    // Sizes of named types: <type> (primitive × length) and composites (sum of their
    // non-constant members), enums and sets by encodingType.
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    let mut composite: Option<(String, usize)> = None;
    for (name, a, close) in &tags {
        match (name.as_str(), close) {
            ("composite", false) => composite = Some((a["name"].clone(), 0)),
            ("composite", true) => {
                let (n, s) = composite.take().unwrap();
                sizes.insert(n, s);
            }
            ("type", false) => {
                let len: usize = a.get("length").map_or(1, |l| l.parse().unwrap());
                let s = if a.get("presence").is_some_and(|p| p == "constant") {
                    0
                } else {
                    primitive_size(&a["primitiveType"]) * len
                };
                match composite.as_mut() {
                    Some((_, total)) => *total += s,
                    None => {
                        sizes.insert(a["name"].clone(), s);
                    }
                }
            }
            ("enum" | "set", false) => {
                sizes.insert(a["name"].clone(), primitive_size(&a["encodingType"]));
            }
            _ => {}
        }
    }
    assert_eq!(sizes["messageHeader"], layout::HEADER_LEN);
    assert_eq!(sizes["groupSizeEncoding"], layout::GROUP_HEADER_LEN);
    assert_eq!(sizes["Symbol"], layout::SYMBOL_LEN);

    // Messages, groups and fields as the XML declares them.
    let mut xml_msgs = Vec::new();
    let mut xml_fields = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    for (name, a, close) in &tags {
        match (name.as_str(), close) {
            ("sbe:message", false) => {
                stack = vec![a["name"].clone()];
                let id: u16 = a["id"].parse().unwrap();
                xml_msgs.push((
                    a["name"].clone(),
                    id,
                    a["blockLength"].parse::<usize>().unwrap(),
                ));
            }
            ("group", false) => {
                let g = format!("{}/{}", stack[0], a["name"]);
                xml_msgs.push((g.clone(), 0, a["blockLength"].parse().unwrap()));
                assert_eq!(a["dimensionType"], "groupSizeEncoding");
                stack.push(g);
            }
            ("group", true) => {
                stack.pop();
            }
            ("field", false) => {
                let owner = stack.last().unwrap().clone();
                let size = sizes
                    .get(&a["type"])
                    .copied()
                    .unwrap_or_else(|| primitive_size(&a["type"]));
                xml_fields.push((
                    owner,
                    a["name"].clone(),
                    a["offset"].parse::<usize>().unwrap(),
                    size,
                ));
            }
            _ => {}
        }
    }
    let code_msgs: Vec<_> = MESSAGES
        .iter()
        .map(|m| (m.name.to_string(), m.id, m.block_length))
        .collect();
    let mut a = xml_msgs.clone();
    let mut b = code_msgs.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "messages: XML vs layout::MESSAGES");
    let code_fields: Vec<_> = FIELDS
        .iter()
        .map(|f| (f.message.to_string(), f.name.to_string(), f.offset, f.size))
        .collect();
    let mut a = xml_fields.clone();
    let mut b = code_fields;
    a.sort();
    b.sort();
    assert_eq!(a, b, "fields: XML vs layout::FIELDS");
    // Every field fits its block, fields do not overlap, and sit on natural alignment.
    for (msg, _, block) in &xml_msgs {
        let mut fs: Vec<_> = xml_fields.iter().filter(|f| &f.0 == msg).collect();
        fs.sort_by_key(|f| f.2);
        for w in fs.windows(2) {
            assert!(
                w[0].2 + w[0].3 <= w[1].2,
                "{msg}: {} overlaps {}",
                w[0].1,
                w[1].1
            );
        }
        for f in &fs {
            assert!(f.2 + f.3 <= *block, "{msg}.{} past the block", f.1);
            if f.3 <= 8 {
                assert_eq!(f.2 % f.3, 0, "{msg}.{} misaligned", f.1);
            }
        }
    }
}
