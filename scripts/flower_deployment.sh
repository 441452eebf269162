#!/usr/bin/env bash
# fedsim on Flower's deployment engine, on this machine: a SuperLink and one SuperNode per
# client on 127.0.0.1 (insecure, loopback only), then `flwr run` of this repository's
# ServerApp/ClientApp against that SuperLink.
#
#   scripts/flower_deployment.sh [CONFIG] [--set section.key=value ...] [--port P]
#                                [--supernodes N [--allow-mismatch]] [--timeout S]
#
# CONFIG and --set as for `fedsim run` (no CONFIG: the quickstart). Bad input exits 2 before
# anything is started or written. The run directory is created under run.runs_dir; the
# processes' logs go to RUN_DIR/deployment/. `flwr run` exits 0 even when the run failed, so
# the run's final status is read back with `flwr ls`: exit 0 only if it completed, 1 if not.
# The last stdout line is the run directory. Everything this script starts is stopped by pid
# when it exits, on error, Ctrl-C or SIGTERM too.
#   --port P        SuperLink on 127.0.0.1:P, SuperNode k on P+1+k (default: free ports)
#   --supernodes N  SuperNodes to start (default data.num_clients; another N is refused,
#                   exit 2, unless --allow-mismatch: then the ServerApp refuses it, exit 1)
#   --timeout S     seconds to wait for the SuperLink and all SuperNodes (default 120)
# FLWR_HOME: a private temporary one, unless set (then a `fedsim-deployment` connection is
# added to its config.toml). FEDSIM_PYTHON: the interpreter (default .venv/bin/python).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${FEDSIM_PYTHON:-$REPO/.venv/bin/python}
BIN=$(dirname "$PY")
CONN=fedsim-deployment
export PATH="$BIN:$PATH"  # Flower spawns flower-superexec, flwr-serverapp, flwr-clientapp by name
export FLWR_TELEMETRY_ENABLED="${FLWR_TELEMETRY_ENABLED:-0}"
export FLWR_DISABLE_UPDATE_CHECK="${FLWR_DISABLE_UPDATE_CHECK:-1}"
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION="${FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION:-1}"
export RAY_USAGE_STATS_ENABLED="${RAY_USAGE_STATS_ENABLED:-0}"
export UV_OFFLINE="${UV_OFFLINE:-1}"

die() { echo "flower_deployment.sh: error: $*" >&2; exit 2; }
helper() { "$PY" -m fedsim.engine.deployment "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- 1. arguments --------------------------------------------------------------------------
PREP=()
PORT=0
TIMEOUT=120
while (($#)); do
    case $1 in
        --set | --supernodes | --port | --timeout)
            (($# >= 2)) || die "$1 needs a value"
            case $1 in
                --set) PREP+=(--set "$2") ;;
                --supernodes) PREP+=(--supernodes "$2") ;;
                --port) PORT=$2 ;;
                --timeout) TIMEOUT=$2 ;;
            esac
            shift 2 ;;
        --allow-mismatch) PREP+=(--allow-mismatch); shift ;;
        -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1; allowed: --set, --supernodes, --allow-mismatch, --port, --timeout" ;;
        *) PREP+=("$1"); shift ;;
    esac
done
[[ $PORT =~ ^[0-9]+$ ]] || die "--port: '$PORT' is not a port number; allowed: 1024 to 65535"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout: '$TIMEOUT' is not a whole number of seconds > 0"
[[ -x $BIN/flower-superlink ]] || die "no flower-superlink next to $PY (make setup, or set FEDSIM_PYTHON)"

# ---- 2. stop everything we started, whatever happens ----------------------------------------
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fedsim-deploy.XXXXXX")
descendants() { local p; for p in $(pgrep -P "$1" || true); do echo "$p"; descendants "$p"; done; }
cleanup() {
    local rc=$? all=() pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do all+=("$pid" $(descendants "$pid")); done
    if ((${#all[@]})); then
        kill -TERM "${all[@]}" 2>/dev/null || true
        for _ in $(seq 50); do  # up to 10 s, then SIGKILL
            alive=(); for pid in "${all[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
            ((${#alive[@]})) || break
            sleep 0.2
        done
        ((${#alive[@]})) && kill -KILL "${alive[@]}" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [[ -z ${FLWR_HOME:-} ]]; then export FLWR_HOME=$WORK/flwr-home; fi

# ---- 3. validate config and ports (exit 2 on bad input), create the run directory ---------
PREPARED=$(helper prepare --out "$WORK/run-config.toml" --port "$PORT" "${PREP[@]}")
N=$(sed -n 1p <<<"$PREPARED")
RUN_DIR=$(sed -n 2p <<<"$PREPARED")
read -r -a PORTS <<<"$(sed -n 3p <<<"$PREPARED")"  # SuperLink, then one per SuperNode
LOGS=$RUN_DIR/deployment
mkdir -p "$LOGS"
helper connection "127.0.0.1:${PORTS[0]}"

# ---- 4. SuperLink + N SuperNodes, each on its own port --------------------------------------
LOGFILES=()
start() {  # start LOG CMD...: in the scratch folder, in the background, pid recorded
    local log=$1; shift
    (cd "$WORK" && exec "$@") >"$log" 2>&1 &
    PIDS+=($!)
    LOGFILES+=("$log")
}
T0=$(now)
start "$LOGS/superlink.log" "$BIN/flower-superlink" --insecure --host 127.0.0.1 \
    --port "${PORTS[0]}" --disable-runtime-dependency-installation
for ((k = 0; k < N; k++)); do
    start "$LOGS/supernode-$k.log" "$BIN/flower-supernode" --insecure \
        --superlink "127.0.0.1:${PORTS[0]}" --host 127.0.0.1 --port "${PORTS[k + 1]}" \
        --node-config "$(helper node-config "$k" "$N")"
done
online=0
while ((online < N)); do
    for i in "${!PIDS[@]}"; do
        kill -0 "${PIDS[i]}" 2>/dev/null && continue
        echo "${LOGFILES[i]##*/}: the process exited; its last lines:" >&2
        tail -n 5 "${LOGFILES[i]}" >&2
        exit 1
    done
    if awk -v t="$(since "$T0")" -v m="$TIMEOUT" 'BEGIN { exit !(t > m) }'; then
        echo "only $online of $N SuperNodes online after ${TIMEOUT} s; logs: $LOGS" >&2; exit 1
    fi
    sleep 1
    online=$("$BIN/flwr" supernode list "$CONN" --format json 2>/dev/null | helper online || true)
    online=${online:-0}
done
echo "deployment: SuperLink on 127.0.0.1:${PORTS[0]}, $N SuperNodes online after $(since "$T0") s" >&2

# ---- 5. the run, then its real outcome ------------------------------------------------------
T1=$(now)
"$BIN/flwr" run "$REPO" "$CONN" -c "$WORK/run-config.toml" --stream &
PIDS+=($!)
RUN_RC=0
wait "${PIDS[-1]}" || RUN_RC=$?
echo "deployment: flwr run returned $RUN_RC after $(since "$T1") s" >&2
"$BIN/flwr" ls "$CONN" --format json >"$LOGS/flwr-ls.json" 2>/dev/null || true
if helper outcome <"$LOGS/flwr-ls.json" >"$LOGS/outcome.txt"; then STATUS=0; else STATUS=1; fi
cat "$LOGS/outcome.txt" >&2
((STATUS == 0)) || echo "the run did not complete; logs: $LOGS" >&2
echo "$RUN_DIR"
exit "$STATUS"
