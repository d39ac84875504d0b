#!/usr/bin/env bash
# The arm64 lane (make test-arm64): the runtime on aarch64, as on a Jetson, under qemu user emulation.
#
# An arm64 Debian bookworm root (mmdebstrap; its maintainer scripts run through qemu-aarch64 registered with
# binfmt_misc) holds two virtual environments, neither with torch:
#   wheels  PyPI's aarch64 wheels of NumPy, OpenCV and ONNX Runtime at the oldest lane's pins (constraints-oldest.txt)
#   distro  Debian's own python3-opencv and python3-numpy (a distro OpenCV 4.6, like the Jetson image's Ubuntu one),
#           plus ONNX Runtime's aarch64 wheel
# and each runs a time-boxed smoke test of this checkout: install it, `asl-edge doctor`, `eval` on a few photos of
# unseen signers, `run --max-frames` on the bundled clip's first letter (H). Emulation runs the hand chain at about
# 1.6 s a frame, so the test is short on purpose; the x86 lanes run the whole suite.
#
# The root and its environments are cached outside the clone (ASL_EDGE_ARM64_CACHE, /var/cache/asl-edge/arm64 by
# default), keyed by what they are built from, so a second run on one machine only runs the smoke. Building it
# on a fresh machine is long, mostly emulated work: measured on a 2-core machine shared with other jobs (load ~16),
# mmdebstrap took 28.5 min (4.6 min of CPU) and the two environments' pip installs 5.5 min; the smoke test of
# each environment about 4 min. Needs root (binfmt_misc, chroot); skips with one line where it cannot get them.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
ROOT_PACKAGES=python3,python3-venv,python3-pip,python3-opencv,python3-numpy,ca-certificates
CACHE=${ASL_EDGE_ARM64_CACHE:-/var/cache/asl-edge/arm64}
HOST_PYTHON=${HOST_PYTHON:-.venv/bin/python}
SHARED=${SHARED:-../shared}
WORK=build/arm64
SMOKE_TIMEOUT_S=${SMOKE_TIMEOUT_S:-900}
LETTERS=(A B L V Y)   # eval: one massey-dev photo of each (signers the model never saw)

skip() { echo "arm64 lane: skipped: $*"; exit 0; }
say() { echo "arm64 lane: $*"; }
stamp() { date +%s; }

# --- qemu-aarch64 under binfmt_misc --------------------------------------------------------------------------------
register_binfmt() {
    [[ $(uname -m) == aarch64 ]] && return 0   # a real arm64 machine needs no emulation
    [[ $(id -u) == 0 ]] || skip "needs root to register qemu-aarch64 with binfmt_misc and to chroot"
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
            || skip "cannot mount binfmt_misc (a container without the privilege to register qemu-aarch64)"
    fi
    if ! command -v qemu-aarch64-static >/dev/null || ! command -v mmdebstrap >/dev/null; then
        say "installing Debian's qemu-user-static and mmdebstrap"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static mmdebstrap; } \
            >/dev/null || skip "cannot install qemu-user-static and mmdebstrap with apt-get"
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
        # Debian's own registration line (flag F: the kernel opens the interpreter now, so it works inside chroots)
        cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register 2>/dev/null \
            || skip "cannot register qemu-aarch64 in /proc/sys/fs/binfmt_misc (read-only here)"
    fi
    grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || skip "the qemu-aarch64 binfmt entry is disabled"
}

# Run a command in the arm64 root with /proc, /dev, /sys and the work folder (as /smoke) mounted in a private
# mount namespace, so nothing stays mounted after it, even when it is killed.
in_root() {
    local root=$1
    shift
    unshare --mount --propagation private -- /bin/sh -c '
        root=$1 work=$2; shift 2
        mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && mount --rbind /sys "$root/sys" \
            && mkdir -p "$root/smoke" && mount --bind "$work" "$root/smoke" && exec chroot "$root" "$@"' \
        sh "$root" "$(realpath "$WORK")" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

# --- the cached root -----------------------------------------------------------------------------------------------
pins() { grep -E '^(numpy|opencv-python-headless|onnxruntime)==' constraints-oldest.txt; }

build_root() {
    local key root tmp
    key=$(printf '%s\n' "$SUITE" "$ROOT_PACKAGES" "$(pins)" | sha256sum | cut -c1-16)
    root=$CACHE/root-$key
    ROOT=$root
    [[ -e $root/.complete ]] && { say "cached root $root"; return 0; }
    say "building the arm64 root $root (once per machine; about 35 minutes under emulation on a busy 2-core machine)"
    local t0
    t0=$(stamp)
    tmp=$root.partial
    # The Debian root is the long part: one that finished is kept when the environments after it fail (network).
    if [[ ! -e $tmp/.debian-complete ]]; then
        rm -rf "$tmp"
        mmdebstrap --quiet --arch=arm64 --variant=apt --include="$ROOT_PACKAGES" "$SUITE" "$tmp" "$MIRROR"
        touch "$tmp/.debian-complete"
    fi
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"   # pip reaches PyPI from inside
    # and trusts what the host trusts: a machine whose HTTPS goes through a TLS proxy has that CA in its own
    # bundle only, not in the fresh root's
    cp /etc/ssl/certs/ca-certificates.crt "$tmp/etc/ssl/certs/host-ca-certificates.crt"
    pins > "$tmp/root/pins.txt"
    mkdir -p "$WORK"
    in_root "$tmp" /bin/sh -ec '
        export PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt
        python3 -m venv /opt/lane/wheels
        /opt/lane/wheels/bin/pip install -q --no-cache-dir -c /root/pins.txt numpy opencv-python-headless onnxruntime
        python3 -m venv --system-site-packages /opt/lane/distro
        /opt/lane/distro/bin/pip install -q --no-cache-dir -c /root/pins.txt onnxruntime'
    touch "$tmp/.complete"
    mv "$tmp" "$root"
    say "root built in $(( $(stamp) - t0 )) s"
}

# --- the smoke test ------------------------------------------------------------------------------------------------
prepare_work() {
    rm -rf "$WORK" && mkdir -p "$WORK/dist" "$WORK/photos"
    # setuptools' warnings about the package-dir layout would bury the lane's lines: shown only on failure
    "$HOST_PYTHON" -m pip wheel -q --no-deps -w "$WORK/dist" . > "$WORK/wheel.log" 2>&1 \
        || { cat "$WORK/wheel.log" >&2; echo "error: cannot build the asl-edge wheel (above)" >&2; exit 1; }
    for letter in "${LETTERS[@]}"; do
        local photo
        photo=$(find "$SHARED/data/massey-dev/$letter" -type f | sort | head -n 1)
        [[ -n $photo ]] || { echo "error: no photo of $letter in $SHARED/data/massey-dev" >&2; exit 1; }
        mkdir -p "$WORK/photos/$letter" && cp "$photo" "$WORK/photos/$letter/"
    done
    cp asl_edge/assets/sample_clip.mp4 "$WORK/clip.mp4"   # its first 24 frames: nothing, then H held 1.2 s
}

smoke() {
    local env=$1 t0
    t0=$(stamp)
    in_root "$ROOT" /bin/sh -ec '
        env=$1
        py=/opt/lane/$env/bin/python
        rm -rf /smoke/site-$env
        $py -m pip install -q --no-deps --no-cache-dir --target /smoke/site-$env /smoke/dist/*.whl
        export PYTHONPATH=/smoke/site-$env
        $py - <<EOF
import importlib.metadata as m, platform, sys, cv2, numpy, onnxruntime
assert platform.machine() == "aarch64", platform.machine()
try:
    import torch  # noqa: F401
    sys.exit("torch is installed in the arm64 lane; the runtime must work without it")
except ImportError:
    pass
print(f"$env: Python {platform.python_version()} {platform.machine()}, NumPy {numpy.__version__}, "
      f"OpenCV {cv2.__version__} ({cv2.__file__}), ONNX Runtime {onnxruntime.__version__}")
EOF
        $py -m asl_edge doctor --job run > /smoke/doctor-$env.txt || { cat /smoke/doctor-$env.txt; exit 1; }
        echo "$env: doctor --job run passed"
        $py -m asl_edge eval /smoke/site-$env/asl_edge/assets/asl_landmarks.onnx --data /smoke/photos --split all \
            --hand-models lite --out /smoke/eval-$env > /smoke/eval-$env.txt
        grep -E "top-1|per letter" /smoke/eval-$env.txt
        $py -m asl_edge run --source /smoke/clip.mp4 --max-frames 24 --hand-models lite --no-window \
            > /smoke/run-$env.txt
        grep -E "frames in|spelled" /smoke/run-$env.txt
        grep -qx "spelled: .H." /smoke/run-$env.txt || { echo "error: the clip is H, not what run spelled" >&2; exit 1; }
    ' sh "$env"
    say "$env: smoke passed in $(( $(stamp) - t0 )) s"
}

main() {
    local t0
    t0=$(stamp)
    register_binfmt
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9   # one build of the cache at a time on a machine
    mkdir -p "$WORK"
    build_root
    prepare_work
    for env in wheels distro; do
        timeout "$SMOKE_TIMEOUT_S" bash -c "$(declare -f in_root smoke say stamp); WORK=$WORK ROOT=$ROOT smoke $env"
    done
    say "passed in $(( $(stamp) - t0 )) s"
}

main "$@"
