#!/usr/bin/env bash
# The cgroup2 tier: pidone on a cgroup v2 kernel, whatever the host runs.
#
# Builds the static pidone and the static examples workload and hog
# (`cargo build-static`), takes a kernel from Debian's packages (linux-image-amd64's
# dependency, the real linux-image-*-amd64: `apt-get download`, then its /boot only
# out of the .deb, cached under target/cgroup2-vm/: the serial console, cgroup2,
# memory, pids and PID namespaces are built in, so no module is needed), packs an
# initramfs (cpio, newc) of busybox, pidone, the workloads and tests/cgroup2/init.sh
# as /init, and boots it under qemu-system-x86_64 (KVM when /dev/kvm works, else
# software emulation) with no disk and no network. /init runs the cases, each with
# pidone as PID 1 of a new PID namespace in a cgroup of its own, and writes them to
# the serial console; this script collects them from there, with a timeout so that
# a hung VM fails the tier. Each case prints what it ran and measured, then PASS or
# FAIL; the last line is "N passed, M failed". Exit status: 0 when all passed.
#
# Needs qemu-system-x86_64 (Debian: qemu-system-x86), a static busybox
# (busybox-static) and cpio: they are installed with apt-get when missing, and the
# kernel is downloaded once, which needs root. When the VM cannot run here, the
# tier is skipped with a reason, except under CI=true, where that is a failure.
#
#   bash tests/cgroup2/run.sh
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/tests/cgroup2
TRIPLE=x86_64-unknown-linux-gnu
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR = /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
BIN=$TARGET_DIR/$TRIPLE/release/pidone
EXAMPLES_DIR=$TARGET_DIR/$TRIPLE/release/examples
EXAMPLES=(workload hog)
CACHE=$TARGET_DIR/cgroup2-vm # the kernel, kept between runs
VM_TIMEOUT=${VM_TIMEOUT:-300} # seconds for the whole boot, cases and power-off

TIER=cgroup2
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

# ---------------------------------------------------------------- prerequisites

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pidone-cg2.XXXXXX")
QEMU_PID=
teardown() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    # QEMU_PID is timeout's, which passes TERM on to qemu.
    alive "$QEMU_PID" && kill -TERM "$QEMU_PID" && wait "$QEMU_PID"
    rm -rf "$WORK"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

is_static() { [[ -x $1 ]] && ! ldd "$1" >/dev/null 2>&1; }
APT_UPDATED=
apt_update() {
    [[ -n $APT_UPDATED ]] && return 0
    # Another apt-get (a developer's, at the same time) may hold the lock a while.
    timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null || unavailable "apt-get update failed"
    APT_UPDATED=1
}

install_missing() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    is_static /bin/busybox || missing+=(busybox-static)
    command -v cpio >/dev/null || missing+=(cpio)
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) = 0 ]] || unavailable "not root: cannot install ${missing[*]}"
    say "installing ${missing[*]}"
    apt_update
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        --no-install-recommends "${missing[@]}" >/dev/null ||
        unavailable "apt-get install ${missing[*]} failed"
}

# Sets KERNEL to a vmlinuz from Debian's linux-image-amd64, downloaded once.
get_kernel() {
    KERNEL=$(find "$CACHE/boot" -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n1)
    [[ -n $KERNEL ]] && return 0
    local package
    [[ $(id -u) = 0 ]] || unavailable "not root: cannot download a kernel with apt-get"
    mkdir -p "$CACHE" "$WORK/deb"
    apt_update
    package=$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
    [[ -n $package ]] || unavailable "linux-image-amd64 depends on no linux-image-*-amd64 (apt-cache depends)"
    say "downloading $package (apt-get download) into $CACHE"
    # As root, not apt's sandbox user: that one cannot write to our directory.
    (cd "$WORK/deb" && timeout 600 apt-get download -q -o APT::Sandbox::User=root "$package" >/dev/null) ||
        unavailable "apt-get download $package failed"
    # Only /boot (vmlinuz, config): the modules, most of the package, are not needed.
    dpkg-deb --fsys-tarfile "$WORK/deb/$package"_*.deb | tar -x -C "$CACHE" --wildcards './boot/*' ||
        unavailable "cannot extract /boot from $package"
    KERNEL=$(find "$CACHE/boot" -name 'vmlinuz-*' | sort -V | tail -n1)
    [[ -n $KERNEL ]] || unavailable "$package holds no /boot/vmlinuz-*"
}

[[ $(uname -s) = Linux ]] || unavailable "not Linux"
[[ $(uname -m) = x86_64 ]] || unavailable "not x86_64"
install_missing
get_kernel

# --------------------------------------------------------------------- build

say "building: cargo build-static; cargo build-static --example ${EXAMPLES[*]}"
example_args=()
for e in "${EXAMPLES[@]}"; do example_args+=(--example "$e"); done
(cd "$REPO" && timeout 1800 cargo build-static && timeout 1800 cargo build-static "${example_args[@]}") || {
    say "FAIL: the static build failed" >&2
    exit 1
}

# ------------------------------------------------------------- the initramfs

build_initramfs() {
    local root=$WORK/root f
    mkdir -p "$root"/{bin,ex,proc,sys,dev,tmp}
    cp /bin/busybox "$root/bin/busybox"
    for f in $(/bin/busybox --list); do [[ $f = busybox ]] || ln -s busybox "$root/bin/$f"; done
    cp "$BIN" "$root/pidone"
    for f in "${EXAMPLES[@]}"; do cp "$EXAMPLES_DIR/$f" "$root/ex/$f"; done
    for f in "$root/pidone" "$root"/ex/*; do
        is_static "$f" || {
            say "FAIL: $f is not a static executable"
            return 1
        }
    done
    install -m 755 "$HERE/init.sh" "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet) >"$WORK/initramfs.cpio"
    # The KVM probe's: busybox, and an /init that says so and powers off.
    mkdir -p "$WORK/probe/bin"
    cp /bin/busybox "$WORK/probe/bin/busybox"
    printf '#!/bin/busybox sh\n/bin/busybox echo @@ booted\n/bin/busybox poweroff -f\n' >"$WORK/probe/init"
    chmod 755 "$WORK/probe/init"
    (cd "$WORK/probe" && find . | cpio -o -H newc --quiet) >"$WORK/probe.cpio"
}

# ------------------------------------------------------------------- the VM

CONSOLE=$WORK/console.log
# vm ACCEL INITRAMFS CONSOLE: the qemu-system-x86_64 arguments of a VM, in VM_ARGS.
vm() {
    VM_ARGS=(-accel "$1" -m 512M -smp 1 -nodefaults -no-reboot -display none
        -serial "file:$3" -monitor none -kernel "$KERNEL" -initrd "$2"
        -append "console=ttyS0 rdinit=/init panic=-1 quiet")
}

# KVM when it boots the probe (where /dev/kvm is there but does not work, a VM
# hangs or qemu aborts), else TCG: software emulation, slower but enough.
choose_accel() {
    ACCEL=${CGROUP2_ACCEL:-}
    [[ -n $ACCEL ]] && return 0
    ACCEL=tcg
    [[ -w /dev/kvm ]] || return 0
    vm kvm "$WORK/probe.cpio" "$WORK/probe.log"
    timeout 8 qemu-system-x86_64 "${VM_ARGS[@]}" </dev/null >/dev/null 2>&1 &&
        grep -q '^@@ booted' "$WORK/probe.log" && ACCEL=kvm
    [[ $ACCEL = kvm ]] || say "/dev/kvm does not boot a VM here: software emulation (tcg)"
}

boot() {
    vm "$ACCEL" "$WORK/initramfs.cpio" "$CONSOLE"
    local args=("${VM_ARGS[@]}")
    say "booting: qemu-system-x86_64 $(shown "${args[@]}")"
    : >"$CONSOLE"
    local t0=$SECONDS
    timeout "$VM_TIMEOUT" qemu-system-x86_64 "${args[@]}" </dev/null >"$WORK/qemu.log" 2>&1 &
    QEMU_PID=$!
    wait "$QEMU_PID"
    local code=$?
    QEMU_PID=
    VM_SECONDS=$((SECONDS - t0))
    if ((code == 124)); then
        VM_PROBLEM="the VM did not power off within $VM_TIMEOUT s"
    elif ((code != 0)); then
        VM_PROBLEM="qemu-system-x86_64 exited with status $code: $(tr '\n' ' ' <"$WORK/qemu.log")"
    fi
}

# Replays the VM's "@@ " lines through tests/lib.sh: a case counts as the VM
# judged it; a case the VM did not end, or did not run, fails.
report() {
    local line kind rest expected=0 ended=0 open='' done=''
    while IFS= read -r line; do
        line=${line%$'\r'}
        [[ $line == *'@@ '* ]] || continue
        line=${line#*'@@ '}
        kind=${line%% *} rest=${line#* }
        case $kind in
        info:) say "VM: $rest" ;;
        cases) expected=$rest ;;
        begin)
            begin "${rest%% *}" "${rest#* }"
            open=1
            ;;
        note) note "$rest" ;;
        bad) bad "$rest" ;;
        PASS: | FAIL:)
            [[ $kind = PASS: ]] || ((${#ERRORS[@]})) || ERRORS+=("${rest#*: }")
            count_case
            open='' ended=$((ended + 1))
            ;;
        done) done=1 ;;
        esac
    done <"$CONSOLE"
    if [[ -n $open ]]; then
        bad "the case did not end: ${VM_PROBLEM:-the VM stopped}"
        count_case
        ended=$((ended + 1))
    fi
    if [[ -z $done ]] || ((ended < expected)) || [[ -n ${VM_PROBLEM:-} ]]; then
        begin vm "the VM booted, ran every case and powered off"
        [[ -n ${VM_PROBLEM:-} ]] && bad "$VM_PROBLEM"
        ((expected > 0)) || bad "no case started: /init did not run (see the console below)"
        ((ended < expected)) && bad "$((expected - ended)) of $expected cases did not run"
        [[ -z $done ]] && bad "/init did not finish"
        note "the console's last lines:"
        tail -n 30 "$CONSOLE" | sed 's/^/    | /'
        count_case
    fi
}

# -------------------------------------------------------------------- main

T0=$SECONDS
build_initramfs || exit 1
choose_accel
say "kernel $(basename "$KERNEL") (from $CACHE), initramfs $(($(stat -c %s "$WORK/initramfs.cpio") / 1024)) KiB, accel $ACCEL"
VM_PROBLEM=
boot
report
echo
say "$((PASSED + FAILED)) cases in $((SECONDS - T0)) s, the VM $VM_SECONDS s (build excluded)"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
