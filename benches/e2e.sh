#!/usr/bin/env bash
# End-to-end load benchmark: smppkit esme -> telegate -> smppkit smsc, and
# beside it smppkit esme -> smppkit relay -> smppkit smsc, in the same run,
# alternating, median of ROUNDS runs each. Also measures the resident memory
# of 10,000 idle ESME binds on telegate.
#
#   bash benches/e2e.sh            # full run (about 5 minutes)
#   COUNT=50000 ROUNDS=1 bash benches/e2e.sh   # quick look
#
# Needs ../shared/tools/smppkit (built here into target/smppkit) and python3.
#
# The content filter's cost: a second telegate with [filter] on (built-in
# rules and model) beside the first, both sent the ham texts of
# ../shared/data/sms/uci-test.tsv (cycled; read from there, written only
# under target/), window 256, 4 binds, receipts on; filtered/unfiltered.
#
# The CDR writer's cost: a third telegate with [cdr] on (records on local
# disk under target/), window 256, 4 binds, receipts on (a submit record and
# a receipt record per message); with CDRs / without.
#
#   ONLY=cdr bash benches/e2e.sh     # just the CDR on/off comparison
#   CDR_DIR=/some/dir                # where that gateway's CDRs go (default
#                                    # target/e2e/cdr: local disk)
#
# Each on/off comparison reports throughput, the gateway's CPU time per
# message, and the whole machine's (every process and kernel thread, so
# the disk's writeback too: /proc/stat) per message.
#   ONLY=filter bash benches/e2e.sh  # just the filter on/off comparison
#   WORKERS=1 bash benches/e2e.sh    # telegate and the relay on one thread each
#                                    # (the load tool and the simulator have the
#                                    # machine's other cores)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
COUNT=${COUNT:-200000}
ROUNDS=${ROUNDS:-3}
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
  rm -rf "${STORE:-}" "${STORE_F:-}" "${STORE_C:-}"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not open" >&2; return 1; }

SMSC_PORT=$(free_port); RELAY_PORT=$(free_port); GW_PORT=$(free_port); GWF_PORT=$(free_port); GWC_PORT=$(free_port)
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
STORE_F=$(mktemp -d)
# Its own carrier system_id: the smsc sends each system_id's receipts to
# that system_id's binds.
sed -e "s|127.0.0.1:$GW_PORT|127.0.0.1:$GWF_PORT|" -e "s|$STORE|$STORE_F|" \
  -e 's|^system_id = "telegate"|system_id = "telegate-f"|' "$OUT/telegate.toml" >"$OUT/telegate-filter.toml"
printf '\n[filter]\nenabled = true\n\n[suspension]\nenabled = false\n' >>"$OUT/telegate-filter.toml"
TELEGATE_LOG=warn "$TELEGATE" run --config "$OUT/telegate-filter.toml" >"$OUT/telegate-filter.log" 2>&1 & GWF_PID=$!; PIDS+=($GWF_PID)
STORE_C=$(mktemp -d)
CDR_DIR="${CDR_DIR:-$ROOT/$OUT/cdr}"
rm -rf "$CDR_DIR"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$OUT/cdr-key"
sed -e "s|127.0.0.1:$GW_PORT|127.0.0.1:$GWC_PORT|" -e "s|$STORE|$STORE_C|" \
  -e 's|^system_id = "telegate"|system_id = "telegate-c"|' "$OUT/telegate.toml" >"$OUT/telegate-cdr.toml"
printf '\n[cdr]\ndir = "%s"\npseudonym_key = { file = "%s" }\n' "$CDR_DIR" "$ROOT/$OUT/cdr-key" >>"$OUT/telegate-cdr.toml"
TELEGATE_LOG=warn "$TELEGATE" run --config "$OUT/telegate-cdr.toml" >"$OUT/telegate-cdr.log" 2>&1 & GWC_PID=$!; PIDS+=($GWC_PID)
wait_port "$GW_PORT"
wait_port "$GWF_PORT"
wait_port "$GWC_PORT"
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

# One round of an on/off comparison; even rounds run the two sides in the
# other order, so a drift of the machine over the run favours neither.
pair_round() { # round, scenario, tag A, pid A, port A, tag B, pid B, port B, esme args...
  local r=$1 scen=$2 ta=$3 pa=$4 qa=$5 tb=$6 pb=$7 qb=$8; shift 8
  if [ $((r % 2)) = 1 ]; then
    run_gw "$scen-$ta-$r" "$pa" "$qa" 256 4 "$@"
    run_gw "$scen-$tb-$r" "$pb" "$qb" 256 4 "$@"
  else
    run_gw "$scen-$tb-$r" "$pb" "$qb" 256 4 "$@"
    run_gw "$scen-$ta-$r" "$pa" "$qa" 256 4 "$@"
  fi
}

filter_rounds() {
  for r in $(seq 1 "$ROUNDS"); do
    pair_round "$r" ham telegate "$GW_PID" "$GW_PORT" filtered "$GWF_PID" "$GWF_PORT" \
      --expect-dlr --text-file "$HAM"
  done
}

if [ "$ONLY" = filter ]; then
  filter_rounds
  python3 "$ROOT/benches/e2e_pairs.py" "$OUT" "$ROUNDS" "$COUNT" "$(getconf CLK_TCK)" ham telegate filtered \
    "uci-test ham texts, window 256, 4 binds, receipts: filter on / off" 0.85
  exit 0
fi

for r in $(seq 1 "$ROUNDS"); do
  pair_round "$r" cdr telegate "$GW_PID" "$GW_PORT" cdr "$GWC_PID" "$GWC_PORT" --expect-dlr
done
if [ "$ONLY" = cdr ]; then
  python3 "$ROOT/benches/e2e_pairs.py" "$OUT" "$ROUNDS" "$COUNT" "$(getconf CLK_TCK)" cdr telegate cdr \
    "window 256, 4 binds, receipts: CDRs on / off" 0.90
  exit 0
fi

declare -A RES
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
python3 "$ROOT/benches/e2e_pairs.py" "$OUT" "$ROUNDS" "$COUNT" "$(getconf CLK_TCK)" cdr telegate cdr \
  "window 256, 4 binds, receipts: CDRs on / off" 0.90
if [ -s "$HAM" ]; then
  python3 "$ROOT/benches/e2e_pairs.py" "$OUT" "$ROUNDS" "$COUNT" "$(getconf CLK_TCK)" ham telegate filtered \
    "uci-test ham texts, window 256, 4 binds, receipts: filter on / off" 0.85
fi
