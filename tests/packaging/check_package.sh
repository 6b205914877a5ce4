#!/usr/bin/env bash
# Checks an installed Needlework the way a distribution would: the tree `cmake --install` makes
# from a build folder ("tree BUILD_DIR", the CTest test packaging/install_tree), or the Debian
# packages unpacked with dpkg -x ("deb needlework.deb [needlework-cuda.deb]", run by
# scripts/package.sh, which adds lintian, the control fields and the CUDA-free linkage). The
# CPU package is checked alone first (doctor must say the CUDA module is not installed), then,
# when given, with the CUDA module beside it (doctor must find the module). The installed
# program's own --help is the reference for the man page and the completions. Exits 77
# (skipped) when a validator is missing.
set -u
mode=${1:-} target=${2:-} cuda_deb=${3:-}
usage="usage: $0 tree BUILD_DIR | deb needlework_*.deb [needlework-cuda_*.deb]"
case $mode in
  tree | deb) [ -n "$target" ] || { echo "$usage"; exit 2; } ;;
  *) echo "$usage"; exit 2 ;;
esac

need=(desktop-file-validate appstreamcli python3 man)
[ "$mode" = tree ] && need+=(cmake)
[ "$mode" = deb ] && need+=(dpkg-deb lintian ldd readelf)
missing=()
for tool in "${need[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIP: not installed: ${missing[*]} (Debian packages desktop-file-utils, appstream, man-db, lintian)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
if [ "$mode" = tree ]; then
  if ! DESTDIR=$root cmake --install "$target" --prefix /usr >"$work/install.log" 2>&1; then
    cat "$work/install.log"; echo "FAIL: cmake --install $target (is everything built?)"; exit 1
  fi
else
  dpkg-deb -x "$target" "$root" || { echo "FAIL: dpkg-deb -x $target"; exit 1; }
fi
usr=$root/usr
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
module_path=lib/needlework/libneedlework-cuda.so

# cuda_status ROOT WANT: `needlework doctor` run from ROOT/usr/bin reports the CUDA module as WANT:
# "absent" (not installed, and the backend is the CPU) or "present" (it found ROOT's module: loaded,
# or, where NVIDIA's libraries are not installed, unable to load for that reason).
cuda_status() {
  local exe=$1/usr/bin/needlework want=$2
  env -u NW_CUDA_MODULE "$exe" doctor --json >"$work/cuda.json" 2>"$work/cuda.err" \
    || { fail "doctor --json ($want module): $(cat "$work/cuda.err")"; return; }
  env -u NW_CUDA_MODULE "$exe" doctor >"$work/cuda.txt" 2>&1
  if python3 - "$work/cuda.json" "$1/usr/$module_path" "$want" <<'EOF'; then
import json, os, subprocess, sys
report = json.load(open(sys.argv[1]))
cuda, module, want = report["cuda"], sys.argv[2], sys.argv[3]
problems = []
if want == "absent":
    if cuda["loaded"] or "CUDA module not installed" not in cuda["status"]:
        problems.append(f"expected 'CUDA module not installed', got loaded={cuda['loaded']} status={cuda['status']!r}")
    if report["compute_backend"] != "cpu":
        problems.append(f"compute_backend {report['compute_backend']} without a module")
else:
    runtime_here = b"libcudart.so" in subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True).stdout
    if cuda["loaded"]:
        if os.path.realpath(cuda["module"]) != os.path.realpath(module):
            problems.append(f"loaded {cuda['module']}, not the installed {module}")
        if not cuda["devices"] and not cuda["status"].startswith("no CUDA device"):
            problems.append(f"no devices but status {cuda['status']!r}")
    elif runtime_here or module not in cuda["status"] or "cannot load" not in cuda["status"]:
        problems.append(f"module not loaded: {cuda['status']!r}")
for p in problems: print(p)
sys.exit(1 if problems else 0)
EOF
    ok "doctor, CUDA module $want: $(grep -m1 '^CUDA  ' "$work/cuda.txt" | tr -s ' ')"
  else
    fail "doctor's CUDA report (module $want); text: $(grep -E '^(CUDA|Backend)' "$work/cuda.txt" | tr -s ' ')"
  fi
}

# ---- the program runs from the unpacked tree, headless, with its data in XDG places ----------
exe=$usr/bin/needlework
[ -x "$exe" ] || { echo "FAIL: no executable at usr/bin/needlework"; exit 1; }
export HOME=$work/home XDG_DATA_HOME=$work/xdg-data XDG_CACHE_HOME=$work/xdg-cache
unset DISPLAY WAYLAND_DISPLAY QT_QPA_PLATFORM
mkdir -p "$HOME"
version_line=$("$exe" --version) && ok "needlework --version: $version_line" || fail "needlework --version exited $?"
version=${version_line#needlework }
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$version_line'"
if "$exe" doctor >"$work/doctor.txt" 2>&1; then ok "needlework doctor"; else fail "needlework doctor: $(cat "$work/doctor.txt")"; fi
if "$exe" doctor --json >"$work/doctor.json" 2>"$work/doctor.err"; then
  python3 - "$work/doctor.json" "$XDG_DATA_HOME/needlework" "$XDG_CACHE_HOME/needlework" <<'EOF' \
    && ok "doctor reports the XDG data and cache directories" || fail "doctor --json paths (see above)"
import json, sys
paths = json.load(open(sys.argv[1]))["paths"]
data, cache = sys.argv[2], sys.argv[3]
want = {"data": data, "cache": cache, "database": data + "/library.sqlite", "log": data + "/needlework.log"}
bad = {k: (paths.get(k), v) for k, v in want.items() if paths.get(k) != v}
if bad:
    print("doctor paths differ (got, expected):", bad)
    sys.exit(1)
EOF
else
  fail "needlework doctor --json: $(cat "$work/doctor.err")"
fi
if [ "$mode" = tree ] && [ -f "$target/$module_path" ]; then
  # A CUDA build installs its module with the rest.
  [ -f "$usr/$module_path" ] && ok "the CUDA module is installed as usr/$module_path" || fail "no usr/$module_path"
  cuda_status "$root" present
else
  [ ! -e "$usr/$module_path" ] || fail "the CPU package carries the CUDA module usr/$module_path"
  cuda_status "$root" absent
fi
"$exe" --help >"$work/help.txt" || fail "needlework --help exited $?"
subcommands=$(awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}' "$work/help.txt")
[ -n "$subcommands" ] || fail "no subcommands in needlework --help"
# The options a help text lists in its Options: section (the names column only).
options_of() {
  awk '/^Options:/{on=1; next} on && /^$/{exit} on && /^  -/ {sub(/^ +/, ""); split($0, term, /  +/); print term[1]}' |
    grep -oE -- '--?[a-zA-Z][a-zA-Z0-9-]*' | sort -u
}

# ---- desktop entry and icons -----------------------------------------------------------------
desktops=("$usr"/share/applications/*.desktop)
if [ ${#desktops[@]} -ne 1 ] || [ ! -f "${desktops[0]}" ]; then
  echo "FAIL: expected one desktop entry in usr/share/applications, found: ${desktops[*]}"; exit 1
fi
desktop=${desktops[0]}
app_id=$(basename "$desktop" .desktop)
if out=$(desktop-file-validate "$desktop" 2>&1) && ! grep -qE '(error|warning):' <<<"$out"; then
  ok "desktop-file-validate $app_id.desktop${out:+ (hints: $out)}"
else
  fail "desktop-file-validate: $out"
fi
exec_name=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$desktop")
[ -x "$usr/bin/$exec_name" ] && ok "Exec=$exec_name is installed" || fail "Exec=$exec_name is not in usr/bin"
icon=$(sed -n 's/^Icon=//p' "$desktop")
[ "$icon" = "$app_id" ] || fail "Icon=$icon should be the application id $app_id"
hicolor=$usr/share/icons/hicolor
if python3 - "$hicolor/scalable/apps/$icon.svg" <<'EOF'; then ok "scalable icon is an SVG document"; else fail "scalable icon $icon.svg"; fi
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
sys.exit(0 if root.tag == "{http://www.w3.org/2000/svg}svg" else 1)
EOF
for size in 16 24 32 48 64 128 256; do
  png=$hicolor/${size}x${size}/apps/$icon.png
  # A PNG's width and height are the big-endian words at bytes 16 and 20 (the IHDR chunk).
  if [ -f "$png" ] && [ "$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print(*struct.unpack(">II", d[16:24]) if d[:8]==b"\x89PNG\r\n\x1a\n" else "bad")' "$png")" = "$size $size" ]; then
    ok "icon ${size}x${size}"
  else
    fail "icon ${size}x${size}: missing or not a ${size}x${size} PNG: $png"
  fi
done

# ---- AppStream -------------------------------------------------------------------------------
metainfo=$usr/share/metainfo/$app_id.metainfo.xml
if [ ! -f "$metainfo" ]; then
  fail "no usr/share/metainfo/$app_id.metainfo.xml"
else
  if out=$(appstreamcli validate --no-net "$metainfo" 2>&1); then ok "appstreamcli validate: $(tail -1 <<<"$out")"; else fail "appstreamcli validate: $out"; fi
  python3 - "$metainfo" "$app_id" "$version" <<'EOF' && ok "metainfo id, launchable, binary and newest release $version" || fail "metainfo content (see above)"
import sys, xml.etree.ElementTree as ET
c = ET.parse(sys.argv[1]).getroot()
app_id, version = sys.argv[2], sys.argv[3]
problems = []
if c.findtext("id") != app_id: problems.append(f"id {c.findtext('id')} != {app_id}")
if c.findtext("launchable") != app_id + ".desktop": problems.append(f"launchable {c.findtext('launchable')}")
if c.findtext("provides/binary") != "needlework": problems.append("provides/binary is not needlework")
releases = [r.get("version") for r in c.findall("releases/release")]
if not releases or releases[0] != version: problems.append(f"newest release {releases[:1]} != --version {version} (packaging/releases.txt)")
for p in problems: print(p)
sys.exit(1 if problems else 0)
EOF
fi

# ---- man page: renders without warnings and lists every subcommand and option of --help ------
manpage=$usr/share/man/man1/needlework.1.gz
if [ ! -f "$manpage" ]; then
  fail "no usr/share/man/man1/needlework.1.gz"
else
  # The same invocation lintian uses to find groff warnings.
  warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$manpage" 2>&1 >/dev/null)
  [ -z "$warnings" ] && ok "man page renders without warnings" || fail "man page warnings: $warnings"
  roff=$(gzip -dc "$manpage")
  grep -q "^\.TH NEEDLEWORK 1 \"[0-9-]*\" \"needlework $version\"" <<<"$roff" && ok "man page is for $version" \
    || fail "man page header: $(grep '^\.TH' <<<"$roff")"
  for sub in $subcommands; do
    # The subcommand's own section: from its .SS heading to the next heading.
    section=$(awk -v h=".SS \"needlework $sub" 'index($0, h) == 1 {on=1; print; next} on && /^\.S[SH] /{exit} on' <<<"$roff")
    if [ -z "$section" ]; then fail "man page has no section for '$sub'"; continue; fi
    missing_options=()
    for option in $("$exe" "$sub" --help | options_of); do
      grep -qF "\\fB${option//-/\\-}\\fR" <<<"$section" || missing_options+=("$option")
    done
    [ ${#missing_options[@]} -eq 0 ] && ok "man page documents '$sub' and its options" \
      || fail "man page section '$sub' lacks ${missing_options[*]}"
  done
  for option in $(options_of <"$work/help.txt"); do
    grep -qF "\\fB${option//-/\\-}\\fR" <<<"$roff" || fail "man page lacks the global option $option"
  done
fi

# ---- completions: ask the installed bash function what it offers -----------------------------
bash_completion=$usr/share/bash-completion/completions/needlework
if [ ! -f "$bash_completion" ]; then
  fail "no usr/share/bash-completion/completions/needlework"
else
  # complete WORD... → the candidates for the last word, one a line
  complete() {
    bash -c 'source "$1" || exit 1; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _needlework; printf "%s\n" "${COMPREPLY[@]}"' \
      _ "$bash_completion" needlework "$@"
  }
  offered=$(complete "")
  for word in $subcommands --help --version; do
    grep -qxF -- "$word" <<<"$offered" || fail "bash: 'needlework <TAB>' does not offer $word"
  done
  for sub in $subcommands; do
    offered=$(complete "$sub" -)
    missing_options=()
    for option in $("$exe" "$sub" --help | options_of); do
      grep -qxF -- "$option" <<<"$offered" || missing_options+=("$option")
    done
    [ ${#missing_options[@]} -eq 0 ] && ok "bash completes '$sub' and its options" \
      || fail "bash: 'needlework $sub -<TAB>' lacks ${missing_options[*]}"
  done
  [ "$(complete doctor --log-level de)" = debug ] && ok "bash completes log levels" \
    || fail "bash: 'needlework doctor --log-level de<TAB>' gave '$(complete doctor --log-level de)'"
fi
zsh_completion=$usr/share/zsh/vendor-completions/_needlework
if [ ! -f "$zsh_completion" ]; then
  fail "no usr/share/zsh/vendor-completions/_needlework"
else
  # zsh completes only inside its line editor, so check the specs: each subcommand is described,
  # and its branch of the case names every option its --help lists.
  for sub in $subcommands; do
    grep -q "^ *'$sub:" "$zsh_completion" || fail "zsh completion does not list '$sub'"
    branch=$(awk -v b="$sub)" '$1 == b {on=1; next} on && /;;/{exit} on' "$zsh_completion")
    missing_options=()
    for option in $("$exe" "$sub" --help | options_of); do
      grep -qE -- "'(\\([^)]*\\))?${option}=?\\[" <<<"$branch" || missing_options+=("$option")
    done
    [ ${#missing_options[@]} -eq 0 ] && ok "zsh completes '$sub' and its options" \
      || fail "zsh: 'needlework $sub' lacks ${missing_options[*]}"
  done
  if command -v zsh >/dev/null 2>&1; then
    zsh -n "$zsh_completion" && ok "zsh completion parses" || fail "zsh -n $zsh_completion"
  else
    echo "note: zsh not installed, its completion was not parsed"
  fi
fi

# ---- the Debian package itself ----------------------------------------------------------------
if [ "$mode" = deb ]; then
  lintian --fail-on error --tag-display-limit 0 "$target" >"$work/lintian.txt" 2>&1
  lintian_rc=$?
  grep -v '^running with root privileges' "$work/lintian.txt" | sed 's/^/  lintian: /'
  [ $lintian_rc -eq 0 ] && ok "lintian reports no errors" || fail "lintian reports errors (exit $lintian_rc)"
  package_version=$(dpkg-deb -f "$target" Version)
  [[ $package_version == "$version"-* ]] && ok "package version $package_version" \
    || fail "package version $package_version does not match needlework $version"
  depends=$(dpkg-deb -f "$target" Depends)
  # dpkg-shlibdeps fills Depends from the libraries the binary links, so Qt and libc are there.
  if grep -q 'libc6' <<<"$depends" && grep -q 'libqt6core6' <<<"$depends"; then
    ok "Depends computed: $depends"
  else
    fail "Depends lacks libc6 or libqt6core6: '$depends'"
  fi
  # apt must be able to satisfy Depends from the distribution (a simulation; nothing is installed).
  if command -v apt-get >/dev/null 2>&1; then
    deb_path=$(readlink -f "$target")
    if apt-get install -s --no-install-recommends "$deb_path" >"$work/apt.txt" 2>&1; then
      ok "apt-get can install it (simulated)"
    else
      fail "apt-get install -s: $(tail -5 "$work/apt.txt")"
    fi
  fi
  linked=$(ldd "$exe")
  grep -q 'not found' <<<"$linked" && fail "libraries not found: $(grep 'not found' <<<"$linked")"
  if grep -qE 'libcudart|libcublas|libcuda\.so' <<<"$linked"; then
    fail "the packaged binary links CUDA libraries, so it will not start without them: $(grep -E 'libcu' <<<"$linked" | tr -s '\t ' ' ')"
  else
    ok "the packaged binary needs no CUDA library"
  fi
fi

# ---- the CUDA module's package: needlework-cuda, unpacked over the CPU package ----------------
if [ "$mode" = deb ] && [ -n "$cuda_deb" ]; then
  both=$work/both
  dpkg-deb -x "$target" "$both" && dpkg-deb -x "$cuda_deb" "$both" || { echo "FAIL: dpkg-deb -x $cuda_deb"; exit 1; }
  [ -f "$both/usr/$module_path" ] && ok "needlework-cuda installs usr/$module_path" || fail "needlework-cuda lacks usr/$module_path"
  extra=$(dpkg-deb -c "$cuda_deb" | awk '{print $6}' | grep -v -e '/$' -e "^\./usr/$module_path\$" -e '^\./usr/share/doc/needlework-cuda/')
  [ -z "$extra" ] && ok "needlework-cuda holds only the module and its docs" || fail "needlework-cuda also holds: $extra"
  cuda_status "$both" present
  grep -E '^(CUDA|  GPU|Backend)' "$work/cuda.txt" | sed 's/^/  /'
  lintian --fail-on error --tag-display-limit 0 "$cuda_deb" >"$work/lintian-cuda.txt" 2>&1
  lintian_rc=$?
  grep -v '^running with root privileges' "$work/lintian-cuda.txt" | sed 's/^/  lintian: /'
  [ $lintian_rc -eq 0 ] && ok "lintian reports no errors for needlework-cuda" || fail "lintian reports errors for needlework-cuda (exit $lintian_rc)"
  cuda_version=$(dpkg-deb -f "$cuda_deb" Version)
  [ "$cuda_version" = "$package_version" ] && ok "needlework-cuda version $cuda_version" \
    || fail "needlework-cuda version $cuda_version differs from needlework $package_version"
  cuda_depends=$(dpkg-deb -f "$cuda_deb" Depends)
  echo "  needlework-cuda Depends: $cuda_depends"
  grep -qF "needlework (= $package_version)" <<<"$cuda_depends" && ok "needlework-cuda depends on needlework (= $package_version)" \
    || fail "needlework-cuda does not depend on needlework (= $package_version)"
  grep -q 'libc6' <<<"$cuda_depends" && ok "needlework-cuda Depends has dpkg-shlibdeps' part (libc6)" \
    || fail "needlework-cuda Depends lacks libc6: dpkg-shlibdeps did not run"
  # The libraries the module needs that no installed Debian package provides: dpkg-shlibdeps has
  # no information on them, so they must be the NVIDIA ones the documented Depends name.
  nvidia_only=()
  for lib in $(readelf -d "$both/usr/$module_path" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(/sbin/ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
    if [ -z "$path" ] || { ! dpkg -S "$path" >/dev/null 2>&1 && ! dpkg -S "$(readlink -f "$path")" >/dev/null 2>&1; }; then
      nvidia_only+=("$lib")
    fi
  done
  echo "  libraries of the module that no Debian package provides here: ${nvidia_only[*]:-none}"
  for lib in "${nvidia_only[@]}"; do
    case $lib in
      libcudart.so.*) grep -q 'cuda-cudart-' <<<"$cuda_depends" || fail "$lib: no cuda-cudart-* in Depends" ;;
      libcublas.so.* | libcublasLt.so.*) grep -q 'libcublas-' <<<"$cuda_depends" || fail "$lib: no libcublas-* in Depends" ;;
      *) fail "the module needs $lib, which neither dpkg-shlibdeps nor the NVIDIA Depends cover" ;;
    esac
  done
  [ ${#nvidia_only[@]} -gt 0 ] && ok "the NVIDIA libraries the module needs are named in Depends"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
