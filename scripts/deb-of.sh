# shellcheck shell=bash
# Sourced by scripts/engine.sh and scripts/debian-download.sh.
#
# newest_deb DIR PACKAGE [ARCH]: print the newest .deb of PACKAGE in DIR (for ARCH or
# `all` when ARCH is given, any architecture otherwise); status 1 when there is none.
newest_deb() {
  local dir=$1 package=$2 arch=${3:-} file best=""
  local patterns=("$dir/${package}"_*.deb)
  [ -z "$arch" ] || patterns=("$dir/${package}"_*_"$arch".deb "$dir/${package}"_*_all.deb)
  for file in "${patterns[@]}"; do
    [ -f "$file" ] || continue
    if [ -z "$best" ] || dpkg --compare-versions \
      "$(dpkg-deb -f "$file" Version)" gt "$(dpkg-deb -f "$best" Version)"; then
      best=$file
    fi
  done
  [ -n "$best" ] && echo "$best"
}
