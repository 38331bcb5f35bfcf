"""Reports an on/off comparison of benches/e2e.sh: two sides (configs), each
on a gateway of its own started for the round, loaded in interleaved legs
(summed per side by e2e_legs.py).

    e2e_pairs.py OUT ROUNDS COUNT CLK_TCK SCENARIO BASE OTHER LABEL TARGET

Reads OUT/SCENARIO-{BASE,OTHER}-{round}.json (a side's legs, summed),
.cpu (the gateway's CPU ticks over them) and .machine. Prints each
round, then:
- the median of the per-round throughput ratios, the figure held against
  the target: the two sides of a round were up together and loaded in
  turn, in interleaved legs, so a slow spell of the shared machine hits
  both sides of a pair and a drift favours neither; the ratio of the
  median throughputs, beside it, sets rounds from different spells against
  each other; the per-round ratios and a bootstrap interval of their
  median show the spread;
- the gateway's CPU time per message on each side, and their ratio, and
  the whole machine's.
"""
import json
import os
import random
import statistics
import sys

out, rounds, count, tck = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scen, base, other, label, target = sys.argv[5:10]
target = float(target)


def run(who, r):
    stem = os.path.join(out, f"{scen}-{who}-{r}")
    try:
        j = json.load(open(stem + ".json"))
    except (OSError, ValueError):
        return None
    try:
        cpu_us = int(open(stem + ".cpu").read()) * 1e6 / tck / count
    except (OSError, ValueError):
        cpu_us = float("nan")
    try:
        busy, steal = map(int, open(stem + ".machine").read().split())
        machine_us = busy * 1e6 / tck / count
        steal_us = steal * 1e6 / tck / count
    except (OSError, ValueError):
        machine_us = steal_us = float("nan")
    return j, cpu_us, machine_us, steal_us


pairs = []
for r in range(1, rounds + 1):
    a, b = run(base, r), run(other, r)
    for who, x in ((base, a), (other, b)):
        if x:
            j, cpu, machine, steal = x
            print(f"{scen} {who:<10} round {r}: {j['throughput_msgs_per_s']:>8.0f} msg/s, "
                  f"{cpu:5.1f} us CPU/msg, machine {machine:5.1f} us/msg (steal {steal:4.1f}), "
                  f"ok {j['ok']}, dlr {(j.get('dlr') or {}).get('matched', 0)}")
    if a and b:
        pairs.append((a, b))
if not pairs:
    print(f"{label}: no complete round")
    sys.exit(0)
tp = lambda x: x[0]["throughput_msgs_per_s"]
med_a = statistics.median(tp(a) for a, _ in pairs)
med_b = statistics.median(tp(b) for _, b in pairs)
ratios = [tp(b) / tp(a) for a, b in pairs]
paired = statistics.median(ratios)
cpu_a = statistics.median(a[1] for a, _ in pairs)
cpu_b = statistics.median(b[1] for _, b in pairs)
print(f"{label} throughput = {paired:.2f}, median of {len(pairs)} paired rounds "
      f"(ratio of medians {med_b / med_a:.2f}: {med_b:.0f} / {med_a:.0f} msg/s)  "
      f"(target >= {target:.2f})")
print(f"{label} per-round ratios: " + " ".join(f"{x:.2f}" for x in ratios))
if len(ratios) >= 5:
    # How far the median could be from the one a longer run would give: a
    # bootstrap over the rounds (fixed seed, so a report can be re-derived).
    rng = random.Random(1)
    boot = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(2000))
    print(f"{label} median's 90 % bootstrap interval: {boot[100]:.2f} - {boot[1899]:.2f}")
print(f"{label} gateway CPU per message = {cpu_b:.1f} / {cpu_a:.1f} us = {cpu_b / cpu_a:.2f}")
mach_a = statistics.median(a[2] for a, _ in pairs)
mach_b = statistics.median(b[2] for _, b in pairs)
print(f"{label} machine CPU per message (every process and kernel thread) = "
      f"{mach_b:.1f} / {mach_a:.1f} us = {mach_b / mach_a:.2f}")
