#!/usr/bin/env bash
# ui/ shows what app/ hands it and calls nothing below app/ (DESIGN.md: kernels ← engine ← app ← ui,
# store ← ingest ← app). Fails, naming file and line, when a file of ui/ includes a header of
# store/, ingest/, engine/ or kernels/, or names one of their classes or functions in code (comments
# and string literals are not code: "&Model" in a label is fine), or runs the ask/session flow
# itself (AskService, SessionService) instead of through app::Workbench. The plain value types
# app/ re-exports (app::MemoryStats, app::DocumentInfo, ...) are what ui/ uses instead.
# Usage: ui_layering.sh [SOURCE_DIR] (default: the repository this script is in).
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$root/ui"

# Objects of the lower modules (classes that hold a connection, a file, a model or a device), the
# functions that reach them without the workbench, and app/'s pieces of the flow the workbench
# owns; the namespaces of store/ and ingest/.
forbidden='AskService|SessionService'
forbidden+='|LibraryStore|SessionStore|AnnotationStore|SearchService|Database|Statement|Transaction|Savepoint'
forbidden+='|Ingestor|PdfDocument|TextDocument|pageWordBoxes'
forbidden+='|GgufFile|GgufWriter|Model|ModelWeights|Tokenizer|SpmTokenizer|BpeTokenizer|Generator|Sampler|ChatTemplate'
forbidden+='|KvCache|KvLayout|KvModeSpec|MemoryCounters|Backend|CpuBackend|CudaBackend|BackendBuffer'
forbidden+='|makeBackend|makeCpuBackend|makeCudaBackend|decideBackend|gpuInfo|kvModeFigures'
forbidden+='|knownArchitectures|findKnownArchitecture|requireKnownArchitecture'

status=0
hits=$(mktemp)
trap 'rm -f "$hits"' EXIT
for file in *.h *.cpp; do
  # Lower-module headers, by include line.
  if grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](store|ingest|engine|kernels)/' "$file" >"$hits"; then
    sed -E "s|^|ui/$file:|; s|\$|  (includes a header below app/)|" "$hits"
    status=1
  fi
  # Names, in code only: comments, string and character literals blanked first (keeping lines).
  perl -0777 -pe '
    s{(//[^\n]*)|(/\*.*?\*/)|("(?:\\.|[^"\\\n])*")|(\x27(?:\\.|[^\x27\\\n])*\x27)}{
      my $m = $&; $m =~ s/[^\n]/ /g; $m }gse' "$file" |
    grep -nwE "$forbidden|(store|ingest)::[A-Za-z_]+" >"$hits" || true
  if [[ -s "$hits" ]]; then
    sed -E "s|^([0-9]+):[[:space:]]*|ui/$file:\1: |; s|[[:space:]]+\$||; s|\$|  (reaches past the workbench)|" "$hits"
    status=1
  fi
done
if [[ $status -ne 0 ]]; then
  echo "ui_layering: ui/ must go through app/ (app/workbench.h and the types it re-exports)" >&2
else
  echo "ui_layering: ui/ reaches store/, ingest/, engine/ and kernels/ only through app/"
fi
exit $status
