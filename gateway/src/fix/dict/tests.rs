//! The dictionary against hand-built messages: one fault per case, the reason FIX prescribes.

use super::*;
use crate::fix::decode::Decoder;

fn wire(body: &str) -> Vec<u8> {
    crate::fix::decode::fix44_message(body)
}

const HDR: &str = "49=MGR|56=MAM|34=2|52=20231114-22:13:20.000|";

fn check(msg_type: &str, body: &str) -> Result<(), (u32, u32)> {
    let m = wire(&format!("35={msg_type}|{HDR}{body}"));
    let mut d = Decoder::new();
    let m = d.decode(&m).expect("well formed");
    validate(&m).map_err(|e| (e.reason.code(), e.tag))
}

const NOS: &str = "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=10000|40=2|44=1.1|";

#[test]
fn tables_come_from_the_specification() {
    // A few facts of FIX 4.4: Side is a CHAR with 1 = Buy; 956 is the last 4.4 tag.
    assert!(is_defined(54) && enum_ok(54, K_CHAR, b"1") && !enum_ok(54, K_CHAR, b"Z"));
    assert_eq!(MAX_TAG, 956);
    assert!(is_header(52) && !is_header(55));
    assert!(is_known_msg_type(b"D") && is_known_msg_type(b"AE") && !is_known_msg_type(b"ZZ"));
    assert!(!is_defined(957) && !is_defined(5101));
}

#[test]
fn a_valid_order_passes_with_mams_tags() {
    assert_eq!(check("D", NOS), Ok(()));
    assert_eq!(
        check("D", &format!("{NOS}5101=equity|5102=block|5109=N|")),
        Ok(())
    );
    assert_eq!(
        check(
            "G",
            "41=1|11=2|55=EURUSD|54=1|60=20231114-22:13:20.000|38=1|40=2|44=1|5107=1.05|"
        ),
        Ok(())
    );
    // Not on a message mam does not put them on.
    assert_eq!(
        check(
            "F",
            "41=1|11=2|55=EURUSD|54=1|60=20231114-22:13:20.000|5101=x|"
        ),
        Err((0, 5101))
    );
}

#[test]
fn each_fault_gets_its_reason() {
    // Undefined tag number: 0 ("Invalid tag number", FIX 4.4 Volume 2 test 14a).
    assert_eq!(check("D", &format!("{NOS}9999=x|")), Err((0, 9999)));
    assert_eq!(check("D", &format!("{NOS}957=x|")), Err((0, 957)));
    // Defined, but not for a NewOrderSingle: 2.
    assert_eq!(check("D", &format!("{NOS}112=x|")), Err((2, 112)));
    // Repeated outside a group: 13.
    assert_eq!(check("D", &format!("{NOS}55=GBPUSD|")), Err((13, 55)));
    // Header field after the body: 14.
    assert_eq!(check("D", &format!("{NOS}97=N|")), Err((14, 97)));
    // Bad format: 6 (ExpireTime is a UTCTimestamp; OrderQty a Qty).
    assert_eq!(
        check("D", &format!("{NOS}126=20231114-25:00:00|")),
        Err((6, 126))
    );
    assert_eq!(
        check(
            "D",
            "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=1e4|40=2|"
        ),
        Err((6, 38))
    );
    // Not in the enumeration: 5.
    assert_eq!(
        check(
            "D",
            "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=1|40=Q|"
        ),
        Err((5, 40))
    );
    // A TransactTime the nanosecond clock cannot hold: 5, not a wrapped instant.
    assert_eq!(
        check(
            "D",
            "11=1|55=EURUSD|54=1|60=99991231-23:59:59.999|38=1|40=1|"
        ),
        Err((5, 60))
    );
    // Required by the specification: 1.
    assert_eq!(check("D", "11=1|55=EURUSD|54=1|38=1|40=1|"), Err((1, 60)));
    assert_eq!(check("0", ""), Ok(()));
    assert_eq!(check("1", ""), Err((1, 112)));
}

#[test]
fn repeating_groups_are_counted() {
    // NoPartyIDs (453) with two entries, PartyID (448) first in each.
    let two = "453=2|448=A|447=D|452=1|448=B|447=D|452=3|";
    assert_eq!(check("D", &format!("{NOS}{two}")), Ok(()));
    let said_three = "453=3|448=A|447=D|452=1|448=B|447=D|452=3|";
    assert_eq!(check("D", &format!("{NOS}{said_three}")), Err((16, 453)));
    let said_one = "453=1|448=A|447=D|452=1|448=B|447=D|452=3|";
    assert_eq!(check("D", &format!("{NOS}{said_one}")), Err((16, 453)));
    // An entry that does not start with the group's first field: 15.
    let out_of_order = "453=1|447=D|448=A|452=1|";
    assert_eq!(check("D", &format!("{NOS}{out_of_order}")), Err((15, 447)));
}
