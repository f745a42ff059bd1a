#!/usr/bin/env bash
# Checks a built aigate image without running it: it runs as the non-root
# user with the binary as entrypoint, listens beyond loopback, holds exactly
# the expected files (no shell, nothing else to patch) and the binary is
# static. Usage: check.sh IMAGE (e.g. aigate:dev). CI runs it after `make image`.
set -euo pipefail

image="${1:?usage: deploy/image/check.sh IMAGE, e.g. aigate:dev}"
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

tool=""
for t in podman buildah docker; do
	if command -v "$t" >/dev/null; then tool="$t"; break; fi
done
[ -n "$tool" ] || { echo "no podman, buildah or docker to inspect $image with: install one (apt-get install buildah)" >&2; exit 1; }

# Go templates without functions: buildah's has no json. Lists print as
# [a b], maps as map[k:v].
inspect() {
	case "$tool" in
	buildah) buildah inspect --type image --format "{{.OCIv1.Config.$1}}" "$image" ;;
	*) "$tool" image inspect --format "{{.Config.$1}}" "$image" ;;
	esac
}

want() { # what got want
	if [ "$2" != "$3" ]; then bad "$1 is $2, want $3"; fi
}
want User "$(inspect User)" "65532:65532"
want Entrypoint "$(inspect Entrypoint)" '[/usr/local/bin/aigate]'
want Cmd "$(inspect Cmd)" '[server]'
env=" $(inspect Env | tr -d '[]') "
for e in AIGATE_HTTP_ADDRESS=0.0.0.0:8080 AIGATE_METRICS_ADDRESS=0.0.0.0:9464; do
	case "$env" in *" $e "*) ;; *) bad "Env lacks $e (has$env)" ;; esac
done
ports="$(inspect ExposedPorts)"
for p in 8080/tcp 9464/tcp; do
	case "$ports" in *"$p:"*) ;; *) bad "ExposedPorts lacks $p (has $ports)" ;; esac
done

# The image's filesystem, read from a container that is created, never started.
tmp="$(mktemp -d)"
ctr=""
cleanup() {
	if [ -n "$ctr" ]; then
		case "$tool" in
		buildah) buildah rm "$ctr" >/dev/null ;;
		*) "$tool" rm "$ctr" >/dev/null ;;
		esac
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
case "$tool" in
buildah) ctr="$(buildah from "$image")"; root="$(buildah mount "$ctr")"; tar -C "$root" -cf "$tmp/fs.tar" . ;;
*) ctr="$("$tool" create "$image")"; "$tool" export -o "$tmp/fs.tar" "$ctr" ;;
esac
mkdir "$tmp/fs"
tar -C "$tmp/fs" -xf "$tmp/fs.tar"

files="$(cd "$tmp/fs" && find . -type f -o -type l | sed 's|^\./|/|' | sort)"
expected="/etc/group
/etc/passwd
/etc/ssl/certs/ca-certificates.crt
/usr/local/bin/aigate"
# podman and docker add these empty placeholders to every container.
files="$(printf '%s\n' "$files" | grep -vxE '/etc/(hosts|hostname|resolv\.conf)|/\.dockerenv|/run/\.containerenv' || true)"
if [ "$files" != "$expected" ]; then
	bad "the image holds other files than expected:"
	diff <(printf '%s\n' "$expected") <(printf '%s\n' "$files") >&2 || true
fi

bin="$tmp/fs/usr/local/bin/aigate"
if [ -f "$bin" ]; then
	[ -x "$bin" ] || bad "/usr/local/bin/aigate is not executable"
	# No dynamic loader in scratch: a binary that asks for one cannot start.
	if command -v file >/dev/null; then
		case "$(file -b "$bin")" in *"statically linked"*) ;; *) bad "/usr/local/bin/aigate is not static: $(file -b "$bin")" ;; esac
	fi
	if command -v go >/dev/null; then
		go version -m "$bin" | grep -q 'CGO_ENABLED=0' || bad "/usr/local/bin/aigate was built with cgo; build it with CGO_ENABLED=0"
	fi
fi
grep -qx 'aigate:x:65532:65532:.*' "$tmp/fs/etc/passwd" 2>/dev/null || bad "/etc/passwd has no aigate user with uid 65532"
grep -q 'BEGIN CERTIFICATE' "$tmp/fs/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || bad "/etc/ssl/certs/ca-certificates.crt holds no certificates"

if [ "$fail" != 0 ]; then
	echo "$image failed its checks (deploy/image/check.sh)" >&2
	exit 1
fi
echo "$image: user 65532:65532, entrypoint /usr/local/bin/aigate server, $(printf '%s\n' "$files" | wc -l) files, static binary"
