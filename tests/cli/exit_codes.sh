#!/usr/bin/env bash
# The executable's contract: --help/--version succeed, usage errors exit 2 with one line on
# stderr, doctor works headless (text and JSON), and no window is attempted without a display.
# Results that cannot be written (a full device) fail with one line; --output writes into a FIFO
# or a device in place and never replaces it; a file that is not a library is refused with one
# line and left byte for byte as it was; reading never creates a library.
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
expect 2 "generate --top-p nan" -- generate --model none.gguf --prompt hi --top-p nan
expect 2 "generate --temp inf" -- generate --model none.gguf --prompt hi --temp inf
expect 2 "generate --ctx 8.5" -- generate --model none.gguf --prompt hi --ctx 8.5
"$exe" generate --model none.gguf --prompt hi --n 2000000 2>&1 | grep -q "from 1 to 1048576," \
  || { echo "FAIL: a range error prints its integer bounds as integers"; failures=$((failures + 1)); }
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
  for opt in $(grep -oE -- '(^|[ ,])--?[a-z][a-z-]* <(N|T|K|P|R|S|ID|LIST)>' <<<"$help" | grep -vE -- '--(kv|variants|docs) ' | awk '{print $NF=="" ? $1 : $(NF-1)}' | sort -u); do
    for bad in abc -1 nan ''; do
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

# --- output and library files (issue 25)
work=$(mktemp -d)
lib=$work/lib.sqlite
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
one_line_failure() { # one_line_failure DESCRIPTION STDOUT -- ARGS...: exit 1, one line on stderr
  local what=$1 target=$2; shift 3
  local err; err=$(mktemp)
  "$exe" "$@" >"$target" 2>"$err"; local got=$?
  if [ "$got" -ne 1 ] || [ "$(wc -l <"$err")" -ne 1 ]; then
    fail "$what: exit $got (expected 1), stderr: $(cat "$err")"
  else
    echo "ok: $what"
  fi
  rm -f "$err"
}
printf 'The supplier shall deliver the goods within thirty days.\nPayment is due on delivery.\n' >"$work/contract.txt"
"$exe" ingest --db "$lib" "$work/contract.txt" >/dev/null 2>&1 || fail "ingest a text file"
"$exe" ask --db "$lib" "When is payment due?" >/dev/null 2>&1 || fail "ask without a model"
"$exe" annotations add --db "$lib" --doc 1 --page 1 --kind note --note "check the date" >/dev/null 2>&1 || fail "annotations add"

for args in "annotations export" "annotations export --format csv" "annotations list" "sessions export 1" \
            "sessions export 1 --format json" "library --json" "search payment"; do
  # shellcheck disable=SC2086
  one_line_failure "$args to a full stdout" /dev/full -- $args --db "$lib"
done
one_line_failure "annotations export --output /dev/full" /dev/null -- annotations export --db "$lib" --output /dev/full
one_line_failure "annotations export --output a folder" /dev/null -- annotations export --db "$lib" --output "$work"
[ -d "$work" ] || fail "the folder given to --output is gone"

# A FIFO with a reader gets the export written into it and stays a FIFO.
"$exe" annotations export --db "$lib" --format csv >"$work/expected.csv" 2>/dev/null
mkfifo "$work/fifo"
cat "$work/fifo" >"$work/got.csv" &
reader=$!
"$exe" annotations export --db "$lib" --format csv --output "$work/fifo" >/dev/null 2>&1 || fail "export into a FIFO: exit $?"
wait "$reader"
[ -p "$work/fifo" ] || fail "the FIFO was replaced by a regular file"
cmp -s "$work/expected.csv" "$work/got.csv" && echo "ok: export into a FIFO" || fail "the FIFO's reader got something else"
# A character device is written in place. As root a device node of our own stands in for
# /dev/null, so that a regression cannot replace the system's.
null=/dev/null
if [ "$(id -u)" -eq 0 ] && mknod "$work/null" c 1 3 2>/dev/null; then null=$work/null; fi
"$exe" annotations export --db "$lib" --output "$null" >/dev/null 2>&1 || fail "export to $null: exit $?"
[ -c "$null" ] && echo "ok: export to a character device" || fail "$null is no longer a character device"
"$exe" annotations export --db "$lib" --output "$work/out.json" >/dev/null 2>&1 && [ -f "$work/out.json" ] \
  && echo "ok: export to a new file" || fail "export to a new file"

# Files that are not libraries: one line, no change; reading never creates one.
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("create table moz_places(id integer primary key, url text)"); c.execute("insert into moz_places(url) values (1)"); c.commit()' "$work/foreign.sqlite"
: >"$work/zero.sqlite"
for f in foreign zero; do
  cp "$work/$f.sqlite" "$work/$f.before"
  for args in "search payment" "library" "annotations list" "sessions list" "ingest $work/contract.txt"; do
    # shellcheck disable=SC2086
    one_line_failure "$args on the $f file" /dev/null -- $args --db "$work/$f.sqlite"
    cmp -s "$work/$f.sqlite" "$work/$f.before" || fail "$args changed the $f file"
  done
  [ -e "$work/$f.sqlite-wal" ] && fail "a WAL file was left beside the $f file"
done
one_line_failure "library --db a missing file" /dev/null -- library --db "$work/typo.sqlite"
[ -e "$work/typo.sqlite" ] && fail "library --db typo.sqlite created a library"
"$exe" library --db "$work/typo.sqlite" 2>&1 | grep -q "needlework ingest" || fail "the missing-library message does not say how to make one"
# Needle sets: a name that is neither bundled nor a file, and multi-key without pass keys, are one
# line each, said before any model is read.
one_line_failure "needle --needles a set that does not exist" /dev/null -- needle --model /nonexistent/model.gguf --needles nolimaa --out "$work/needles"
"$exe" needle --model /nonexistent/model.gguf --needles nolimaa 2>&1 | grep -q "bundled sets: passkey, nolima" \
  && echo "ok: a missing needle set lists the bundled ones" || fail "a missing needle set does not list the bundled ones"
"$exe" needle --model /nonexistent/model.gguf --lengths 64 --needles nolima --variants multi-key --out "$work/needles" 2>&1 \
  | grep -q "multi-key variant needs the pass-key needles" \
  && echo "ok: multi-key with a needle set is refused" || fail "multi-key with a needle set is not refused for what it is"
rm -rf "$work"

echo "$failures failed"
[ "$failures" -eq 0 ]
