#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (for CI; run as root).
#
#   bash .ci/slurm-up.sh STATE_DIR    # installs with apt if needed, starts munged, slurmctld, slurmd
#   bash .ci/slurm-down.sh STATE_DIR  # stops exactly those daemons, by PID, and removes slurm.conf
#
# The node is this machine with its real CPUs and memory (from `slurmd -C`). No
# accounting (so Snakemake queries job states with squeue, and MinJobAge keeps
# finished jobs visible to it) and no cgroups (containers often lack them).
set -euo pipefail

state=${1:?usage: slurm-up.sh STATE_DIR}
mkdir -p "$state"
state=$(cd "$state" && pwd)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: authentication between the SLURM daemons and clients; must run as `munge`.
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
runuser -u munge -- munged --pid-file=/run/munge/munged.pid
cp /run/munge/munged.pid "$state/munged.pid"

# slurm.conf for one node: this machine as `slurmd -C` describes it.
node_line=$(slurmd -C | head -n 1)
node=$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$node_line")
mkdir -p /etc/slurm "$state/spool/ctld" "$state/spool/d" "$state/log"
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=visreason-ci
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
$node_line State=UNKNOWN
PartitionName=ci Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld
slurmd
# Wait until the node accepts jobs.
for _ in $(seq 60); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "SLURM up: node $node ($(sinfo -h -N -o '%c CPUs, %m MB')), partition ci"
        exit 0
    fi
    sleep 1
done
echo "SLURM did not come up; logs in $state/log" >&2
sinfo -N -l >&2 || true
exit 1
