#!/usr/bin/env bash
# Copies the photos that hold the accepted faces of one split of a face set:
#
#   scripts/split-photos.sh FACESET_DIR SOURCES_DIR SPLIT OUT_DIR
#
# FACESET_DIR holds faces.json (scripts/build-face-set.sh OUT makes OUT/faces), SOURCES_DIR the
# extracted packages (OUT/sources), SPLIT is train, validation or test. OUT_DIR is emptied
# first. Other faces in those photos belong to other splits; the evaluation leaves them out.
set -euo pipefail
set_dir="${1:?usage: scripts/split-photos.sh FACESET_DIR SOURCES_DIR SPLIT OUT_DIR}"
src_dir="${2:?sources folder}"
split="${3:?split}"
out="${4:?output folder}"
rm -rf "$out"; mkdir -p "$out"
python3 - "$set_dir/faces.json" "$src_dir" "$split" "$out" <<'PY'
import json, os, shutil, sys
manifest, sources, split, out = sys.argv[1:5]
seen = set()
for f in json.load(open(manifest))["faces"]:
    if f["accepted"] and f["split"] == split and (f["package"], f["source_path"]) not in seen:
        seen.add((f["package"], f["source_path"]))
        src = os.path.join(sources, f["package"], f["source_path"])
        shutil.copy(src, os.path.join(out, os.path.basename(src)))
PY
