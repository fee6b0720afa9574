#!/usr/bin/env bash
# Start NAT-T Lab for a class: N Streamlit processes on loopback ports behind nginx (Debian's).
#
#   deploy/start.sh [processes=2] [listen=127.0.0.1:8080]
#
# Each process runs `streamlit run app.py` on 127.0.0.1:(8601+i); nginx listens on `listen` and
# keeps every browser on one process (deploy/nginx.conf.template). Ctrl-C (or SIGTERM) stops all.
# Needs: nginx (apt-get install nginx-light), the Python requirements (requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PROCESSES=${1:-2}
LISTEN=${2:-127.0.0.1:8080}
BASE_PORT=${NATT_BASE_PORT:-8601}
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/natt-lab-nginx.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT INT TERM

upstreams=""
for ((i = 0; i < PROCESSES; i++)); do
    port=$((BASE_PORT + i))
    python -m streamlit run app.py --server.headless true --server.address 127.0.0.1 --server.port "$port" \
        --browser.gatherUsageStats false --server.fileWatcherType none >"$RUN_DIR/streamlit-$port.log" 2>&1 &
    pids+=($!)
    upstreams+="        server 127.0.0.1:$port;"$'\n'
done
for ((i = 0; i < PROCESSES; i++)); do
    port=$((BASE_PORT + i))
    for _ in $(seq 120); do
        curl -fs "http://127.0.0.1:$port/_stcore/health" >/dev/null 2>&1 && break
        sleep 0.25
    done
done
mkdir -p "$RUN_DIR"/{body,proxy,fastcgi,uwsgi,scgi}
export RUN_DIR LISTEN UPSTREAMS="$upstreams"
python - "$RUN_DIR/nginx.conf" <<'PY'
import os, sys
text = open("deploy/nginx.conf.template").read()
for key in ("RUN_DIR", "LISTEN", "UPSTREAMS"):
    text = text.replace("${%s}" % key, os.environ[key])
open(sys.argv[1], "w").write(text)
PY
nginx -t -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" 2>>"$RUN_DIR/error.log"
nginx -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" &
pids+=($!)
echo "NAT-T Lab: http://$LISTEN  ($PROCESSES Streamlit processes from port $BASE_PORT; logs in $RUN_DIR)"
wait -n "${pids[@]}"
