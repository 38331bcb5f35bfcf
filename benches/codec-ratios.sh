#!/usr/bin/env bash
# Telegate's SMPP codec against rusmpp, robust to this kind of machine's
# noise: timings of small encode loops move by up to 60 % with where the
# stack lands relative to the output buffer (4K aliasing), for both codecs.
# So the criterion bench runs once per stack position (ASLR off, the
# environment padded in 128-octet steps) and the median of each mean is
# reported, with the ratio rusmpp / ours.
#
#   bash benches/codec-ratios.sh [runs]      (default 8 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-8}
cargo bench --bench smpp_codec --no-run >/dev/null 2>&1
bench=$(cargo bench --bench smpp_codec --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -n 1)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq 0 $((runs - 1))); do
  pad=$(head -c $((i * 128)) /dev/zero | tr '\0' x)
  PADDING="$pad" setarch "$(uname -m)" -R "$bench" --bench '^(decode|encode)/' \
    --measurement-time 1 --warm-up-time 1 2>/dev/null |
    awk '/^(decode|encode)\// { name = $1 } /time:/ && name != "" {
           v = $(NF - 3); u = $(NF - 2)
           if (u == "µs") v *= 1000; else if (u == "ps") v /= 1000
           print name, v; name = "" }' >>"$out"
done
python3 - "$out" <<'PY'
import statistics, sys
from collections import defaultdict
t = defaultdict(list)
for line in open(sys.argv[1]):
    name, v = line.split()
    t[name].append(float(v))
groups = sorted({n.rsplit('/', 1)[0] for n in t})
print(f"{'group':32} {'ours ns':>9} {'rusmpp ns':>10} {'ratio':>6}  (median of {len(next(iter(t.values())))} runs)")
for g in groups:
    o, r = statistics.median(t[g + '/telegate']), statistics.median(t[g + '/rusmpp'])
    print(f"{g:32} {o:9.1f} {r:10.1f} {r / o:6.2f}")
PY
