#!/usr/bin/env bash
# Make sure a Docker engine answers, starting one on this machine if none does.
#
# If `docker info` answers (a contributor's own Docker, DOCKER_HOST, CI), this does
# nothing. Otherwise, as root on Debian, it installs docker.io and busybox-static,
# starts dockerd in the background (pid and log below) and waits a bounded time.
#
# The dockerd started here sends registry traffic to a proxy on 127.0.0.1 that does
# not exist: these machines may not talk to anything but loopback, so a pull (an
# unknown base image, a misspelt stage name under the classic builder) fails at once
# instead of reaching for the internet.
set -euo pipefail

pidfile=${LIVEDOCS_DOCKERD_PID:-/var/run/livedocs-dockerd.pid}
logfile=${LIVEDOCS_DOCKERD_LOG:-/var/log/livedocs-dockerd.log}
wait_seconds=${LIVEDOCS_DOCKERD_WAIT:-60}

die() { echo "engine: $*" >&2; exit 1; }
answers() { docker info >/dev/null 2>&1; }

need_packages=()
command -v dockerd >/dev/null 2>&1 || need_packages+=(docker.io)
command -v docker >/dev/null 2>&1 || need_packages+=(docker.io)
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need_packages+=(busybox-static)

if answers && [ ${#need_packages[@]} -eq 0 ]; then exit 0; fi

if [ ${#need_packages[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
    || die "missing ${need_packages[*]}: install them (Debian: apt-get install -y ${need_packages[*]})"
  echo "engine: installing ${need_packages[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${need_packages[@]}" >/dev/null \
    || die "apt-get install ${need_packages[*]} failed"
fi

answers && exit 0
[ -n "${DOCKER_HOST:-}" ] && die "DOCKER_HOST=$DOCKER_HOST does not answer (docker info fails); not starting a local engine for it"
[ "$(id -u)" = 0 ] || die "no Docker engine answers and starting dockerd needs root: start Docker, or set DOCKER_HOST"

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "engine: dockerd (pid $(cat "$pidfile")) is running but not answering yet; waiting"
else
  echo "engine: starting dockerd (log: $logfile)"
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=localhost,127.0.0.1 \
    nohup dockerd --pidfile "$pidfile" >"$logfile" 2>&1 </dev/null &
fi

for _ in $(seq 1 "$wait_seconds"); do
  if answers; then
    echo "engine: dockerd $(docker version --format '{{.Server.Version}}') answers ($(docker info --format '{{.Driver}}'))"
    exit 0
  fi
  sleep 1
done
die "dockerd did not answer within ${wait_seconds}s; last lines of $logfile: $(tail -n 3 "$logfile" 2>/dev/null | tr '\n' ' ')"
