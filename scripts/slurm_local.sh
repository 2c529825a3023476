#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for testing `hydra/launcher=slurm` against a real sbatch:
#   bash scripts/slurm_local.sh start    # apt-get installs slurmctld, slurmd, munge if missing; starts them
#   bash scripts/slurm_local.sh status   # exit 0 when the node answers and is idle/mixed/allocated
#   bash scripts/slurm_local.sh stop     # stops the daemons, removes the config and the state folder
# Debian/Ubuntu packages (bookworm: Slurm 22.05), no systemd needed: the daemons are started directly.
# One node named after `hostname -s`, with the CPUs and memory `slurmd -C` measures, one partition
# "local". The daemons talk over 127.0.0.1; their ports (6817/6818) accept only munge-signed messages,
# with a key made at start in the state folder (0600, root) and deleted at stop. No cgroups, no
# accounting database (so no sacct). Needs root (or sudo). Exit codes: 0 ok, 3 cannot install or run
# (no apt, not root), 1 the daemons did not come up (their logs are printed).
# Environment: SLURM_LOCAL_DIR (state folder, default /tmp/htr-slurm), SLURM_LOCAL_PARTITION (default local).
set -uo pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/htr-slurm}
PARTITION=${SLURM_LOCAL_PARTITION:-local}
CONF=/etc/slurm/slurm.conf
MARK="# written by htr-lit scripts/slurm_local.sh"
PKGS="slurmctld slurmd slurm-client munge"
SUDO=""
[ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && SUDO="sudo -n"

die3() { echo "slurm_local: $*" >&2; exit 3; }

need_root() {
  [ "$(id -u)" = 0 ] || [ -n "$SUDO" ] || die3 "needs root or passwordless sudo to $1"
}

install_packages() {
  local missing="" p
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  command -v apt-get >/dev/null 2>&1 || die3 "apt-get not found; install$missing yourself (Slurm >= 22.05)"
  need_root "apt-get install$missing"
  echo "slurm_local: apt-get install$missing"
  # Containers ship a policy-rc.d that keeps the packages from starting their services; where there is
  # none, the services may start here and are replaced by ours below (we stop anything on our ports).
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 $missing >/dev/null || die3 "apt-get install$missing failed"
}

write_conf() {
  local host node
  host=$(hostname -s)
  node=$(slurmd -C | head -1)  # NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ThreadsPerCore=.. RealMemory=..
  [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF" && die3 "$CONF exists and is not ours; not touching a real cluster's config"
  $SUDO mkdir -p /etc/slurm "$DIR/state" "$DIR/spool" && $SUDO touch "$DIR/.htr-slurm"
  $SUDO tee "$CONF" >/dev/null <<EOF
$MARK (stop removes it)
ClusterName=htrlocal
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
PropagatePrioProcess=1
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  local m="$DIR/munge"
  $SUDO mkdir -p "$m" && $SUDO chmod 700 "$DIR" "$m"
  [ -s "$m/munge.key" ] || $SUDO mungekey --create --keyfile="$m/munge.key" || return 1
  $SUDO chmod 600 "$m/munge.key"
  $SUDO munged --force --key-file="$m/munge.key" --socket="$m/munge.socket" --pid-file="$m/munged.pid" \
    --log-file="$m/munged.log" --seed-file="$m/munged.seed"
}

node_state() {  # idle, mixed, allocated, down, ... ; empty when slurmctld does not answer
  [ -f "$CONF" ] || return 0
  sinfo -h -N -n "$(hostname -s)" -o %T 2>/dev/null | head -1 | tr -d '*~#'
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

status() {
  local state f
  if ! grep -qsF "$MARK" "$CONF"; then echo "slurm_local: not running"; return 1; fi
  for f in "$DIR/munge/munged.pid" "$DIR/slurmctld.pid" "$DIR/slurmd.pid"; do
    pid_alive "$f" || { echo "slurm_local: not running ($(basename "$f" .pid) is down)"; return 1; }
  done
  state=$(node_state)
  case "$state" in
    idle|mixed|allocated|completing)
      echo "slurm_local: up, node $(hostname -s) $state, partition $PARTITION ($CONF, state in $DIR)"; return 0 ;;
    "") echo "slurm_local: not running"; return 1 ;;
    *) echo "slurm_local: node $(hostname -s) is $state"; return 1 ;;
  esac
}

stop() {
  local f pid
  for f in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"; do
    pid_alive "$f" || continue
    pid=$(cat "$f")
    $SUDO kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid" 2>/dev/null
  done
  [ -f "$CONF" ] && grep -qF "$MARK" "$CONF" && $SUDO rm -f "$CONF"
  [ -f "$DIR/.htr-slurm" ] && $SUDO rm -rf "$DIR"  # only a folder this script made
  echo "slurm_local: stopped"
}

start() {
  if status >/dev/null; then status; return 0; fi
  install_packages
  need_root "start slurmctld and slurmd"
  stop >/dev/null  # whatever a half start left
  write_conf
  start_munge || { echo "slurm_local: munged did not start" >&2; cat "$DIR/munge/munged.log" >&2; exit 1; }
  $SUDO slurmctld -c -i || { echo "slurm_local: slurmctld did not start" >&2; cat "$DIR/slurmctld.log" >&2; exit 1; }
  $SUDO slurmd || { echo "slurm_local: slurmd did not start" >&2; cat "$DIR/slurmd.log" >&2; exit 1; }
  for _ in $(seq 60); do
    case "$(node_state)" in idle|mixed|allocated) status; return 0 ;; esac
    sleep 0.5
  done
  echo "slurm_local: node $(hostname -s) not idle after 30 s (state: '$(node_state)')" >&2
  tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2
  exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
