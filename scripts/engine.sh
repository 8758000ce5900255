#!/usr/bin/env bash
# Make sure a Docker engine answers; where none does, install a current one and start
# two engines, one per image store.
#
#   DOCKER_HOST set        it must answer (`docker info`), else one line and exit 1;
#                          nothing is installed or started
#   `docker info` answers  a contributor's own Docker: nothing is done (but for
#                          busybox-static, which the stand-ins need, as before)
#   otherwise, as root on Debian:
#     1. fetch docker.io, docker-cli, docker-buildx and containerd from Debian unstable
#        (bookworm's docker.io is Engine 20.10) with a private apt configuration that
#        reads the mirror from the system's own sources and never changes them; the
#        .deb files are kept in $LIVEDOCS_DEB_CACHE, outside the clone, so that a fresh
#        clone reuses them
#     2. unpack them into $LIVEDOCS_ENGINE_PREFIX (dpkg-deb -x: dpkg's database is not
#        touched), record the versions in $LIVEDOCS_ENGINE_PREFIX/VERSIONS, and link the
#        prefix's buildx where the docker CLI looks for plugins; install bookworm's runc,
#        tini (docker-init), iptables, iproute2 and busybox-static with apt-get
#     3. start one dockerd per image store, from the prefix:
#          overlay2     the graph driver (what bookworm's 20.10 had)
#          containerd   the containerd image store (features.containerd-snapshotter)
#        each with its own socket, data root, exec root, pidfile, log, containerd
#        namespaces and bridge, and wait a bounded time for each to answer
#     4. list them in .cache/livedocs/engines, one "<store> <address>" a line, the
#        engine on the default socket first
#   A second run with the engines up does no apt work and only confirms they answer.
#   In every case but DOCKER_HOST's, and where it is missing, arm64 emulation
#   (ensure_emulation, before any engine starts: BuildKit learns the platforms it can
#   build for when its engine starts): mount binfmt_misc if it is not mounted, unpack QEMU's
#   qemu-aarch64-static from Debian's qemu-user-static (the system's suite, a .deb kept in
#   $LIVEDOCS_DEB_CACHE) into $LIVEDOCS_QEMU_PREFIX (dpkg's database untouched) and register
#   it as Debian's binfmt.d file does, flags OPF (F: the kernel opens the interpreter
#   once, so it runs inside containers too); one line says what was done, or that
#   qemu-aarch64 was already registered, or (one warning line) why arm64 cannot be
#   emulated here, and the rest goes on. BuildKit then runs arm64 RUN steps.
#
# The engines send registry traffic to a proxy on 127.0.0.1 that does not exist: these
# machines may not talk to anything but loopback, so a pull (an unknown base image, a
# misspelt stage name) fails at once instead of reaching for the internet.
#
# Settings (environment), mostly for trying the script beside another engine:
#   LIVEDOCS_ENGINE_PREFIX    where the engine is unpacked        [/opt/livedocs/docker]
#   LIVEDOCS_DEB_CACHE        the downloaded .deb files           [/var/cache/livedocs/debs]
#   LIVEDOCS_QEMU_PREFIX      where qemu-aarch64-static is unpacked [/opt/livedocs/qemu]
#   LIVEDOCS_BINFMT_DIR       the binfmt_misc mount               [/proc/sys/fs/binfmt_misc]
#   LIVEDOCS_ENGINE_ROOT      if set: state, run and log directories below it
#   LIVEDOCS_ENGINE_STATE     data roots, one per store           [/var/lib/livedocs]
#   LIVEDOCS_ENGINE_RUN       exec roots, pidfiles, sockets       [/var/run/livedocs]
#   LIVEDOCS_ENGINE_LOGS      dockerd logs                        [/var/log/livedocs]
#   LIVEDOCS_DEFAULT_SOCKET   the default engine's socket         [/var/run/docker.sock]
#   LIVEDOCS_DEFAULT_STORE    the store on the default socket     [overlay2]
#   LIVEDOCS_ENGINES_FILE     the list of engines                 [<clone>/.cache/livedocs/engines]
#   LIVEDOCS_CLI_PLUGINS_DIR  where buildx is linked              [/usr/local/lib/docker/cli-plugins]
#   LIVEDOCS_OVERLAY2_BRIDGE, LIVEDOCS_OVERLAY2_BRIDGE_CIDR        [docker0, made by dockerd]
#   LIVEDOCS_CONTAINERD_BRIDGE, LIVEDOCS_CONTAINERD_BRIDGE_CIDR    [ldcd0, 172.31.250.1/24]
#   LIVEDOCS_DOCKERD_WAIT     seconds to wait for each engine     [60]
set -euo pipefail

clone=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deb-of.sh
. "$clone/scripts/deb-of.sh"
root=${LIVEDOCS_ENGINE_ROOT:-}
prefix=${LIVEDOCS_ENGINE_PREFIX:-/opt/livedocs/docker}
deb_cache=${LIVEDOCS_DEB_CACHE:-/var/cache/livedocs/debs}
qemu_prefix=${LIVEDOCS_QEMU_PREFIX:-/opt/livedocs/qemu}
binfmt_dir=${LIVEDOCS_BINFMT_DIR:-/proc/sys/fs/binfmt_misc}
state_dir=${LIVEDOCS_ENGINE_STATE:-${root:+$root/lib}}; state_dir=${state_dir:-/var/lib/livedocs}
run_dir=${LIVEDOCS_ENGINE_RUN:-${root:+$root/run}};     run_dir=${run_dir:-/var/run/livedocs}
log_dir=${LIVEDOCS_ENGINE_LOGS:-${root:+$root/log}};    log_dir=${log_dir:-/var/log/livedocs}
engines_file=${LIVEDOCS_ENGINES_FILE:-$clone/.cache/livedocs/engines}
plugin_dir=${LIVEDOCS_CLI_PLUGINS_DIR:-/usr/local/lib/docker/cli-plugins}
wait_seconds=${LIVEDOCS_DOCKERD_WAIT:-60}
standard_socket=/var/run/docker.sock
default_socket=${LIVEDOCS_DEFAULT_SOCKET:-$standard_socket}

# Which image store answers on the default socket (the other gets a socket of its own
# under $run_dir). It must be overlay2 for now: the measuring code (macros/) is not yet
# store-aware and measures whatever engine the default socket (or DOCKER_HOST) names.
# Flip this one variable once it reads .cache/livedocs/engines (and stop both engines
# first: an engine keeps the socket it was started on).
default_store=${LIVEDOCS_DEFAULT_STORE:-overlay2}
stores=(overlay2 containerd)

debs=(docker.io docker-cli docker-buildx containerd)  # from Debian unstable
host_packages=(runc tini iptables iproute2)           # from the system's own suite
min_major=28                                          # the engine this project was checked on
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
sources=/etc/apt/sources.list.d/debian.sources

die() { echo "engine: $*" >&2; exit 1; }
say() { echo "engine: $*"; }
warn() { echo "engine: warning: $*" >&2; }

# --- the engines ------------------------------------------------------------------

socket_of() {
  if [ "$1" = "$default_store" ]; then echo "$default_socket"; else echo "$run_dir/$1/docker.sock"; fi
}
address_of() { echo "unix://$(socket_of "$1")"; }
pidfile_of() { echo "$run_dir/$1/dockerd.pid"; }
logfile_of() { echo "$log_dir/$1-dockerd.log"; }

bridge_of() {  # never --bridge=none, never a bridge shared by two engines: either tears
  case $1 in   # down the other engine's bridge when it starts or stops
    overlay2) echo "${LIVEDOCS_OVERLAY2_BRIDGE:-docker0}" ;;
    containerd) echo "${LIVEDOCS_CONTAINERD_BRIDGE:-ldcd0}" ;;
  esac
}

bridge_cidr_of() {  # a private subnet no other bridge here uses (throwaway engines, scripts/harness/: 10.213.0.0/16)
  case $1 in
    overlay2) echo "${LIVEDOCS_OVERLAY2_BRIDGE_CIDR:-}" ;;
    containerd) echo "${LIVEDOCS_CONTAINERD_BRIDGE_CIDR:-172.31.250.1/24}" ;;
  esac
}

daemon_json_of() {  # each engine reads a daemon.json of its own, never /etc/docker's
  case $1 in
    overlay2) echo '{"storage-driver": "overlay2"}' ;;
    containerd) echo '{"features": {"containerd-snapshotter": true}}' ;;
  esac
}

answers() { timeout 10 docker -H "$1" info >/dev/null 2>&1; }

# The store an engine uses: containerd for the containerd image store, else the graph
# driver (overlay2).
store_at() {
  local info
  info=$(timeout 10 docker -H "$1" info --format '{{.Driver}} {{json .DriverStatus}}' 2>/dev/null) || return 1
  case $info in
    *io.containerd.snapshotter.v1*) echo containerd ;;
    *) echo "${info%% *}" ;;
  esac
}

# A dockerd this script started (its pidfile names a live dockerd).
running_pid() {
  local pidfile pid
  pidfile=$(pidfile_of "$1")
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

ensure_bridge() {
  local name=$1 cidr=$2
  [ -n "$cidr" ] || die "bridge $name needs an address (set its _BRIDGE_CIDR)"
  ip link show "$name" >/dev/null 2>&1 || ip link add name "$name" type bridge \
    || die "cannot create bridge $name (ip link add)"
  ip -4 -o addr show dev "$name" | grep -qF " ${cidr} " || ip addr add "$cidr" dev "$name" \
    || die "cannot give bridge $name the address $cidr"
  ip link set "$name" up || die "cannot bring bridge $name up"
}

declare -A started_pid=()

start_engine() {
  local store=$1 dir=$run_dir/$1 log bridge args
  log=$(logfile_of "$store")
  bridge=$(bridge_of "$store")
  mkdir -p "$dir" "$state_dir/$store" "$log_dir" "$(dirname "$(socket_of "$store")")"
  daemon_json_of "$store" >"$dir/daemon.json"
  args=(
    --config-file="$dir/daemon.json"
    --host="$(address_of "$store")"
    --data-root="$state_dir/$store"
    --exec-root="$dir/exec"
    --pidfile="$(pidfile_of "$store")"
    --containerd-namespace="livedocs-$store"
    --containerd-plugins-namespace="livedocs-$store-plugins"
    --userland-proxy-path="$prefix/usr/sbin/docker-proxy"
    # Two engines on one host must not both rewrite the host's iptables; published
    # ports still answer on 127.0.0.1 through docker-proxy.
    --iptables=false --ip6tables=false --ip-masq=false
  )
  if [ "$bridge" != docker0 ]; then  # docker0 is made by dockerd; any other bridge by us
    ensure_bridge "$bridge" "$(bridge_cidr_of "$store")"
    args+=(--bridge="$bridge")
  fi
  say "starting the $store engine on $(address_of "$store") (log: $log)"
  # PATH: the prefix's containerd, shim and docker-proxy; bookworm's runc after them.
  PATH="$prefix/usr/bin:$prefix/usr/sbin:$PATH" \
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=localhost,127.0.0.1 \
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy=localhost,127.0.0.1 \
    setsid nohup "$prefix/usr/sbin/dockerd" "${args[@]}" >"$log" 2>&1 </dev/null 9>&- &
  started_pid[$store]=$!
}

wait_engine() {
  local store=$1 address log deadline actual pid
  address=$(address_of "$store")
  log=$(logfile_of "$store")
  deadline=$((SECONDS + wait_seconds))
  until answers "$address"; do
    pid=${started_pid[$store]:-}
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      die "the $store dockerd exited; last lines of $log: $(tail -n 3 "$log" 2>/dev/null | tr '\n' ' ')"
    fi
    [ "$SECONDS" -lt "$deadline" ] \
      || die "the $store dockerd did not answer on $address within ${wait_seconds}s; last lines of $log: $(tail -n 3 "$log" 2>/dev/null | tr '\n' ' ')"
    sleep 1
  done
  actual=$(store_at "$address") || die "the $store engine on $address stopped answering"
  [ "$actual" = "$store" ] || die "the engine on $address uses the $actual store, not $store"
  say "$store engine $(docker -H "$address" version --format '{{.Server.Version}}' 2>/dev/null) answers on $address"
}

# Start what is not running, wait for what is starting, then list the engines.
ensure_engines() {
  local store pid
  for store in "${stores[@]}"; do
    if answers "$(address_of "$store")"; then continue; fi
    if pid=$(running_pid "$store"); then
      say "the $store dockerd (pid $pid) is running but not answering yet; waiting"
      continue
    fi
    [ "$(id -u)" = 0 ] || die "the $store engine is not running and starting dockerd needs root"
    start_engine "$store"
  done
  for store in "${stores[@]}"; do wait_engine "$store"; done
  write_engines_file
}

write_engines_file() {
  local store address actual list="" tmp
  for store in "$default_store" "${stores[@]}"; do
    address=$(address_of "$store")
    case $list in *" $address"$'\n'*) continue ;; esac
    actual=$(store_at "$address") || die "the $store engine on $address stopped answering"
    list+="$actual $address"$'\n'
  done
  [ -f "$engines_file" ] && [ "$(cat "$engines_file")"$'\n' = "$list" ] && return 0
  mkdir -p "$(dirname "$engines_file")"
  tmp=$(mktemp "$engines_file.XXXXXX")
  printf '%s' "$list" >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$engines_file"
}

# --- installing -------------------------------------------------------------------

static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }

apt_install() {
  local out
  out=$(mktemp)
  say "installing ${*} with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$out" 2>&1 \
    || ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1; then
    die "apt-get install ${*} failed: $(tail -n 2 "$out" | tr '\n' ' ')"
  fi
  rm -f "$out"
}

# busybox-static (the stand-ins' userland): also when the engine is a contributor's own.
ensure_busybox() {
  static_busybox && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing busybox-static: install it (Debian: apt-get install -y busybox-static)"
  fi
  apt_install busybox-static
}

ensure_host_packages() {
  local package missing=()
  for package in "${host_packages[@]}"; do
    dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed \
      || missing+=("$package")
  done
  static_busybox || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

swap_in() {  # put the folder $1 in place of $2: the old one goes once the new one is there
  local new=$1 target=$2 old=$2.old.$$
  if [ -e "$target" ]; then mv "$target" "$old"; fi
  mkdir -p "$(dirname "$target")"
  mv "$new" "$target"
  rm -rf "$old"
}

deb_of() {  # the cached .deb of a package (the newest, should there be several)
  newest_deb "$deb_cache" "$1"
}

# Download the engine's packages from Debian unstable, unless they are in the cache.
# The apt configuration is private (sources, lists and cache in a temporary
# directory); the system's sources and lists are never changed.
fetch_debs() {
  local package missing=() uri work out
  for package in "${debs[@]}"; do deb_of "$package" >/dev/null || missing+=("$package"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ -r "$sources" ] || die "cannot read the Debian mirror: no $sources"
  [ -r "$keyring" ] || die "no $keyring (Debian's archive keyring)"
  uri=$(awk '/^URIs:/{print $2; exit}' "$sources")
  [ -n "$uri" ] || die "no URIs: line in $sources"
  mkdir -p "$deb_cache"
  work=$(mktemp -d "$deb_cache/.fetch.XXXXXX")
  # shellcheck disable=SC2064  # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
  echo "deb [signed-by=$keyring] $uri sid main" >"$work/sources.list"
  local apt=(apt-get -q -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  say "downloading ${missing[*]} from Debian unstable ($uri) into $deb_cache"
  out=$work/apt.log
  "${apt[@]}" update >"$out" 2>&1 || die "apt-get update (Debian unstable) failed: $(tail -n 2 "$out" | tr '\n' ' ')"
  (cd "$work/debs" && "${apt[@]}" download "${missing[@]}") >"$out" 2>&1 \
    || die "apt-get download ${missing[*]} failed: $(tail -n 2 "$out" | tr '\n' ' ')"
  mv -f "$work/debs/"*.deb "$deb_cache/"
  rm -rf "$work"
  trap - EXIT
}

versions_wanted() {  # "<package> <version>" of each cached .deb
  local package deb
  for package in "${debs[@]}"; do
    deb=$(deb_of "$package") || die "no $package .deb in $deb_cache"
    echo "$package $(dpkg-deb -f "$deb" Version)"
  done
}

# Unpack the cached .deb files into the prefix, unless the prefix already holds them.
unpack_debs() {
  local wanted line package new server major
  wanted=$(versions_wanted)
  if [ -x "$prefix/usr/sbin/dockerd" ] && [ -f "$prefix/VERSIONS" ]; then
    local current=1
    while read -r line; do grep -Fxq "$line" "$prefix/VERSIONS" || current=0; done <<<"$wanted"
    [ "$current" = 1 ] && return 0
  fi
  new=$prefix.new.$$
  rm -rf "$new"
  mkdir -p "$new"
  for package in "${debs[@]}"; do
    dpkg-deb -x "$(deb_of "$package")" "$new" || die "cannot unpack $(deb_of "$package") into $new"
  done
  # docker-init is a relative link to tini-static, which bookworm's tini installs in /usr/bin
  ln -sfn /usr/bin/tini-static "$new/usr/bin/docker-init"
  server=$("$new/usr/sbin/dockerd" --version 2>&1) \
    || die "the unpacked dockerd does not run (Debian unstable needs libc >= 2.34): $server"
  server=${server#Docker version }; server=${server%%,*}
  major=${server%%.*}
  [[ $major =~ ^[0-9]+$ ]] && [ "$major" -ge "$min_major" ] \
    || die "Debian unstable's docker.io is Engine $server; this project needs $min_major.x or newer"
  {
    echo "$wanted"
    echo "runc $(dpkg-query -W -f='${Version}' runc) (the system's)"
    echo "tini $(dpkg-query -W -f='${Version}' tini) (the system's)"
    echo "# unpacked from Debian unstable by scripts/engine.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$new/VERSIONS"
  swap_in "$new" "$prefix"
  if [ "$major" -gt "$min_major" ]; then
    say "installed Docker Engine $server, newer than the $min_major.x this project was checked on ($prefix/VERSIONS)"
  else
    say "installed Docker Engine $server into $prefix ($(echo "$wanted" | tr '\n' ',' | sed 's/,$//; s/,/, /g'))"
  fi
}

# The docker CLI finds plugins in ~/.docker/cli-plugins, config.json's cliPluginsExtraDirs
# and fixed system directories only (no environment variable); link buildx into the first
# of those, /usr/local/lib/docker/cli-plugins, unless someone else put one there.
link_buildx() {
  local plugin=$prefix/usr/libexec/docker/cli-plugins/docker-buildx link=$plugin_dir/docker-buildx
  [ -x "$plugin" ] || die "no docker-buildx in $prefix"
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    say "leaving $link in place (not installed by this script)"
    return 0
  fi
  [ "$(readlink "$link" 2>/dev/null)" = "$plugin" ] && return 0
  mkdir -p "$plugin_dir"
  ln -sfn "$plugin" "$link"
}

install_engine() {
  if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    die "no Docker engine answers and installing one needs Debian (apt-get, dpkg-deb): start Docker, or set DOCKER_HOST"
  fi
  ensure_host_packages
  fetch_debs
  unpack_debs
  link_buildx
}

# --- arm64 emulation ----------------------------------------------------------------

# Unpack qemu-aarch64-static (and Debian's binfmt.d line for it) from the cached
# qemu-user-static .deb into $qemu_prefix, unless it already holds that version. Prints
# the version; one line on stderr and status 1 when it cannot.
install_qemu() {
  local deb version new
  deb=$(bash "$clone/scripts/debian-download.sh" "$(dpkg --print-architecture)" "$deb_cache" qemu-user-static) \
    || return 1
  version=$(dpkg-deb -f "$deb" Version)
  if [ -x "$qemu_prefix/usr/bin/qemu-aarch64-static" ] && [ -f "$qemu_prefix/VERSIONS" ] \
    && grep -Fxq "qemu-user-static $version" "$qemu_prefix/VERSIONS"; then
    echo "$version"
    return 0
  fi
  new=$qemu_prefix.new.$$
  rm -rf "$new"
  mkdir -p "$new"
  if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$new" ./usr/bin/qemu-aarch64-static \
    ./usr/libexec/qemu-binfmt/aarch64-binfmt-P ./usr/lib/binfmt.d/qemu-aarch64.conf \
    ./usr/share/doc/qemu-user-static/copyright; then
    rm -rf "$new"
    echo "engine: cannot unpack qemu-aarch64-static from $deb" >&2
    return 1
  fi
  {
    echo "qemu-user-static $version"
    echo "# qemu-aarch64-static unpacked from the system's Debian suite by scripts/engine.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$new/VERSIONS"
  swap_in "$new" "$qemu_prefix"
  echo "$version"
}

# arm64 under emulation, where it is missing: one line in every case, never fatal.
ensure_emulation() {
  local entry=$binfmt_dir/qemu-aarch64 flags interpreter mounted="" version line conf
  case $(uname -m) in
    aarch64 | arm64)
      say "arm64 is this machine's own platform: no emulation needed"
      return 0
      ;;
  esac
  if [ ! -e "$binfmt_dir/register" ]; then
    if [ "$(id -u)" != 0 ]; then
      warn "arm64 is not emulated here: binfmt_misc is not mounted at $binfmt_dir and mounting it needs root; arm64 is skipped"
      return 0
    fi
    if ! grep -qw binfmt_misc /proc/filesystems 2>/dev/null && ! modprobe binfmt_misc >/dev/null 2>&1; then
      warn "arm64 is not emulated here: this kernel has no binfmt_misc; arm64 is skipped"
      return 0
    fi
    if ! mount -t binfmt_misc binfmt_misc "$binfmt_dir" >/dev/null 2>&1 || [ ! -e "$binfmt_dir/register" ]; then
      warn "arm64 is not emulated here: cannot mount binfmt_misc at $binfmt_dir; arm64 is skipped"
      return 0
    fi
    mounted="mounted binfmt_misc at $binfmt_dir, "
  fi
  if [ -e "$entry" ]; then
    flags=$(sed -n 's/^flags: *//p' "$entry")
    interpreter=$(sed -n 's/^interpreter //p' "$entry")
    if ! grep -qx enabled "$entry"; then
      warn "qemu-aarch64 is registered in binfmt_misc but disabled ($entry); left as it is: arm64 is skipped"
    elif [[ $flags == *F* ]]; then
      say "${mounted}qemu-aarch64 is already registered (${interpreter}, flags $flags): arm64 runs under emulation"
    else
      warn "qemu-aarch64 is registered without the F flag (${interpreter}, flags ${flags:-none}): left as it is; arm64 RUN steps may fail inside containers"
    fi
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    warn "arm64 is not emulated here: qemu-aarch64 is not registered in binfmt_misc and registering it needs root; arm64 is skipped"
    return 0
  fi
  if ! command -v dpkg-deb >/dev/null 2>&1; then
    warn "arm64 is not emulated here: installing QEMU needs Debian (apt-get, dpkg-deb); arm64 is skipped"
    return 0
  fi
  version=$(install_qemu) || {
    warn "arm64 is not emulated here: Debian's qemu-user-static could not be installed into $qemu_prefix; arm64 is skipped"
    return 0
  }
  # Debian's own line, with the interpreter where it was unpacked
  conf=$qemu_prefix/usr/lib/binfmt.d/qemu-aarch64.conf
  line=$(sed "s#:/usr/libexec/qemu-binfmt/#:$qemu_prefix/usr/libexec/qemu-binfmt/#" "$conf")
  case $line in
    :qemu-aarch64:*":$qemu_prefix/"*:*F*) ;;
    *)
      warn "arm64 is not emulated here: unexpected binfmt line in $conf; arm64 is skipped"
      return 0
      ;;
  esac
  if ! printf '%s' "$line" >"$binfmt_dir/register" 2>/dev/null || [ ! -e "$entry" ]; then
    warn "arm64 is not emulated here: the kernel refused to register qemu-aarch64 in $binfmt_dir; arm64 is skipped"
    return 0
  fi
  say "${mounted}registered qemu-aarch64 (Debian's qemu-user-static $version in $qemu_prefix, flags $(sed -n 's/^flags: *//p' "$entry")): arm64 runs under emulation"
}

# --- main ---------------------------------------------------------------------------

main() {
  export PATH="$prefix/usr/bin:$prefix/usr/sbin:$PATH"

  if [ -n "${DOCKER_HOST:-}" ]; then
    docker info >/dev/null 2>&1 && exit 0
    die "DOCKER_HOST=$DOCKER_HOST does not answer (docker info fails); not starting a local engine for it"
  fi

  if [ "$(id -u)" = 0 ]; then  # one run at a time
    mkdir -p "$run_dir"
    exec 9>"$run_dir/engine.lock"
    flock -w 300 9 || die "another scripts/engine.sh has held $run_dir/engine.lock for 300s"
  fi

  # Engines this script started: make sure all of them answer.
  # Emulation first: BuildKit learns the platforms it can build for when its engine starts.
  if running_pid "$default_store" >/dev/null; then
    ensure_emulation
    ensure_engines
    exit 0
  fi

  # Someone else's engine (a contributor's own Docker): leave it alone, and drop a list
  # of engines left from an earlier run, which would name engines that are gone.
  local probe=(docker)
  [ "$default_socket" = "$standard_socket" ] || probe=(docker -H "unix://$default_socket")
  if timeout 30 "${probe[@]}" info >/dev/null 2>&1; then
    ensure_busybox
    ensure_emulation
    rm -f "$engines_file"
    exit 0
  fi

  [ "$(id -u)" = 0 ] \
    || die "no Docker engine answers and starting one needs root: start Docker, or set DOCKER_HOST"
  install_engine
  ensure_emulation
  ensure_engines
}

main "$@"
