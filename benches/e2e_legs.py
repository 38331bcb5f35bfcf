"""Sums one side's legs of an on/off round of benches/e2e.sh into the
files benches/e2e_pairs.py reads.

    e2e_legs.py STEM LEG LEG_JSON...

Each LEG_JSON (smppkit esme --json) has beside it STEM-like .cpu (the
gateway's CPU ticks over that leg) and .machine (the machine's busy and
steal ticks). Writes STEM.json with the legs' counts summed and the
throughput of the side over its legs (messages sent over the legs' summed
elapsed time; the idle time between legs is in neither side), STEM.cpu and
STEM.machine with the ticks summed.
"""
import json
import os
import statistics
import sys

stem, leg, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# A side with a failed leg has no figure: nothing of an earlier run may
# stand in for it.
for ext in (".json", ".cpu", ".machine"):
    try:
        os.remove(stem + ext)
    except FileNotFoundError:
        pass
legs, cpu, busy, steal = [], 0, 0, 0
for f in files:
    base = f[: -len(".json")]
    try:
        legs.append(json.load(open(f)))
        cpu += int(open(base + ".cpu").read())
        b, s = map(int, open(base + ".machine").read().split())
        busy += b
        steal += s
    except (OSError, ValueError):
        # A leg that failed: the side has no figure for this round.
        sys.exit(0)
sent = sum(j["sent"] for j in legs)
elapsed = sum(j["elapsed_s"] for j in legs)
if not legs or elapsed <= 0 or sent != leg * len(legs):
    sys.exit(0)
dlr = {k: sum((j.get("dlr") or {}).get(k, 0) for j in legs) for k in ("received", "matched", "unmatched", "missing")}
out = {
    "sent": sent,
    "ok": sum(j["ok"] for j in legs),
    "no_response": sum(j["no_response"] for j in legs),
    "throughput_msgs_per_s": sent / elapsed,
    "elapsed_s": elapsed,
    "legs": len(legs),
    "leg_throughputs": [j["throughput_msgs_per_s"] for j in legs],
    # Median of the legs' percentiles: a summary, not a merged histogram.
    "latency_us": {k: statistics.median(j["latency_us"][k] for j in legs) for k in ("p50", "p99")},
    "dlr": dlr,
}
json.dump(out, open(stem + ".json", "w"))
open(stem + ".cpu", "w").write(f"{cpu}\n")
open(stem + ".machine", "w").write(f"{busy} {steal}\n")
