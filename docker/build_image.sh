#!/usr/bin/env bash
# Build the image of the sandbox's docker backend from THIS host's installed files: no registry
# pulls, no Dockerfile. The root filesystem is the dpkg file lists of python3 + gcc/g++ (and what
# they depend on), tarred straight into `docker import`.
#
# Usage: bash docker/build_image.sh [TAG]        (default tag: rlvr-sandbox:latest)
# Needs: a running Docker daemon, Debian/Ubuntu host with python3 and g++ installed.
set -euo pipefail

TAG="${1:-rlvr-sandbox:latest}"
ROOTS=(dash coreutils python3-minimal python3.11-minimal libpython3.11-stdlib gcc g++ gcc-12 g++-12 libc6-dev)

command -v docker >/dev/null || { echo "error: docker CLI not found — apt-get install docker.io" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "error: no Docker daemon — start dockerd" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The installed dependency closure of the roots (Depends/PreDepends only).
apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${ROOTS[@]}" 2>/dev/null \
  | grep -v '^ ' | grep -v '^<' | sed 's/:any$//' | sort -u > "$work/candidates"
: > "$work/packages"
while read -r pkg; do
  if dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    echo "$pkg" >> "$work/packages"
  fi
done < "$work/candidates"

# Every path those packages installed, plus the merged-/usr links and the loader cache.
xargs -a "$work/packages" dpkg -L 2>/dev/null | grep '^/' | sort -u > "$work/paths"
for extra in /bin /sbin /lib /lib64 /etc/ld.so.cache /etc/alternatives /usr/bin/python3 /usr/bin/g++ /usr/bin/gcc; do
  [ -e "$extra" ] || [ -L "$extra" ] && echo "$extra" >> "$work/paths"
done
# Keep paths that exist; tar without recursion so directories don't drag in unrelated files.
# On merged-/usr hosts /bin, /lib... are links: store their files under usr/ (the image gets the
# links themselves), since `docker import` refuses to extract through a link.
merged=""
for top in bin sbin lib lib32 lib64 libx32; do
  [ -L "/$top" ] && merged="$merged -e s#^$top/#usr/$top/#"
done
while read -r p; do [ -e "$p" ] || [ -L "$p" ] && echo "${p#/}"; done < "$work/paths" \
  | { if [ -n "$merged" ]; then sed $merged; else cat; fi; } | sort -u > "$work/list"

echo "packing $(wc -l < "$work/list") paths from $(wc -l < "$work/packages") packages into $TAG" >&2
tar -C / --no-recursion -cf - -T "$work/list" \
  | docker import \
      --change 'USER 65534:65534' \
      --change 'WORKDIR /work' \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8' \
      - "$TAG"
docker run --rm --network none "$TAG" /usr/bin/python3 -c 'print("python ok")'
echo "built $TAG" >&2
