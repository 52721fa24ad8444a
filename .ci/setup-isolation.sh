#!/usr/bin/env bash
# Provisions both restricted-mode backends for the tests, so that neither is
# ever skipped in CI:
#
# - the sandbox: bubblewrap (bwrap), util-linux's setpriv (a root engine starts
#   sandboxed plugins as uid 65534 with it) and libseccomp (the sandbox's
#   seccomp filter); docs/sandbox.md says what each is for;
# - Docker: installs and starts an engine, and makes the base image plugin
#   Dockerfiles build FROM (python:3.11-slim) without any container registry:
#   the image is a debootstrapped Debian with python3 (docs/docker.md).
#
# Fails, naming what is missing, when a tool is still missing after installing.
# Idempotent: every step is skipped when its result is already there, so a
# second run takes about a second.
set -euo pipefail

BASE_IMAGE="${WORKFLOW_BASE_IMAGE:-python:3.11-slim}"
SUITE="bookworm"
CACHE_DIR="/var/cache/workflow-plugins"
ROOTFS_TARBALL="$CACHE_DIR/rootfs-$SUITE-python3.tar"
DOCKERD_LOG="/tmp/dockerd.log"
DOCKERD_PIDFILE="/var/run/docker.pid"
DOCKERD_READY_TIMEOUT_S=60

log() { printf 'setup-isolation: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  die "run as root (it installs packages and starts dockerd)"
fi

has_libseccomp() { ldconfig -p 2>/dev/null | grep 'libseccomp\.so\.2 ' >/dev/null; }  # not grep -q: with pipefail, ldconfig's SIGPIPE would fail it

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
  has_libseccomp || missing+=(libseccomp2)
  command -v jq >/dev/null 2>&1 || missing+=(jq)  # not isolation: the docs' samples pipe --json into it (tests/docs)
  if [ "${#missing[@]}" -eq 0 ]; then
    log "packages already installed"
    return
  fi
  log "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Every tool the tests need, found after installing: a package that installed
# nothing usable fails here, by name, not as skipped or failing tests later.
require_tools() {
  local tool missing=()
  for tool in dockerd docker debootstrap bwrap setpriv jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  has_libseccomp || missing+=(libseccomp.so.2)
  [ "${#missing[@]}" -eq 0 ] || die "still missing after installing: ${missing[*]}"
}

# A sandbox started with new namespaces, and setpriv becoming uid 65534 without
# capabilities, as the engine's sandboxes do: bwrap installed but unable to
# start a sandbox (user namespaces disabled) fails here, in bwrap's own words.
check_sandbox() {
  local out
  out=$(bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev -- /bin/true 2>&1) \
    || die "bubblewrap cannot start a sandbox here: $out"
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- /bin/true 2>&1) \
    || die "setpriv cannot drop to uid 65534 here: $out"
  log "bubblewrap starts sandboxes, setpriv drops to uid 65534"
}

docker_answers() { docker info >/dev/null 2>&1; }

# True when $1 is the pid of a running (not zombie) dockerd.
live_dockerd() {
  local pid="$1" stat
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  grep -qx dockerd "/proc/$pid/comm" 2>/dev/null || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != "Z" ]
}

start_dockerd() {
  if docker_answers; then
    log "dockerd already answers"
    return
  fi
  # A pid file left by a daemon that died with the previous machine session
  # makes dockerd refuse to start when its pid now belongs to another process.
  # (Even a killed daemon still awaiting its reaping, a zombie, counts for dockerd.)
  if [ -f "$DOCKERD_PIDFILE" ] && ! live_dockerd "$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)"; then
    rm -f "$DOCKERD_PIDFILE"
  fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  # --bridge=none/--iptables=false: this machine has no bridge networking;
  # containers get the `none` or `host` network only. setsid + nohup detach
  # it so it outlives this script and CI's shell.
  setsid nohup dockerd --bridge=none --iptables=false >"$DOCKERD_LOG" 2>&1 </dev/null &
  local dockerd_pid=$! waited=0
  until docker_answers; do
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      die "dockerd exited at start; see $DOCKERD_LOG"
    fi
    if [ "$waited" -ge $((DOCKERD_READY_TIMEOUT_S * 2)) ]; then
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      die "dockerd did not answer within ${DOCKERD_READY_TIMEOUT_S}s; see $DOCKERD_LOG"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  log "dockerd is ready"
}

apt_mirror() {
  # Never hard-code the mirror: use the one this machine's apt is set up with.
  local sources="/etc/apt/sources.list.d/debian.sources" mirror=""
  if [ -f "$sources" ]; then
    mirror=$(awk '/^URIs:/{print $2; exit}' "$sources")
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$mirror" ] || die "no Debian mirror found in $sources or /etc/apt/sources.list"
  printf '%s\n' "$mirror"
}

build_rootfs_tarball() {
  local rootfs mirror
  mirror=$(apt_mirror)
  rootfs=$(mktemp -d /tmp/workflow-rootfs.XXXXXX)
  # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
  trap "rm -rf '$rootfs'" EXIT
  log "debootstrap $SUITE from $mirror (about a minute)"
  debootstrap --variant=minbase --include=python3,python-is-python3 "$SUITE" "$rootfs" "$mirror" >/tmp/debootstrap.log 2>&1 \
    || { tail -n 20 /tmp/debootstrap.log >&2; die "debootstrap failed; see /tmp/debootstrap.log"; }
  mkdir -p "$CACHE_DIR"
  tar -C "$rootfs" \
    --exclude=./var/cache/apt/archives --exclude=./var/lib/apt/lists \
    --exclude=./usr/share/doc --exclude=./usr/share/locale --exclude=./usr/share/man \
    -cf "$ROOTFS_TARBALL.partial" .
  mv "$ROOTFS_TARBALL.partial" "$ROOTFS_TARBALL"
  rm -rf "$rootfs"
  trap - EXIT
}

ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "image $BASE_IMAGE already present"
    return
  fi
  if [ ! -s "$ROOTFS_TARBALL" ]; then
    build_rootfs_tarball
  else
    log "re-importing cached $ROOTFS_TARBALL"
  fi
  docker import -c 'CMD ["python3"]' "$ROOTFS_TARBALL" "$BASE_IMAGE" >/dev/null
  log "imported $BASE_IMAGE"
}

install_packages
require_tools
check_sandbox
start_dockerd
ensure_base_image
