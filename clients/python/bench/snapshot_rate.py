"""How fast `Client.snapshot` reads a COMPACTED road: fills a road with
300,000 keys of ~100-byte JSON payloads through `Client.produce`, then times
reading every key up to `SnapshotComplete`, a few times.

    ROADROLLER_BIN=target/release/roadroller python bench/snapshot_rate.py

With ``--target host:port`` it uses a running server instead of starting
``$ROADROLLER_BIN serve`` (on its embedded broker, ports picked by the
operating system, as the tests do); ``--road`` reads a filled road, and
``--json`` ends with a line for the benchmark to read.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from roadroller import Client, Record, RoadType, SnapshotComplete

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "price": {"type": "number"},
        "pad": {"type": "string"},
    },
    "required": ["id"],
}


@contextmanager
def serve(binary: str) -> Iterator[str]:
    """`binary serve` on a fresh data directory; yields its gRPC address."""
    with tempfile.TemporaryDirectory(prefix="roadroller-bench-") as data_dir:
        args = [
            binary, "serve",
            "--log-format", "json",
            "--listen", "127.0.0.1:0",
            "--embedded-listen", "127.0.0.1:0",
            "--data-dir", os.path.join(data_dir, "data"),
            "--grace-period", "5s",
            "--http-listen", "",
            "--admin-listen", "",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADROLLER_")}
        env["RUST_LOG"] = "warn,roadroller=info"
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("message") == "serving":
                    address = entry["listen"]
                    break
            else:
                raise RuntimeError("the server exited before serving")
            # Keep draining its log so that it never blocks on a full pipe.
            subprocess.Popen(["cat"], stdin=process.stdout, stdout=subprocess.DEVNULL)
            yield address
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def fill(client: Client, road: str, keys: int, batch: int) -> None:
    client.create_road(road, RoadType.COMPACTED, description="snapshot read rate")
    client.wait_for_topic(road)
    client.register_schema(road, SCHEMA)
    client.set_enabled(road)
    for start in range(0, keys, batch):
        records = [
            Record(
                f"key-{i:07d}",
                {"id": i, "name": f"item {i:07d}", "price": i / 100, "pad": "x" * 36},
            )
            for i in range(start, min(start + batch, keys))
        ]
        results = client.produce(road, records)
        refused = [r for r in results if not r.ok]
        if refused:
            raise RuntimeError(f"{len(refused)} records refused, e.g. {refused[0]}")


def read_snapshot(client: Client, road: str) -> tuple[int, float]:
    """Keys delivered before `SnapshotComplete`, and the seconds it took."""
    count = 0
    began = time.perf_counter()
    with client.snapshot(road) as snapshot:
        for item in snapshot:
            if isinstance(item, SnapshotComplete):
                break
            count += 1
    return count, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", help="a running server; default: start $ROADROLLER_BIN")
    parser.add_argument("--keys", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--road", help="an already filled road to read (skips the fill)")
    parser.add_argument(
        "--json", action="store_true", help="end with a JSON line of the best run: keys, seconds"
    )
    args = parser.parse_args()

    @contextmanager
    def target() -> Iterator[str]:
        if args.target:
            yield args.target
        else:
            binary = os.environ.get("ROADROLLER_BIN")
            if not binary:
                sys.exit("set ROADROLLER_BIN, or give --target")
            with serve(binary) as address:
                yield address

    with target() as address, Client(address, timeout=120) as client:
        road = args.road
        if road is None:
            road = f"bench_{uuid.uuid4().hex[:12]}"
            began = time.perf_counter()
            fill(client, road, args.keys, args.batch)
            took = time.perf_counter() - began
            print(f"filled {road}: {args.keys} keys in {took:.1f}s", flush=True)
        rates = []
        best = (0, float("inf"))
        for run in range(args.runs):
            count, seconds = read_snapshot(client, road)
            rates.append(count / seconds)
            if count / seconds > best[0] / best[1]:
                best = (count, seconds)
            print(f"run {run + 1}: {count} keys in {seconds:.2f}s = {rates[-1]:,.0f} records/s")
            if args.road is None and count != args.keys:
                raise RuntimeError(f"expected {args.keys} keys, read {count}")
        print(f"median {statistics.median(rates):,.0f} records/s, best {max(rates):,.0f}")
        if args.json:
            print(json.dumps({"keys": best[0], "seconds": best[1]}))


if __name__ == "__main__":
    main()
