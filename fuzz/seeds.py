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
# Short hours (the first 1-60 ticks of a real one, LZMA "alone" as Dukascopy writes it): a real
# hour is 20-30 KB of LZMA and runs at about 200 executions/s under ASan; these small ones
# reach the same decoder paths at thousands per second.
import lzma
first = sorted(glob.glob(os.path.join(DATA, "dukascopy", "*", "*.bi5")))
if first:
    raw = lzma.decompress(open(first[0], "rb").read(), format=lzma.FORMAT_ALONE)
    for n in (1, 2, 5, 20, 60):
        part = raw[: 20 * n]
        out("bi5", f"short-{n}", lzma.compress(part, format=lzma.FORMAT_ALONE,
                                               filters=[{"id": lzma.FILTER_LZMA1, "dict_size": 4096}]))
        # The same with the exact size in the header (Dukascopy's own files carry it).
        c = bytearray(lzma.compress(part, format=lzma.FORMAT_ALONE,
                                    filters=[{"id": lzma.FILTER_LZMA1, "dict_size": 4096}]))
        c[5:13] = len(part).to_bytes(8, "little")
        out("bi5", f"short-{n}-sized", bytes(c))
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

# Sessions the fuzz target's acceptor takes (fuzz_targets/fix_session.rs: FIX.4.4, MAM <- MGR,
# password "pw", SendingTime near 2023-11-14 22:13:20 UTC), with correct BodyLength and
# CheckSum: the QuickFIX/J copies above are refused at Logon (version, CompIDs, time), so
# without these the fuzzer never got past it.
def fix44(seq, mt, body, sending="20231114-22:13:20.000"):
    b = f"35={mt}\x0134={seq}\x0149=MGR\x0152={sending}\x0156=MAM\x01{body}".encode()
    head = b"8=FIX.4.4\x019=" + str(len(b)).encode() + b"\x01"
    m = head + b
    return m + b"10=%03d\x01" % (sum(m) % 256)

T = "20231114-22:13:20.000"
logon = fix44(1, "A", "98=0\x01108=30\x01554=pw\x01")
app = [
    fix44(2, "0", ""),
    fix44(3, "D", f"11=1\x0155=EURUSD\x0154=1\x0138=10000\x0140=2\x0144=1.1\x0160={T}\x01"),
    fix44(4, "G", f"11=2\x0141=1\x0155=EURUSD\x0154=1\x0138=20000\x0140=2\x0144=1.1\x0160={T}\x01"),
    fix44(5, "F", f"11=3\x0141=1\x0155=EURUSD\x0154=1\x0160={T}\x01"),
    fix44(6, "h", "335=1\x01340=2\x01"),
    fix44(7, "1", "112=t1\x01"),
    fix44(8, "2", "7=1\x0116=0\x01"),
    fix44(9, "4", "123=Y\x0136=12\x01"),
    fix44(12, "5", ""),
]
out("fix_session", "mam-logon", logon)
out("fix_session", "mam-session", logon + b"".join(app))
out("fix_session", "mam-gap", logon + app[1] + app[4] + app[6])
out("fix_session", "mam-possdup", logon + fix44(2, "D", f"43=Y\x01122={T}\x0111=9\x0155=EURUSD\x0154=2\x0138=1\x0140=1\x0160={T}\x01"))
out("fix_session", "mam-reset", logon + fix44(1, "A", "98=0\x01108=30\x01141=Y\x01554=pw\x01"))
# The engine's files, built here from their documented layouts (docs/storage.md): an account
# store of three accounts and a journal segment of a few records.
import zlib

def crc32c(b):
    crc = 0xFFFFFFFF
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def align(n, a):
    return (n + a - 1) // a * a

def store(count, cap):
    sizes = [16] + [8] * 11 + [4, 2, 2] + [8] * 5
    offs, at = [], 128
    for sz in sizes:
        offs.append(at)
        at = align(at + cap * sz, 64)
    body = bytearray(at)
    for i in range(count):
        vals = [b"INV%06d" % i, 10_000_000_000 * (i + 1), 10_000_000_000 * (i + 1), 0,
                10_000_000_000 * (i + 1), 1_000_000, 0, 0, 0, 1_000_000, 0, 1_000_000,
                100, 0, 1, 0, 0, 0, 0, b"USD"]
        for k, (v, sz) in enumerate(zip(vals, sizes)):
            raw = v.ljust(sz, b"\0") if isinstance(v, bytes) else v.to_bytes(sz, "little", signed=True)
            body[offs[k] + i * sz: offs[k] + (i + 1) * sz] = raw
    hdr = bytearray(128)
    hdr[0:8] = b"MAMACCT\0"
    struct.pack_into("<IIQQQIIII", hdr, 8, 2, 128, cap, count, 7, 0, 0, 20, 152)
    covered = bytes(hdr) + b"".join(bytes(body[offs[k]:offs[k] + count * sz]) for k, sz in enumerate(sizes))
    struct.pack_into("<I", hdr, 40, zlib.crc32(covered) & 0xFFFFFFFF)
    body[0:128] = hdr
    return bytes(body)

out("account_store", "three", store(3, 4))
out("account_store", "empty", store(0, 1))

def segment(records, size=4096):
    b = bytearray(size)
    b[0:8] = b"MAMJRNL\0"
    struct.pack_into("<IIQQQ", b, 8, 1, 64, 1, 1, size)
    struct.pack_into("<I", b, 60, crc32c(bytes(b[0:60])))
    at = 64
    for seq, (kind, payload) in enumerate(records, start=1):
        n = align(24 + len(payload), 8)
        rec = bytearray(n)
        struct.pack_into("<IQH", rec, 4, len(payload), seq, kind)
        rec[24:24 + len(payload)] = payload
        struct.pack_into("<I", rec, 0, crc32c(bytes(rec[4:])))
        b[at:at + n] = rec
        at += n
    return bytes(b)

quote = struct.pack("<QQQIHBBqqqq", 1_549_288_800_000_000_000, 1_549_288_800_000_000_000, 1, 0,
                    1, 1, 0, 114_400_000, 114_402_000, 1_000_000_000_000, 1_000_000_000_000)
master = struct.pack("<QQqqqqqIBBBB", 1_549_288_801_000_000_000, 1, 10_000, 0, 0, 0, 0, 0,
                     1, 1, 0, 1)
balance = struct.pack("<QqII", 1_549_288_802_000_000_000, 250_000_000, 0, 0)
out("journal", "three-inputs", segment([(5, quote), (1, master), (3, balance)]))
out("journal", "header-only", segment([]))
out("account_csv", "minimal", b"id,balance,equity\nA1,1000,1000\nA2,2500.5,2500.5\n")
out("account_csv", "every-column", b"id,balance,equity,margin_used,equity_hwm,leverage,multiplier,"
    b"percent,fixed_lots,risk_fraction,drawdown_tolerance,min_scale,max_scale,cluster,flags,"
    b"commission_per_lot,daily_loss_limit,margin_call_level,stop_out_level,currency,"
    b"limit_action,active,close_only\n"
    b"INV-1,10000,10000,0,10000,100,1.5,10,0.1,0.01,0.2,0.5,1.5,3,1,3.5,500,120,60,EUR,"
    b"flatten,yes,no\n")
# The daemon's config: every TOML example of the README and the daemon's docs (the README's is
# the annotated defaults), a config as the daemon tests write it, and the bad values.
import re
REPO = os.path.join(HERE, "..")
for doc in ["README.md", "docs/daemon.md", "docs/admin.md"]:
    text = open(os.path.join(REPO, doc), encoding="utf-8").read()
    for i, block in enumerate(re.findall(r"```toml\n(.*?)```", text, re.S)):
        out("daemon_config", f"{doc.replace('/', '-')}-{i}", block.encode())
test_config = b"""state = "/tmp/mam-state"
stats_interval = "1s"
[accounts]
generate = 200
seed = 42
[pipeline]
mode = "shared"
pin = false
sequencing = "event_time"
[feed]
source = "soup"
connect = "127.0.0.1:9100"
[manager]
listen = "127.0.0.1:9878"
[lp]
connect = "127.0.0.1:9879"
comp_id = "MAM"
peer_comp_id = "EXECUTOR"
[engine.risk]
max_order_qty = "1000000"
collar_bps = 500
[journal]
sync = "interval"
sync_interval = "500us"
[admin]
enabled = true
listen = "127.0.0.1:0"
snapshot_interval = "20ms"
"""
out("daemon_config", "daemon-test", test_config)
out("daemon_config", "empty", b"")
out("daemon_config", "huge-ring", b"[pipeline]\nring = 1099511627776\n")
out("daemon_config", "negative-qty", b"[engine.risk]\nmax_order_qty = \"-5\"\n")
out("daemon_config", "event-time-no-feed",
    b"[feed]\nsource = \"none\"\n[pipeline]\nsequencing = \"event_time\"\n")
print("seed corpora in", os.path.join(HERE, "corpus"))
