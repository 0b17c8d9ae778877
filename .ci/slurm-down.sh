#!/usr/bin/env bash
# Stop the daemons that .ci/slurm-up.sh started, by their PIDs.
set -euo pipefail
state=${1:?usage: slurm-down.sh STATE_DIR}
for daemon in slurmd slurmctld munged; do
    pidfile="$state/$daemon.pid"
    [[ -s "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        echo "stopped $daemon (pid $pid)"
    fi
    rm -f "$pidfile"
done
