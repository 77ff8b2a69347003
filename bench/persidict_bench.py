"""Python persidict (BasicS3Dict) doing the operations bench_compare measures.

Usage: persidict_bench.py BUCKET OUT.json   (AWS_ENDPOINT_URL names the server)

Requests are counted with a botocore `before-send` hook (one call per HTTP request sent,
retries included); client CPU is this process's user+system time from getrusage.
"""

import json
import math
import os
import random
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from persidict import BasicS3Dict
from persidict.jokers_and_status_flags import (
    ETAG_HAS_CHANGED,
    ETAG_IS_THE_SAME,
    IF_ETAG_CHANGED,
    NEVER_RETRIEVE,
    ETagValue,
)

SMALL = 100
LARGE = 1 << 20
STALE = ETagValue('"00000000000000000000000000000000"')

REQUESTS = 0
_lock = threading.Lock()


def count_request(**_kwargs):
    global REQUESTS
    with _lock:
        REQUESTS += 1


def cpu_us():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (ru.ru_utime + ru.ru_stime) * 1e6


def open_dict(bucket, prefix):
    d = BasicS3Dict(bucket_name=bucket, region="us-east-1", root_prefix=prefix)
    d.s3_client.meta.events.register("before-send.s3", count_request)
    return d


def measure(ops, work):
    r0, c0, t0 = REQUESTS, cpu_us(), time.perf_counter()
    work()
    secs = time.perf_counter() - t0
    return {"ops": ops, "secs": secs, "cpu_us": cpu_us() - c0, "requests": REQUESTS - r0}


def row(op, size, s, note=""):
    ops = max(s["ops"], 1)
    r = {
        "op": op,
        "impl": "persidict-py",
        "value_size": size,
        "n": s["ops"],
        "ops_per_s": ops / max(s["secs"], 1e-9),
        "requests_per_op": s["requests"] / ops,
        "cpu_us_per_op": s["cpu_us"] / ops,
        "note": note,
    }
    print(
        f"  {op:<24} persidict-py  {size:>8} B  {r['ops_per_s']:>9.1f} ops/s  "
        f"{r['requests_per_op']:>7.4f} req/op  {r['cpu_us_per_op']:>8.1f} us CPU/op",
        file=sys.stderr,
    )
    return r


def fill(d, keys, value, threads=32):
    """Writes through boto3 directly with many threads (untimed preparation), in the
    dictionary's own layout and serialization."""
    data, content_type = d._serialize_value_for_s3(value)

    def put(k):
        r = d.s3_client.put_object(
            Bucket=d.bucket_name,
            Key=d._build_full_objectname(k),
            Body=data,
            ContentType=content_type,
        )
        return ETagValue(r["ETag"])

    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(put, keys))


def single(bucket, run, op, size, n):
    d = open_dict(bucket, f"{run}/single/{op}-{size}/")
    keys = [f"k{i:06}" for i in range(n)]
    v = bytes((i * 31) & 0xFF for i in range(size))
    present = op not in ("put", "setdefault (absent)")
    etags = fill(d, keys, v) if present else []

    def work():
        for i, k in enumerate(keys):
            if op == "get":
                assert len(d[k]) == size
            elif op == "put":
                d[k] = v
            elif op == "contains":
                assert k in d
            elif op == "delete":
                del d[k]
            elif op == "put_if(Same)":
                r = d.set_item_if(k, value=v, condition=ETAG_IS_THE_SAME,
                                  expected_etag=etags[i], retrieve_value=NEVER_RETRIEVE)
                assert r.condition_was_satisfied
            elif op == "put_if(Changed)":
                r = d.set_item_if(k, value=v, condition=ETAG_HAS_CHANGED,
                                  expected_etag=STALE, retrieve_value=NEVER_RETRIEVE)
                assert r.condition_was_satisfied
            elif op == "get_if(IfChanged) hit":
                r = d.get_item_if(k, condition=ETAG_IS_THE_SAME, expected_etag=etags[i],
                                  retrieve_value=IF_ETAG_CHANGED)
                assert r.condition_was_satisfied
            elif op == "get_if(IfChanged) miss":
                r = d.get_item_if(k, condition=ETAG_IS_THE_SAME, expected_etag=STALE,
                                  retrieve_value=IF_ETAG_CHANGED)
                assert len(r.new_value) == size
            elif op.startswith("setdefault"):
                assert len(d.setdefault(k, v)) == size
            elif op == "transform":
                d.transform_item(k, transformer=lambda cur: bytes([(cur[0] + 1) & 0xFF]) + cur[1:])
            else:
                raise ValueError(op)

    return measure(n, work)


OPS = [
    "get", "put", "contains", "delete", "put_if(Same)", "put_if(Changed)",
    "get_if(IfChanged) hit", "get_if(IfChanged) miss", "setdefault (absent)",
    "setdefault (present)", "transform",
]


def bulk(bucket, run, rows):
    # Behind a delay persidict's one-key-at-a-time reads take minutes: fewer keys there.
    n_full, n_small = 10_000, (2_000 if float(os.environ.get("BENCH_RTT_MS", "0")) <= 10 else 500)
    v = bytes(SMALL)
    d = open_dict(bucket, f"{run}/bulk/")
    keys = [f"k{i:06}" for i in range(n_full)]
    fill(d, keys, v)
    note = "per key, 10k keys"
    def check(got, want, what):
        if got != want:
            raise AssertionError(f"{what}: {got} != {want}")

    rows.append(row("len", SMALL, measure(n_full, lambda: check(len(d), n_full, "len")), note))
    rows.append(row("keys", SMALL, measure(n_full, lambda: sum(1 for _ in d.keys())), note))
    # values and get_many on 2k keys: persidict reads one key at a time (minutes for 10k).
    dv = open_dict(bucket, f"{run}/bulk-values/")
    few = keys[:n_small]
    fill(dv, few, v)
    rows.append(row("values", SMALL, measure(n_small, lambda: sum(len(x) for x in dv.values())),
                    f"per key, {n_small:,} keys"))
    rows.append(row("get_many", SMALL, measure(n_small, lambda: [d[k] for k in few]),
                    f"per key, {n_small:,} keys (a loop of gets: persidict has no get_many)"))
    # clear on 2k keys: persidict sends HEAD + DELETE per key.
    dc = open_dict(bucket, f"{run}/bulk-clear/")
    fill(dc, few, v)
    rows.append(row("clear", SMALL, measure(n_small, dc.clear), f"per key, {n_small:,} keys"))
    assert len(dc) == 0


def contended(bucket, run, rows):
    workers, each = 4, 25
    prefix = f"{run}/counter/"
    d0 = open_dict(bucket, prefix)
    d0["hits"] = 0
    dicts = [open_dict(bucket, prefix) for _ in range(workers)]

    def worker(d):
        for _ in range(each):
            d.transform_item("hits", transformer=lambda n: n + 1, n_retries=None)

    def work():
        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(worker, dicts))

    s = measure(workers * each, work)
    assert d0["hits"] == workers * each, d0["hits"]
    rows.append(row("contended counter 4x25", 8, s, "per increment"))


def scaled(n):
    """n operations on loopback, fewer behind the latency proxy (BENCH_RTT_MS), never under 8."""
    rtt = float(os.environ.get("BENCH_RTT_MS", "0"))
    return n if rtt <= 2 else max(8, math.ceil(n * 2 / rtt))


def main():
    bucket, out = sys.argv[1], sys.argv[2]
    run = f"py-{random.getrandbits(32):08x}"
    t0 = time.perf_counter()
    # Warmup, including the one-time probes of set_item_if(Changed) and discard_if.
    w = open_dict(bucket, f"{run}/warm/")
    for i in range(50):
        w[f"w{i}"] = b"x"
        w[f"w{i}"]
        f"w{i}" in w
    w.set_item_if("w0", value=b"y", condition=ETAG_HAS_CHANGED, expected_etag=STALE,
                  retrieve_value=NEVER_RETRIEVE)
    rows = []
    for size, n in ((SMALL, scaled(300)), (LARGE, scaled(12))):
        print(f"persidict-py, {size}-byte values", file=sys.stderr)
        for op in OPS:
            rows.append(row(op, size, single(bucket, run, op, size, n)))
    print("persidict-py, bulk", file=sys.stderr)
    bulk(bucket, run, rows)
    print("persidict-py, contended counter", file=sys.stderr)
    contended(bucket, run, rows)
    print(f"python measurements took {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    with open(out, "w") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
