#!/usr/bin/env bash
# The executable's contract: --help/--version succeed, usage errors exit 2 with one line on
# stderr, doctor works headless (text and JSON), and no window is attempted without a display.
set -u
exe=$1
export HOME=$(mktemp -d) XDG_DATA_HOME= XDG_CACHE_HOME=
unset DISPLAY WAYLAND_DISPLAY QT_QPA_PLATFORM XDG_RUNTIME_DIR
failures=0
expect() { # expect CODE DESCRIPTION -- ARGS...
  local want=$1 what=$2; shift 3
  local err; err=$(mktemp)
  "$exe" "$@" >/dev/null 2>"$err"; local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want; stderr: $(cat "$err")"; failures=$((failures + 1))
  elif [ "$want" -eq 2 ] && [ "$(wc -l <"$err")" -ne 1 ]; then
    echo "FAIL: $what: expected one line on stderr, got: $(cat "$err")"; failures=$((failures + 1))
  else
    echo "ok: $what"
  fi
  rm -f "$err"
}
expect 0 "--help" -- --help
expect 0 "--version" -- --version
expect 2 "unknown subcommand" -- frobnicate
expect 2 "unknown option" -- --frobnicate
expect 2 "unknown subcommand option" -- doctor --frobnicate
expect 2 "bad log level" -- doctor --log-level=loud
expect 0 "doctor" -- doctor
expect 0 "doctor --json" -- doctor --json
expect 1 "window without a display" --
for sub in $("$exe" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}'); do
  expect 0 "$sub --help" -- "$sub" --help
done
# Every numeric option of every subcommand (found in its --help by the value names numbers use):
# a bad value is one line and exit 2, before any model is loaded (a --model that does not exist
# would fail later with exit 1).
for sub in $("$exe" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}'); do
  help=$("$exe" "$sub" --help)
  model=()
  grep -q -- '--model <' <<<"$help" && model=(--model /nonexistent/model.gguf)
  for opt in $(grep -oE -- '--[a-z-]+ <(N|T|K|P|R|S|ID|LIST)>' <<<"$help" | grep -vE -- '--(kv|variants|docs) ' | awk '{print $1}' | sort -u); do
    for bad in abc -1 nan 1e999 ''; do
      expect 2 "$sub $opt='$bad'" -- "$sub" "$opt=$bad" "${model[@]}"
    done
  done
done
# Headless commands say nothing of the session's missing XDG_RUNTIME_DIR (Qt warned on each start).
for sub in doctor "needle --help"; do
  if $exe $sub 2>&1 >/dev/null | grep -q XDG_RUNTIME_DIR; then
    echo "FAIL: $sub warns about XDG_RUNTIME_DIR"; failures=$((failures + 1))
  else
    echo "ok: $sub without XDG_RUNTIME_DIR"
  fi
done
"$exe" --version | grep -Eq '^needlework [0-9]+\.[0-9]+\.[0-9]+$' || { echo "FAIL: --version format"; failures=$((failures + 1)); }
"$exe" doctor --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["sqlite"]["fts5"] is True; assert d["cpu"]["threads"] >= 1; assert d["paths"]["data"]' \
  || { echo "FAIL: doctor --json content"; failures=$((failures + 1)); }
echo "$failures failed"
[ "$failures" -eq 0 ]
