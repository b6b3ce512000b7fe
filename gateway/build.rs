//! Generates the FIX 4.4 data dictionary tables (`fix/dict`) from the specification file
//! `src/fix/dict/FIX44.xml` (QuickFIX's FIX 4.4 dictionary, as shipped by the `fefix` 0.7 crate).
//!
//! The tables are plain statics written into `OUT_DIR/fix44_dict.rs`, so the session's
//! validation at run time is only array indexing and binary searches: no XML, no hashing, no
//! allocation on the receive path. Nothing here is typed by hand: every tag, type, enumeration
//! and message layout comes from the specification file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

const SPEC: &str = "src/fix/dict/FIX44.xml";

/// Field types the runtime distinguishes (the numbering is shared with `src/fix/dict/mod.rs`).
fn kind_code(t: &str) -> u8 {
    match t {
        "INT" => 2,
        "LENGTH" | "SEQNUM" | "NUMINGROUP" | "DAYOFMONTH" => 3,
        "FLOAT" | "QTY" | "PRICE" | "PRICEOFFSET" | "AMT" | "PERCENTAGE" => 4,
        "CHAR" | "BOOLEAN" => 5,
        "UTCTIMESTAMP" => 6,
        "UTCTIMEONLY" => 7,
        "UTCDATEONLY" | "UTCDATE" | "LOCALMKTDATE" => 8,
        "MONTHYEAR" => 9,
        "MULTIPLEVALUESTRING" => 10,
        // STRING, CURRENCY, EXCHANGE, COUNTRY, DATA and anything newer: any bytes.
        _ => 1,
    }
}

type Node<'a, 'b> = roxmltree::Node<'a, 'b>;

fn elements<'a, 'b>(n: Node<'a, 'b>) -> impl Iterator<Item = Node<'a, 'b>> {
    n.children().filter(|c| c.is_element())
}

fn child<'a, 'b>(n: Node<'a, 'b>, name: &str) -> Node<'a, 'b> {
    elements(n)
        .find(|c| c.tag_name().name() == name)
        .unwrap_or_else(|| panic!("{SPEC}: no <{name}>"))
}

struct Group {
    count: u32,
    delim: u32,
    members: BTreeSet<u32>,
}

#[derive(Default)]
struct Layout {
    /// Every tag the message may carry, at any depth.
    all: BTreeSet<u32>,
    /// Tags that must be present at the top level.
    required: BTreeSet<u32>,
    groups: Vec<Group>,
}

struct Spec<'a, 'b> {
    tags: BTreeMap<&'a str, u32>,
    components: BTreeMap<&'a str, Node<'a, 'b>>,
}

impl<'a, 'b> Spec<'a, 'b> {
    fn tag(&self, name: &str) -> u32 {
        *self
            .tags
            .get(name)
            .unwrap_or_else(|| panic!("{SPEC}: undefined field {name}"))
    }

    /// Walks the children of `n` (a message, component or group body). `required` is false once
    /// inside an optional component or a group: only top-level fields are required.
    /// Returns the tags met, in order (for a group's delimiter and member set).
    fn walk(&self, n: Node<'a, 'b>, required: bool, out: &mut Layout) -> Vec<u32> {
        let mut seen = Vec::new();
        for c in elements(n) {
            let name = c.attribute("name").unwrap_or_default();
            let req = required && c.attribute("required") == Some("Y");
            match c.tag_name().name() {
                "field" => {
                    let t = self.tag(name);
                    out.all.insert(t);
                    if req {
                        out.required.insert(t);
                    }
                    seen.push(t);
                }
                "component" => {
                    let body = *self
                        .components
                        .get(name)
                        .unwrap_or_else(|| panic!("{SPEC}: undefined component {name}"));
                    seen.extend(self.walk(body, req, out));
                }
                "group" => {
                    let count = self.tag(name);
                    out.all.insert(count);
                    if req {
                        out.required.insert(count);
                    }
                    seen.push(count);
                    let members = self.walk(c, false, out);
                    let delim = *members
                        .first()
                        .unwrap_or_else(|| panic!("{SPEC}: empty group {name}"));
                    seen.extend(members.iter().copied());
                    out.groups.push(Group {
                        count,
                        delim,
                        members: members.into_iter().collect(),
                    });
                }
                other => panic!("{SPEC}: unexpected <{other}>"),
            }
        }
        seen
    }
}

fn list(v: impl IntoIterator<Item = u32>) -> String {
    let mut s = String::from("&[");
    for t in v {
        write!(s, "{t},").unwrap();
    }
    s.push(']');
    s
}

fn bits(set: &BTreeSet<u32>, words: usize) -> String {
    let mut w = vec![0u64; words];
    for &t in set {
        w[t as usize / 64] |= 1 << (t % 64);
    }
    let mut s = String::from("[");
    for x in w {
        write!(s, "{x:#x},").unwrap();
    }
    s.push(']');
    s
}

fn bytes_lit(s: &str) -> String {
    format!("b{s:?}")
}

fn groups_lit(groups: &mut [Group]) -> String {
    groups.sort_by_key(|g| g.count);
    let mut s = String::from("&[");
    for g in groups.iter() {
        write!(
            s,
            "GroupDef {{ count: {}, delim: {}, members: {} }},",
            g.count,
            g.delim,
            list(g.members.iter().copied())
        )
        .unwrap();
    }
    s.push(']');
    s
}

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(SPEC).expect("read the FIX 4.4 specification");
    let doc = roxmltree::Document::parse(&text).expect("parse the FIX 4.4 specification");
    let root = doc.root_element();

    // Fields: number, type, enumeration.
    let mut tags = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    let mut enums: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for f in elements(child(root, "fields")) {
        let num: u32 = f
            .attribute("number")
            .and_then(|n| n.parse().ok())
            .expect("field number");
        tags.insert(f.attribute("name").expect("field name"), num);
        kinds.insert(num, kind_code(f.attribute("type").unwrap_or("STRING")));
        let values: Vec<&str> = elements(f).filter_map(|v| v.attribute("enum")).collect();
        if !values.is_empty() {
            enums.insert(num, values);
        }
    }
    let components = elements(child(root, "components"))
        .map(|c| (c.attribute("name").expect("component name"), c))
        .collect();
    let spec = Spec { tags, components };

    let max_tag = *kinds.keys().last().expect("fields") as usize;
    let words = max_tag / 64 + 1;

    let mut header = Layout::default();
    spec.walk(child(root, "header"), true, &mut header);
    let mut trailer = Layout::default();
    spec.walk(child(root, "trailer"), true, &mut trailer);

    let mut messages = Vec::new();
    for m in elements(child(root, "messages")) {
        let mut l = Layout::default();
        spec.walk(m, true, &mut l);
        messages.push((m.attribute("msgtype").expect("msgtype").to_string(), l));
    }
    messages.sort_by(|a, b| a.0.cmp(&b.0));

    let mut o = String::new();
    writeln!(o, "// Generated by build.rs from {SPEC}: do not edit.").unwrap();
    writeln!(o, "/// Highest tag number the specification defines.").unwrap();
    writeln!(o, "pub const MAX_TAG: u32 = {max_tag};").unwrap();
    writeln!(o, "const WORDS: usize = {words};").unwrap();
    let mut k = vec![0u8; max_tag + 1];
    for (&t, &c) in &kinds {
        k[t as usize] = c;
    }
    writeln!(o, "static KIND: [u8; {}] = {:?};", max_tag + 1, k).unwrap();
    write!(o, "static ENUMS: &[(u32, &[&[u8]])] = &[").unwrap();
    for (t, vs) in &enums {
        write!(o, "({t}, &[").unwrap();
        for v in vs {
            write!(o, "{},", bytes_lit(v)).unwrap();
        }
        write!(o, "]),").unwrap();
    }
    writeln!(o, "];").unwrap();
    writeln!(
        o,
        "static HEADER: [u64; WORDS] = {};",
        bits(&header.all, words)
    )
    .unwrap();
    writeln!(
        o,
        "static TRAILER: [u64; WORDS] = {};",
        bits(&trailer.all, words)
    )
    .unwrap();
    writeln!(
        o,
        "static HEADER_GROUPS: &[GroupDef] = {};",
        groups_lit(&mut header.groups)
    )
    .unwrap();
    write!(o, "static MESSAGES: &[MsgDef] = &[").unwrap();
    for (mt, l) in &mut messages {
        let required = list(l.required.iter().copied());
        write!(
            o,
            "MsgDef {{ msg_type: {}, all: {}, required: {}, groups: {} }},",
            bytes_lit(mt),
            bits(&l.all, words),
            required,
            groups_lit(&mut l.groups)
        )
        .unwrap();
    }
    writeln!(o, "];").unwrap();

    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("fix44_dict.rs");
    std::fs::write(dest, o).expect("write the dictionary tables");
}
