#!/usr/bin/env bash
# Every C++ or CUDA file changed since the commit that started the check is clang-formatted
# (.clang-format). Files nobody touched since keep their layout, so the check never forces a
# whole-tree reformat on a branch in flight; the set it covers grows with every change.
#
#   scripts/check-format.sh [--fix]    --fix formats those files in place instead of checking
set -euo pipefail
cd "$(dirname "$0")/.."
since=$(cat scripts/format-baseline)
fix=0
[ "${1:-}" = "--fix" ] && fix=1
if ! command -v clang-format >/dev/null; then
  echo "check-format: clang-format is not installed (scripts/setup-deps.sh installs it)" >&2
  exit 1
fi
if ! git rev-parse -q --verify "$since^{commit}" >/dev/null; then
  # A shallow clone cannot tell what changed; say so rather than fail the build for it.
  echo "check-format: skipped: the baseline commit $since is not in this clone's history (shallow clone)" >&2
  exit 0
fi
# Files changed since the baseline, committed or not, that still exist.
mapfile -t files < <({ git diff --name-only "$since" -- '*.cpp' '*.h' '*.cu' '*.cuh';
                       git ls-files --others --exclude-standard -- '*.cpp' '*.h' '*.cu' '*.cuh'; } |
                     sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done)
if [ ${#files[@]} -eq 0 ]; then
  echo "check-format: no C++ file changed since $since"
  exit 0
fi
if [ $fix -eq 1 ]; then
  clang-format -i "${files[@]}"
  echo "check-format: formatted ${#files[@]} files"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} of ${#files[@]} changed files are not clang-formatted (scripts/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} changed files are clang-formatted"
