"""Merges the benchmark's JSON rows, prints the Markdown table and writes compare.json.

Usage: report.py OUT.json RUST.json PYTHON.json [RSS.jsonl [LARGE.jsonl]]
"""

import json
import os
import sys

IMPLS = ("persidict-rs", "aws-sdk-s3", "persidict-py")


def fmt(x, digits=0):
    if x is None:
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def pct(x):
    return "–" if x is None else f"{100 * x:.0f}%"


PEERS = ("object_store", "opendal")


def peer_table(by, peers):
    """The single-key rows that the Rust peers measured too: ops/s and client CPU of rs,
    raw and each peer, and rs against the fastest and the cheapest peer."""
    pby = {}
    for r in peers:
        pby.setdefault((r["op"], r["value_size"]), {})[r["impl"]] = r
    lines = [
        "",
        "Rust peers, same server, same requests (object_store 0.14 with conditional put, "
        "opendal 0.59 services-s3):",
        "",
        "| operation | value | ops/s rs / raw / object_store / opendal | CPU µs/op rs / raw / "
        "object_store / opendal | req/op object_store / opendal | rs ÷ fastest peer ops/s "
        "| rs ÷ cheapest peer CPU |",
        "|---|---|---|---|---|--:|--:|",
    ]
    for k, g in pby.items():
        ours = by.get(k, {})
        rs, raw = ours.get("persidict-rs"), ours.get("aws-sdk-s3")
        ps = [g.get(p) for p in PEERS]
        get = lambda r, f: r[f] if r else None
        ops = " / ".join(fmt(get(r, "ops_per_s")) for r in (rs, raw, *ps))
        cpu = " / ".join(fmt(get(r, "cpu_us_per_op"), 1) for r in (rs, raw, *ps))
        req = " / ".join(fmt(get(r, "requests_per_op"), 2) for r in ps)
        fastest = max((get(r, "ops_per_s") or 0 for r in ps), default=0)
        cheapest = min((get(r, "cpu_us_per_op") or float("inf") for r in ps), default=None)
        size = "1 MiB" if k[1] >= 1 << 20 else f"{k[1]} B"
        lines.append(
            f"| {k[0]} | {size} | {ops} | {cpu} | {req} "
            f"| {fmt(ratio(get(rs, 'ops_per_s'), fastest), 2)} "
            f"| {fmt(ratio(get(rs, 'cpu_us_per_op'), cheapest), 2)} |"
        )
    return lines


def floor_table(by, order, rtt):
    """The crate's single-key rows against their floor, (requests per operation) x RTT:
    the mean and the median time of an operation (raw aws-sdk-s3's median beside it), and
    the CPU the client and the server spent on it."""
    lines = [
        "",
        f"Single-key operations of persidict-rs against (requests x RTT), RTT {rtt:g} ms "
        "(target: within 5%; the mean is 1 ÷ ops/s, the median that of the operations' own "
        "times; server CPU from /proc of the SeaweedFS process):",
        "",
        "| operation | value | req/op | floor ms | mean ms | median ms rs / raw "
        "| mean ÷ floor | median ÷ floor | client CPU µs/op | server CPU µs/op |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for k in order:
        rs = by[k].get("persidict-rs")
        if not rs or "per key" in rs.get("note", "") or "per increment" in rs.get("note", ""):
            continue
        raw = by[k].get("aws-sdk-s3") or {}
        ms = 1000 / rs["ops_per_s"]
        median = rs.get("median_ms")
        floor = round(rs["requests_per_op"]) * rtt
        size = "1 MiB" if k[1] >= 1 << 20 else f"{k[1]} B"
        lines.append(
            f"| {k[0]} | {size} | {fmt(rs['requests_per_op'], 2)} | {fmt(floor, 1)} "
            f"| {fmt(ms, 2)} | {fmt(median, 2)} / {fmt(raw.get('median_ms'), 2)} "
            f"| {fmt(ratio(ms, floor), 3)} | {fmt(ratio(median, floor), 3)} "
            f"| {fmt(rs['cpu_us_per_op'], 1)} | {fmt(rs.get('server_cpu_us_per_op'), 1)} |"
        )
    return lines


def sweep_tables(sweep, rtt):
    """The bulk rows of bench_sweep: requests in flight against keys/s, and the listing."""
    lines = []
    conc = [r for r in sweep if "layout" not in r]
    if conc:
        lines += [
            "",
            f"Requests in flight, {conc[0]['keys']:,} keys of 100 B, RTT {rtt:g} ms (second, "
            "warm round of each; target: 80% of concurrency ÷ RTT):",
            "",
            "| operation | in flight | keys/s | concurrency ÷ RTT | share | CPU µs/key "
            "| server CPU µs/key | machine busy | new connections (first round / second) |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in conc:
            ideal = r["concurrency"] / (rtt / 1000) if rtt else None
            lines.append(
                f"| {r['op']} | {r['concurrency']} | {fmt(r['ops_per_s'])} | {fmt(ideal)} "
                f"| {fmt(ratio(r['ops_per_s'], ideal), 2)} | {fmt(r['cpu_us_per_op'], 1)} "
                f"| {fmt(r.get('server_cpu_us_per_op'), 1)} "
                f"| {pct(r.get('machine_busy'))} "
                f"| {r.get('new_connections_first_round', '–')} / {r.get('new_connections', '–')} |"
            )
    listing = [r for r in sweep if "layout" in r]
    if listing:
        lines += [
            "",
            f"Listing {listing[0]['keys']:,} keys, RTT {rtt:g} ms (hierarchical: 16 first-level "
            "prefixes; raw: ListObjectsV2 pages one after the other):",
            "",
            "| operation | keys | impl | keys/s | seconds | LIST requests |",
            "|---|---|---|--:|--:|--:|",
        ]
        for r in listing:
            lines.append(
                f"| {r['op']} | {r['layout']} | {r['impl']} | {fmt(r['ops_per_s'])} "
                f"| {fmt(r['secs'], 2)} | {r.get('requests', '–')} |"
            )
    return lines


def main():
    out, rust, python = sys.argv[1:4]
    rows = json.load(open(rust)) + json.load(open(python))
    # The Rust peers (bench/peers), where they were measured.
    peers_file = os.environ.get("PEERS_JSON")
    peers = json.load(open(peers_file)) if peers_file and os.path.exists(peers_file) else []
    # The round trip the latency proxy added (bench/compare.sh --rtt); 0: direct.
    rtt = float(os.environ.get("BENCH_RTT_MS", "0"))
    for r in rows:
        r.setdefault("rtt_ms", rtt)
    rss = []
    if len(sys.argv) > 4:
        rss = [json.loads(line) for line in open(sys.argv[4]) if line.strip()]
    large = []
    if len(sys.argv) > 5:
        large = [json.loads(line) for line in open(sys.argv[5]) if line.strip()]
    by = {}
    order = []
    for r in rows:
        k = (r["op"], r["value_size"])
        if k not in by:
            by[k] = {}
            order.append(k)
        by[k][r["impl"]] = r
    lines = [f"Round-trip time added: {rtt:g} ms.", ""] if rtt else []
    lines += [
        "| operation | value | ops/s rs | ops/s raw | ops/s py | req/op rs / raw / py "
        "| CPU µs/op rs / raw / py | rs ÷ raw ops/s | rs ÷ raw CPU | rs ÷ py ops/s |",
        "|---|---|--:|--:|--:|---|---|--:|--:|--:|",
    ]
    for k in order:
        g = by[k]
        rs, raw, py = (g.get(i) for i in IMPLS)
        get = lambda r, f: r[f] if r else None
        size = "1 MiB" if k[1] >= 1 << 20 else f"{k[1]} B"
        op = k[0]
        notes = {r["note"] for r in g.values() if r.get("note")}
        if py and py.get("note") and rs and py["note"] != rs.get("note"):
            op += f" (py: {py['note']})"
        elif notes:
            op += f" ({sorted(notes)[0]})"
        req = " / ".join(fmt(get(r, "requests_per_op"), 3) for r in (rs, raw, py))
        cpu = " / ".join(fmt(get(r, "cpu_us_per_op"), 1) for r in (rs, raw, py))
        rr = ratio(get(rs, "ops_per_s"), get(raw, "ops_per_s"))
        rc = ratio(get(rs, "cpu_us_per_op"), get(raw, "cpu_us_per_op"))
        rp = ratio(get(rs, "ops_per_s"), get(py, "ops_per_s"))
        lines.append(
            f"| {op} | {size} | {fmt(get(rs, 'ops_per_s'))} | {fmt(get(raw, 'ops_per_s'))} "
            f"| {fmt(get(py, 'ops_per_s'))} | {req} | {cpu} | {fmt(rr, 2)} | {fmt(rc, 2)} "
            f"| {fmt(rp, 1)} |"
        )
        for r in g.values():
            r["ratio_ops_to_raw"] = ratio(r["ops_per_s"], get(raw, "ops_per_s"))
            r["ratio_ops_to_persidict_py"] = ratio(r["ops_per_s"], get(py, "ops_per_s"))
            r["ratio_cpu_to_raw"] = ratio(r["cpu_us_per_op"], get(raw, "cpu_us_per_op"))
    if rtt:
        lines += floor_table(by, order, rtt)
    if peers:
        lines += peer_table(by, peers)
        rows += peers
    for m in rss:
        lines.append("")
        lines.append(
            f"Iterating {m['mode']} over {m['entries']:,} keys (persidict-rs, separate process): "
            f"{m['entries'] / m['secs']:,.0f} keys/s, {m['requests']} requests, peak RSS "
            f"{m['vm_hwm_kb'] / 1024:.1f} MiB (before iterating: {m['vm_hwm_kb_before'] / 1024:.1f} MiB)."
        )
        rows.append({
            "op": f"iterate {m['mode']} (peak RSS)", "impl": "persidict-rs", "value_size": 100,
            "n": m["entries"], "ops_per_s": m["entries"] / m["secs"],
            "requests_per_op": m["requests"] / max(m["entries"], 1), "cpu_us_per_op": None,
            "peak_rss_kb": m["vm_hwm_kb"], "rss_before_kb": m["vm_hwm_kb_before"],
            "rtt_ms": 0,
        })
    for m in large:
        way = "up (put_stream)" if m["mode"] == "large-put" else "down (get_stream)"
        mib_s = m["mib"] / m["secs"]
        lines.append("")
        lines.append(
            f"A {m['mib']:,} MiB value streamed {way}, parts of {m['part_size'] >> 20} MiB, "
            f"{m['parts_in_flight']} in flight: {mib_s:,.0f} MiB/s, {m['requests']} requests, "
            f"peak RSS {m['vm_hwm_kb'] / 1024:.1f} MiB (before: {m['vm_hwm_kb_before'] / 1024:.1f} MiB)."
        )
        rows.append({
            "op": m["mode"] + " (peak RSS)", "impl": "persidict-rs", "value_size": m["mib"] << 20,
            "n": 1, "ops_per_s": 1 / m["secs"], "requests_per_op": m["requests"],
            "cpu_us_per_op": None, "peak_rss_kb": m["vm_hwm_kb"],
            "rss_before_kb": m["vm_hwm_kb_before"], "rtt_ms": 0,
        })
    sweep_file = os.environ.get("SWEEP_JSONL")
    if sweep_file and os.path.exists(sweep_file):
        sweep = [json.loads(line) for line in open(sweep_file) if line.strip()]
        lines += sweep_tables(sweep, rtt)
        for r in sweep:
            r.setdefault("value_size", 100)
            r.setdefault("requests_per_op", None)
            r["impl"] = {"rs": "persidict-rs", "raw": "aws-sdk-s3"}.get(r["impl"], r["impl"])
        rows += sweep
    with open(out, "w") as f:
        json.dump(rows, f, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
