"""CPU per message of applying stored HL7 v2 messages, without sockets or senders.

    python benchmarks/hl7_apply.py [--messages 200] [--rounds 3] [--database URL]
        [--preload N] [--profile]

Each round stores ``--messages`` ADT^A04s for distinct new people (the messages of
``hl7_mllp.py``) with the listener's own group writer, then times the listener's
apply (batches of 50, matched together) until nothing is left: CPU (process time) and
wall per message. ``--preload N`` first registers N people through the feed, untimed
(the matcher's work grows with the patients each new one is compared with).
``--profile`` prints a cProfile of the last round's apply.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hl7_mllp import SECRET, message, preload  # the same messages, next to this script

from backend.db import make_engine
from backend.interop.hl7v2.apply import apply_all
from backend.interop.hl7v2.listener import MAX_GROUP, Listener
from backend.migrations import upgrade_to_head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--preload", type=int, default=0, help="people registered first")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/apply.db"
        upgrade_to_head(url)
        if args.preload:
            preload(url, args.preload)
        engine = make_engine(url)
        listener = Listener(engine=engine, secret_key=SECRET, ack_after="stored")
        profile = cProfile.Profile()
        for n in range(args.rounds):
            run = uuid.uuid4().hex[:6]
            first = n * args.messages
            texts = [message(run, i) for i in range(first, first + args.messages)]
            for start in range(0, len(texts), MAX_GROUP):
                listener._store_group(texts[start : start + MAX_GROUP])
            last = args.profile and n == args.rounds - 1
            cpu, wall = time.process_time(), time.perf_counter()
            if last:
                profile.enable()
            applied = apply_all(engine, secret_key=SECRET)
            if last:
                profile.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"round {n + 1}: {applied} applied, {cpu / applied * 1000:.2f} ms CPU and "
                f"{wall / applied * 1000:.2f} ms wall per message"
            )
        engine.dispose()
        print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
        if args.profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
