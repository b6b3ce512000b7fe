#!/usr/bin/env python3
"""Builds each fuzz target's seed corpus from ../shared/data (never copied into the repository:
the corpora live under fuzz/corpus/, which git ignores). Usage: python3 fuzz/seeds.py"""
import glob, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("MAM_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
if not os.path.isfile(os.path.join(DATA, "PROVENANCE.md")):
    sys.exit(f"real data not found at {DATA} (expected ../shared/data beside the repository, "
             "or set MAM_SHARED_DATA)")

def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def udp_payloads(pcap, n):
    """UDP payloads of the first n frames of a classic pcap (Ethernet, IPv4)."""
    b = open(pcap, "rb").read()
    magic = struct.unpack("<I", b[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    at, got = 24, []
    while at + 16 <= len(b) and len(got) < n:
        incl = struct.unpack(end + "I", b[at + 8:at + 12])[0]
        f = b[at + 16:at + 16 + incl]
        at += 16 + incl
        if len(f) > 42 and f[12:14] == b"\x08\x00" and f[23] == 17:
            ihl = (f[14] & 15) * 4
            got.append(f[14 + ihl + 8:])
    return got

for pcap in glob.glob(os.path.join(DATA, "**", "*.pcap"), recursive=True):
    base = os.path.basename(pcap)
    for i, p in enumerate(udp_payloads(pcap, 64)):
        out("feed_venues", f"{base}-{i}", p)
    head = open(pcap, "rb").read()[:65536]
    out("capture", base, head)
for itch in glob.glob(os.path.join(DATA, "itch", "*.itch")):
    out("feed_venues", os.path.basename(itch), open(itch, "rb").read()[:4096])
for bi5 in sorted(glob.glob(os.path.join(DATA, "dukascopy", "*", "*.bi5")))[:8]:
    out("bi5", os.path.basename(os.path.dirname(bi5)) + "-" + os.path.basename(bi5),
        open(bi5, "rb").read())
fix = os.path.join(DATA, "fix", "quickfixj-banzai-executor-session.txt")
if os.path.isfile(fix):
    # One session's messages, '|' for SOH; split before each BeginString, and also as FIX 4.4
    # (mam's session refuses other versions at once: the 4.4 copies reach deeper).
    raw = open(fix, "rb").read().replace(b"\n", b"")
    msgs = [b"8=FIX" + m for m in raw.split(b"8=FIX")[1:]]
    for i, m in enumerate(msgs[:64]):
        m = m.replace(b"|", b"\x01")
        out("fix_frame_parse", f"qfj-{i}", m)
        out("fix_session", f"qfj-{i}", m)
    out("fix_session", "qfj-all", b"".join(msgs[:32]).replace(b"|", b"\x01"))
print("seed corpora in", os.path.join(HERE, "corpus"))
