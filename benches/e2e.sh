#!/usr/bin/env bash
# End-to-end load benchmark: smppkit esme -> telegate -> smppkit smsc, and
# beside it smppkit esme -> smppkit relay -> smppkit smsc, in the same run,
# alternating, median of ROUNDS runs each. Also measures the resident memory
# of 10,000 idle ESME binds on telegate.
#
#   bash benches/e2e.sh            # full run (about 20 minutes)
#   COUNT=50000 ROUNDS=1 PAIR_ROUNDS=2 bash benches/e2e.sh   # quick look
#
# Needs ../shared/tools/smppkit (built here into target/smppkit) and python3.
#
# Two on/off comparisons, each of PAIR_ROUNDS rounds (default 20), window
# 256, 4 binds, receipts on. Each side of each round runs on a gateway of
# its own, started for that round (and WARM messages, not measured) and
# stopped after it: the two sides differ only in their config. A side's
# COUNT messages go in LEGS legs (default 4), interleaved with the other
# side's (see pair_round below).
# - The content filter's cost: [filter] on (built-in rules and model) or
#   not, both sent the ham texts of ../shared/data/sms/uci-test.tsv
#   (cycled; read from there, written only under target/).
# - The CDR writer's cost: [cdr] on (records on local disk under target/;
#   a submit record and a receipt record per message) or not.
#
#   ONLY=cdr bash benches/e2e.sh     # just the CDR on/off comparison
#   ONLY=filter bash benches/e2e.sh  # just the filter on/off comparison
#   FILTER_EXTRA='verdict_cache = 0' ONLY=filter bash benches/e2e.sh
#                                    # more [filter] keys for the filter side
#                                    # (here: every text analysed, none cached)
#   AA=1 ONLY=cdr bash benches/e2e.sh  # both sides off: how far apart two
#                                    # identical sides come out (A/A)
#   CDR_DIR=/some/dir                # where the CDR side writes, emptied each run (default
#                                    # target/e2e/cdr: local disk)
#
# Each on/off comparison reports throughput, the gateway's CPU time per
# message, and the whole machine's (every process and kernel thread, so
# the disk's writeback too: /proc/stat) per message.
#   WORKERS=1 bash benches/e2e.sh    # telegate and the relay on one thread each
#                                    # (the load tool and the simulator have the
#                                    # machine's other cores)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
COUNT=${COUNT:-200000}
ROUNDS=${ROUNDS:-5}
# 20 rounds: the 90 % intervals of 10-round CDR comparisons were 0.04-0.15
# wide, those of 20-round ones 0.03-0.05.
PAIR_ROUNDS=${PAIR_ROUNDS:-20}
IDLE_BINDS=${IDLE_BINDS:-10000}
SMPPKIT_SRC=${SMPPKIT_SRC:-../shared/tools/smppkit}
OUT=${OUT:-target/e2e}
mkdir -p "$OUT"

echo "building smppkit and telegate (release)..." >&2
CARGO_TARGET_DIR="$ROOT/target/smppkit" cargo build --release -q --manifest-path "$SMPPKIT_SRC/Cargo.toml"
cargo build --release -q -p telegate --bins
SMPPKIT="$ROOT/target/smppkit/release/smppkit"
TELEGATE="${CARGO_TARGET_DIR:-$ROOT/target}/release/telegate"
SIM="${CARGO_TARGET_DIR:-$ROOT/target}/release/telegate-sim"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

PIDS=()
# The gateways' DLR stores (mktemp directories, set below) go with them.
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${STORE:-}" "${SIDE_STORE:-}" "${SIDE_STORE2:-}"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not open" >&2; return 1; }

SMSC_PORT=$(free_port); RELAY_PORT=$(free_port); GW_PORT=$(free_port); SIDE_PORT=$(free_port); SIDE_PORT2=$(free_port)
ONLY=${ONLY:-all}
# Threads of telegate (server.workers) and of the relay; 0 = one per core.
WORKERS=${WORKERS:-0}
HAM="$OUT/ham.txt"
if [ -f ../shared/data/sms/uci-test.tsv ]; then
  awk -F'\t' '$1=="ham" {print $2}' ../shared/data/sms/uci-test.tsv >"$HAM"
else
  echo "../shared/data/sms/uci-test.tsv not found: the filter scenario is skipped" >&2
  : >"$HAM"
fi
"$SMPPKIT" smsc --listen "127.0.0.1:$SMSC_PORT" --dlr >"$OUT/smsc.log" 2>&1 & PIDS+=($!)
wait_port "$SMSC_PORT"
RELAY_THREADS=()
[ "$WORKERS" != 0 ] && RELAY_THREADS=(--threads "$WORKERS")
"$SMPPKIT" relay --listen "127.0.0.1:$RELAY_PORT" --upstream "127.0.0.1:$SMSC_PORT" "${RELAY_THREADS[@]}" >"$OUT/relay.log" 2>&1 & PIDS+=($!)
wait_port "$RELAY_PORT"

HASH=$(printf 'bench\n' | "$TELEGATE" hash-password)
STORE=$(mktemp -d)
cat >"$OUT/telegate.toml" <<TOML
[server]
listen = ["127.0.0.1:$GW_PORT"]
window = 256
deliver_window = 256
max_connections = $((IDLE_BINDS + 100))
inactivity_timeout = "10m"
workers = $WORKERS
enquire_link_interval = "5m"

[[account]]
system_id = "bench"
password_hash = "$HASH"
throughput = 0
max_binds = $((IDLE_BINDS + 100))

[[carrier]]
name = "smsc"
address = "127.0.0.1:$SMSC_PORT"
system_id = "telegate"
password = "bench"
bind = "trx"
binds = 4
window = 256

[[route]]
prefix = ""
carriers = ["smsc"]

[dlr]
store = "$STORE"
TOML
TELEGATE_LOG=warn "$TELEGATE" run --config "$OUT/telegate.toml" >"$OUT/telegate.log" 2>&1 & GW_PID=$!; PIDS+=($GW_PID)
# The on/off comparisons run each side on a gateway of its own, started
# fresh for the round and stopped after it, with emptied stores: the two
# sides differ in their config and in nothing else (pair_round below).
# (Two long-lived gateways, one per side, were not a fair pair: with both
# sides' configs the same, the second process was about 7 % slower than
# the first over 10 rounds, and its CPU per message 9 % higher.) AA=1 gives
# both sides the "off" config: that A/A run shows what the bench itself can
# tell apart. The configs are written for one slot (SIDE_PORT, SIDE_STORE,
# system_id "telegate-side"); start_side moves them to their slot.
SIDE_STORE=$(mktemp -d); SIDE_STORE2=$(mktemp -d)
CDR_DIR="${CDR_DIR:-$ROOT/$OUT/cdr}"
rm -f "$OUT"/*.cdr-bytes "$OUT"/*.leg*.json "$OUT"/*.leg*.cpu "$OUT"/*.leg*.machine
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$OUT/cdr-key"
sed -e "s|127.0.0.1:$GW_PORT|127.0.0.1:$SIDE_PORT|" -e "s|$STORE|$SIDE_STORE|" \
  -e 's|^system_id = "telegate"|system_id = "telegate-side"|' "$OUT/telegate.toml" >"$OUT/side-off.toml"
cp "$OUT/side-off.toml" "$OUT/side-filter.toml"
printf '\n[filter]\nenabled = true\n%b\n\n[suspension]\nenabled = false\n' "${FILTER_EXTRA:-}" >>"$OUT/side-filter.toml"
cp "$OUT/side-off.toml" "$OUT/side-cdr.toml"
printf '\n[cdr]\ndir = "%s"\npseudonym_key = { file = "%s" }\n' "$CDR_DIR" "$ROOT/$OUT/cdr-key" >>"$OUT/side-cdr.toml"
CDR_LABEL="window 256, 4 binds, receipts: CDRs on / off"
FILTER_LABEL="uci-test ham texts, window 256, 4 binds, receipts: filter on / off"
if [ "${AA:-0}" = 1 ]; then
  cp "$OUT/side-off.toml" "$OUT/side-filter.toml"
  cp "$OUT/side-off.toml" "$OUT/side-cdr.toml"
  CDR_LABEL="A/A (CDRs off on both sides), window 256, 4 binds, receipts: second / first"
  FILTER_LABEL="A/A (filter off on both sides), uci-test ham texts: second / first"
fi
wait_port "$GW_PORT"
sleep 1

run_esme() { # target port, window, connections, extra...
  local port=$1 window=$2 conns=$3; shift 3
  "$SMPPKIT" esme --target "127.0.0.1:$port" --system-id bench --password bench \
    --count "$COUNT" --window "$window" --connections "$conns" --json "$@" 2>/dev/null || true
}

# CPU time (user + system, all threads) a gateway spent on one run, in
# clock ticks: the second figure beside throughput, steadier on a shared VM.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The whole machine's busy ticks (user, nice, system, irq, softirq: every
# process and kernel thread, the disk's writeback too) and its steal.
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat; }
run_gw() { # name-who-round, gateway pid, then run_esme's arguments
  local tag=$1 pid=$2; shift 2
  local before m0 m1; before=$(cpu_ticks "$pid"); m0=$(machine_ticks)
  run_esme "$@" >"$OUT/$tag.json"
  echo $(( $(cpu_ticks "$pid") - before )) >"$OUT/$tag.cpu"
  m1=$(machine_ticks)
  echo "$m0 $m1" | awk '{print $3 - $1, $4 - $2}' >"$OUT/$tag.machine"
}

# One round of an on/off comparison. Both sides are up at once, each on a
# gateway of its own started for this round (its own port, DLR store and
# carrier system_id; the CDR side's directory emptied), warmed with WARM
# messages that are not measured. The measured COUNT messages of each side
# go in LEGS legs, the two sides' legs in the order A B B A A B B A ...
# (one gateway idles while the other is loaded), with GAP seconds after
# each leg: longer than the CDR writer's fsync interval (1 s), so the work
# a leg leaves behind (an fsync, disk writeback) is not done inside the
# other side's next leg. Legs of the two sides are a second or two apart,
# so a slow spell of this VM (they last seconds) falls on both sides
# alike. Which config takes which slot (port, system_id, first leg)
# alternates with the round. Then both stop cleanly (which drains the CDR
# writer).
WARM=${WARM:-20000}
LEGS=${LEGS:-4}
GAP=${GAP:-1.2}
LEG=$((COUNT / LEGS))
SIDE_PORTS=("$SIDE_PORT" "$SIDE_PORT2")
SIDE_STORES=("$SIDE_STORE" "$SIDE_STORE2")
start_side() { # slot (0 or 1), config; sets SIDE_PID
  local s=$1 conf=$2
  sed -e "s|127.0.0.1:$SIDE_PORT\"|127.0.0.1:${SIDE_PORTS[$s]}\"|" -e "s|$SIDE_STORE|${SIDE_STORES[$s]}|" \
    -e "s|\"telegate-side\"|\"telegate-side$s\"|" "$conf" >"$OUT/slot$s.toml"
  rm -rf "${SIDE_STORES[$s]}"; mkdir -p "${SIDE_STORES[$s]}"
  TELEGATE_LOG=warn "$TELEGATE" run --config "$OUT/slot$s.toml" >>"$OUT/side.log" 2>&1 &
  SIDE_PID=$!
  PIDS+=($SIDE_PID)
}
pair_round() { # round, scenario, tag A, config A, tag B, config B, esme args...
  local r=$1 scen=$2 ta=$3 ca=$4 tb=$5 cb=$6; shift 6
  local tags confs
  if [ $((r % 2)) = 1 ]; then tags=("$ta" "$tb"); confs=("$ca" "$cb"); else tags=("$tb" "$ta"); confs=("$cb" "$ca"); fi
  rm -rf "$CDR_DIR"
  local pids=() s
  for s in 0 1; do start_side "$s" "${confs[$s]}"; pids+=("$SIDE_PID"); done
  for s in 0 1; do wait_port "${SIDE_PORTS[$s]}"; done
  sleep 1 # their carrier binds
  for s in 0 1; do
    COUNT=$WARM run_esme "${SIDE_PORTS[$s]}" 256 4 "$@" >"$OUT/$scen-${tags[$s]}-$r.warm.json"
  done
  sleep "$GAP"
  local k
  for k in $(seq 0 $((2 * LEGS - 1))); do
    s=$(((k ^ (k >> 1)) & 1))
    COUNT=$LEG run_gw "$scen-${tags[$s]}-$r.leg$k" "${pids[$s]}" "${SIDE_PORTS[$s]}" 256 4 "$@"
    sleep "$GAP"
  done
  for s in 0 1; do kill -TERM "${pids[$s]}"; done
  for s in 0 1; do wait "${pids[$s]}" 2>/dev/null || true; done
  for s in 0 1; do
    python3 "$ROOT/benches/e2e_legs.py" "$OUT/$scen-${tags[$s]}-$r" "$LEG" "$OUT/$scen-${tags[$s]}-$r".leg*.json
  done
  if [ -d "$CDR_DIR" ]; then du -sb "$CDR_DIR" | cut -f1 >"$OUT/$scen-cdr-$r.cdr-bytes"; fi
}

# The reports of the two comparisons (benches/e2e_pairs.py).
pairs_report() { # scenario, base tag, other tag, label, target
  python3 "$ROOT/benches/e2e_pairs.py" "$OUT" "$PAIR_ROUNDS" "$((LEG * LEGS))" "$(getconf CLK_TCK)" "$@"
}
cdr_report() { pairs_report cdr telegate cdr "$CDR_LABEL" 0.90; }
filter_report() { pairs_report ham telegate filtered "$FILTER_LABEL" 0.85; }

filter_rounds() {
  for r in $(seq 1 "$PAIR_ROUNDS"); do
    pair_round "$r" ham telegate "$OUT/side-off.toml" filtered "$OUT/side-filter.toml" \
      --expect-dlr --text-file "$HAM"
  done
}

if [ "$ONLY" = filter ]; then
  filter_rounds
  filter_report
  exit 0
fi

for r in $(seq 1 "$PAIR_ROUNDS"); do
  pair_round "$r" cdr telegate "$OUT/side-off.toml" cdr "$OUT/side-cdr.toml" --expect-dlr
done
# What the CDR side wrote: warm-up and measured run, per message.
BYTES=("$OUT"/cdr-cdr-*.cdr-bytes)
if [ -e "${BYTES[0]}" ]; then
  awk -v n=$((WARM + LEG * LEGS)) '{s += $1; k++}
    END {printf "CDR directory after each run: %.0f bytes per message (%d runs)\n", s / k / n, k}' "${BYTES[@]}"
fi
if [ "$ONLY" = cdr ]; then
  cdr_report
  exit 0
fi

declare -A RES
# Both sides warmed first, unmeasured, as the on/off sides are: a fresh
# gateway's first run also pays for its first touch of memory (the DLR
# index's tables, the allocator's pages).
COUNT=$WARM run_esme "$RELAY_PORT" 256 4 --expect-dlr >"$OUT/w256c4dlr-relay.warm.json"
COUNT=$WARM run_esme "$GW_PORT" 256 4 --expect-dlr >"$OUT/w256c4dlr-telegate.warm.json"
for scen in "w256c4dlr 256 4 --expect-dlr" "w64c1 64 1"; do
  set -- $scen; name=$1; window=$2; conns=$3; shift 3
  for r in $(seq 1 "$ROUNDS"); do
    run_esme "$RELAY_PORT" "$window" "$conns" "$@" >"$OUT/$name-relay-$r.json"
    run_esme "$GW_PORT" "$window" "$conns" "$@" >"$OUT/$name-telegate-$r.json"
  done
done

if [ -s "$HAM" ]; then
  filter_rounds
fi

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
RSS_BEFORE=$(rss_kib "$GW_PID")
"$SIM" binds --target "127.0.0.1:$GW_PORT" --system-id bench --password bench \
  --count "$IDLE_BINDS" --hold-s 8 >"$OUT/idle.log" 2>&1 & IDLE_PID=$!
sleep 6
RSS_DURING=$(rss_kib "$GW_PID")
wait "$IDLE_PID" || true

python3 - "$OUT" "$ROUNDS" "$RSS_BEFORE" "$RSS_DURING" "$IDLE_BINDS" <<'PY'
import json, statistics, sys, os
out, rounds, before, during, idle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def load(name, who):
    rows = []
    for r in range(1, rounds + 1):
        p = os.path.join(out, f"{name}-{who}-{r}.json")
        try:
            rows.append(json.load(open(p)))
        except Exception:
            pass
    return rows
def med(rows, f):
    v = [f(r) for r in rows]
    return statistics.median(v) if v else float('nan')
print(f"{'scenario':<22}{'who':<10}{'msg/s':>12}{'p50 us':>9}{'p99 us':>9}{'ok':>9}{'dlr matched':>13}")
res = {}
for name in ["w256c4dlr", "w64c1"]:
    for who in ["relay", "telegate"]:
        rows = load(name, who)
        tp = med(rows, lambda r: r["throughput_msgs_per_s"])
        p50 = med(rows, lambda r: r["latency_us"]["p50"])
        p99 = med(rows, lambda r: r["latency_us"]["p99"])
        ok = med(rows, lambda r: r["ok"])
        dm = med(rows, lambda r: (r.get("dlr") or {}).get("matched", 0))
        res[(name, who)] = (tp, p99)
        print(f"{name:<22}{who:<10}{tp:>12.0f}{p50:>9.0f}{p99:>9.0f}{ok:>9.0f}{dm:>13.0f}")
tp_ratio = res[("w256c4dlr", "telegate")][0] / res[("w256c4dlr", "relay")][0]
p99_delta = res[("w64c1", "telegate")][1] - res[("w64c1", "relay")][1]
per_bind = (during - before) / idle
for who in ["telegate", "filtered"]:
    rows = load("ham", who)
    if rows:
        tp = med(rows, lambda r: r["throughput_msgs_per_s"])
        p50 = med(rows, lambda r: r["latency_us"]["p50"])
        p99 = med(rows, lambda r: r["latency_us"]["p99"])
        ok = med(rows, lambda r: r["ok"])
        dm = med(rows, lambda r: (r.get("dlr") or {}).get("matched", 0))
        print(f"{'ham-w256c4dlr':<22}{who:<10}{tp:>12.0f}{p50:>9.0f}{p99:>9.0f}{ok:>9.0f}{dm:>13.0f}")
print()
print(f"window 256, 4 binds, receipts: telegate/relay throughput = {tp_ratio:.2f}  (target >= 0.50)")
print(f"window 64, 1 bind: telegate p99 - relay p99 = {p99_delta/1000:.2f} ms  (target <= 1 ms)")
print(f"{idle} idle binds: RSS {before} KiB -> {during} KiB = {per_bind:.1f} KiB per bind  (target <= 64)")
PY
cdr_report
if [ -s "$HAM" ]; then
  filter_report
fi
