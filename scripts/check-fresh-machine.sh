#!/usr/bin/env bash
# Proves the README's first command on a machine that has nothing but apt: builds a clean Debian 12
# root with mmdebstrap (this machine's own apt sources as the mirror, so no host is written
# anywhere), copies a clone of HEAD into it, and runs ./scripts/setup-deps.sh and then
# ./scripts/run.sh (no display) inside it with chroot.
#
#   scripts/check-fresh-machine.sh [--build-only] [--refresh] [--keep]
#
#   --build-only  stop after setup-deps and the Release build of the product (no demo)
#   --refresh     make the base tarball again instead of reusing the cached one
#   --keep        leave the root in place for a look (its path is printed); mounts are still undone
#
# The base tarball (the root before anything of ours is installed) is cached in
# ${XDG_CACHE_HOME:-~/.cache}/needlework/fresh-machine/; the installed packages never are, so every
# run installs exactly what setup-deps.sh lists. Needs root (chroot, mounts) and mmdebstrap.
# Prints one line at the end: "fresh machine: OK ..." or "fresh machine: FAILED at STEP ...".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

mode=run refresh=0 keep=0
for arg in "$@"; do
  case $arg in
    --build-only) mode=build ;;
    --refresh) refresh=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-fresh-machine: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

started=$(date +%s)
step=start
log=$(mktemp /tmp/nw-fresh-machine.XXXXXX.log)
root=""
mounts=()

say_failed() { # say_failed RC: an interrupt is not a failure of the machine under test
  local how="FAILED at"
  [ "$1" -eq 130 ] && how="interrupted during"
  echo "fresh machine: $how $step after $(( $(date +%s) - started )) s (log: $log)"
}

cleanup() {
  local rc=$?
  # Stop whatever still runs inside the root (an interrupted build), then undo the mounts in
  # reverse order on every exit path; a lazy unmount never leaves the host's /dev or /proc bound
  # into a folder that rm -rf would then walk.
  if [ -n "$root" ]; then
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
  fi
  for (( i=${#mounts[@]}-1; i>=0; i-- )); do
    umount -R "${mounts[$i]}" 2>/dev/null || umount -lR "${mounts[$i]}" 2>/dev/null || true
  done
  if [ -n "$root" ] && [ -d "$root" ]; then
    if [ "$keep" -eq 1 ]; then
      echo "check-fresh-machine: root kept at $root"
    elif ! findmnt -rn -o TARGET | grep -q "^$root"; then
      rm -rf "$root"
    fi
  fi
  [ "$rc" -eq 0 ] || say_failed "$rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
  echo "check-fresh-machine: needs root (chroot and mounts); run it with sudo" >&2
  exit 2
fi
step="host tools"
if ! command -v mmdebstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >>"$log" 2>&1
fi

# The machine's own sources: deb822 (bookworm's default) or a one-line list.
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
[ -s "$sources" ] || { echo "check-fresh-machine: no apt sources file on this machine" >&2; exit 2; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/needlework/fresh-machine
tarball=$cache/bookworm-apt.tar
mkdir -p "$cache"
step="base root (mmdebstrap)"
if [ "$refresh" -eq 1 ] || [ ! -s "$tarball" ]; then
  echo "check-fresh-machine: making a clean Debian 12 root with mmdebstrap (about a minute)"
  # mmdebstrap picks its output format from the name, so the partial file still ends in .tar.
  mmdebstrap --variant=apt --quiet bookworm "$cache/partial.tar" "$sources" >>"$log" 2>&1
  mv "$cache/partial.tar" "$tarball"
fi

root=$(mktemp -d /var/tmp/nw-fresh-root.XXXXXX)
tar -xf "$tarball" -C "$root"
for m in proc sys dev; do
  mkdir -p "$root/$m"
  case $m in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys" ;;
    dev) mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev" ;;
  esac
  mounts+=("$root/$m")
done
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

step="clone of HEAD"
head=$(git rev-parse --short HEAD)
git clone -q --no-hardlinks "$repo" "$root/root/needlework" >>"$log" 2>&1
git -C "$root/root/needlework" checkout -q --detach "$(git rev-parse HEAD)"
[ -z "$(git status --porcelain --untracked-files=no)" ] \
  || echo "check-fresh-machine: note: uncommitted changes are not part of the check (HEAD is $head)"

# In the background and waited for, so that Ctrl-C or a CI timeout runs the cleanup at once
# (bash defers traps while a foreground child runs).
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    /bin/bash -c "cd /root/needlework && $1" &
  wait $!
}

step="./scripts/setup-deps.sh"
echo "check-fresh-machine: $step in the clean root"
in_root ./scripts/setup-deps.sh >>"$log" 2>&1
if [ "$mode" = build ]; then
  step="configure and build (Release, product only)"
  echo "check-fresh-machine: $step"
  in_root "./scripts/build.sh build-release Release -DNW_BUILD_TESTS=OFF -DNW_BUILD_BENCH=OFF" >>"$log" 2>&1
  what="setup-deps.sh and the Release build"
else
  step="./scripts/run.sh"
  echo "check-fresh-machine: $step in the clean root (no display)"
  in_root ./scripts/run.sh >>"$log" 2>&1
  # The demo must have answered with citations, not only exited 0.
  step="./scripts/run.sh output (cited answers)"
  grep -q "p\. [0-9]" "$log"
  what="setup-deps.sh and run.sh (cited answers printed)"
fi
echo "fresh machine: OK at $head — $what on a clean Debian 12 root in $(( $(date +%s) - started )) s (log: $log)"
