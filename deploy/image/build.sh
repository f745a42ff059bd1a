#!/usr/bin/env bash
# Builds the aigate container image: a static binary and the few files of
# deploy/image/Containerfile. Uses podman, else buildah, else docker, so it
# works wherever one of them is installed. Usage: build.sh IMAGE (e.g. aigate:dev).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

image="${1:?usage: deploy/image/build.sh IMAGE, e.g. aigate:dev}"
ctx="bin/image"
certs="${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}"

if [ ! -s "$certs" ]; then
	echo "no CA bundle at $certs: install ca-certificates (apt-get install ca-certificates) or set CA_CERTIFICATES to a PEM bundle" >&2
	exit 1
fi

tool=""
for t in podman buildah docker; do
	if command -v "$t" >/dev/null; then tool="$t"; break; fi
done
if [ -z "$tool" ]; then
	echo "no image builder found: install podman or buildah (apt-get install buildah) or docker" >&2
	exit 1
fi

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

rm -rf "$ctx"
mkdir -p "$ctx"
# Static: scratch has no libc and no dynamic loader.
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X github.com/aigate/aigate/internal/buildinfo.version=$version" \
	-o "$ctx/aigate" ./cmd/aigate
cp "$certs" "$ctx/ca-certificates.crt"
# The user the image runs as, so tools that map uids (ps, id, logs) show a name.
printf 'aigate:x:65532:65532:aigate:/nonexistent:/sbin/nologin\n' >"$ctx/passwd"
printf 'aigate:x:65532:\n' >"$ctx/group"
chmod 0755 "$ctx/aigate"
chmod 0644 "$ctx/ca-certificates.crt" "$ctx/passwd" "$ctx/group"

args=(--file deploy/image/Containerfile --tag "$image"
	--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created")
case "$tool" in
podman) podman build "${args[@]}" "$ctx" ;;
buildah) buildah build --isolation chroot "${args[@]}" "$ctx" ;;
docker) docker build "${args[@]}" "$ctx" ;;
esac
echo "built $image with $tool (version $version)"
