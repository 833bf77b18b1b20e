"""The sandbox's seccomp filter (x86-64), a classic BPF program written out by hand (no libseccomp in the
runtime): the system calls a session has no use for and that widen the kernel's attack surface or undo the
sandbox are refused with EPERM — new namespaces (``unshare``, ``setns``, ``clone`` with a namespace flag),
mounts, ``ptrace`` and cross-process memory access, keyrings, BPF, perf events, ``userfaultfd``, io_uring,
modules, kexec, reboot, clock and swap changes, file handles; ``clone3`` answers ENOSYS (its flags cannot be
inspected: the C library falls back to ``clone``); sockets other than Unix-domain ones answer EAFNOSUPPORT;
another architecture's system-call table (i386, x32) kills the process. bubblewrap loads it (``--seccomp FD``)
just before running the launcher."""

from __future__ import annotations

import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
EPERM, ENOSYS, EAFNOSUPPORT = 1, 38, 97
AF_UNIX = 1
NR_SOCKET, NR_CLONE, NR_CLONE3 = 41, 56, 435
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
X32_BIT = 0x40000000

# x86-64 numbers (asm/unistd_64.h)
REFUSED = {
    "ptrace": 101, "syslog": 103, "personality": 135, "pivot_root": 155, "vhangup": 153, "adjtimex": 159,
    "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168,
    "reboot": 169, "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
    "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "unshare": 272, "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "pidfd_getfd": 438, "mount_setattr": 442,
}

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR, _ARCH, _ARG0 = 0, 4, 16


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def supported() -> bool:
    return platform.machine() in ("x86_64", "AMD64")


def program() -> bytes:
    """The filter as bytes (struct sock_filter[]), for ``bwrap --seccomp``."""
    ops = [_op(_LD_W_ABS, _ARCH), _op(_JEQ, AUDIT_ARCH_X86_64, 1, 0), _op(_RET, RET_KILL_PROCESS),
           _op(_LD_W_ABS, _NR), _op(_JGE, X32_BIT, 0, 1), _op(_RET, RET_KILL_PROCESS)]
    for nr in sorted(REFUSED.values()):
        ops += [_op(_JEQ, nr, 0, 1), _op(_RET, RET_ERRNO | EPERM)]
    ops += [_op(_JEQ, NR_CLONE3, 0, 1), _op(_RET, RET_ERRNO | ENOSYS)]
    # socket(family, ...): Unix-domain only
    ops += [_op(_JEQ, NR_SOCKET, 0, 4), _op(_LD_W_ABS, _ARG0), _op(_JEQ, AF_UNIX, 1, 0),
            _op(_RET, RET_ERRNO | EAFNOSUPPORT), _op(_RET, RET_ALLOW)]
    # clone(flags, ...): no new namespace
    ops += [_op(_JEQ, NR_CLONE, 0, 4), _op(_LD_W_ABS, _ARG0), _op(_JSET, NAMESPACE_FLAGS, 0, 1),
            _op(_RET, RET_ERRNO | EPERM), _op(_RET, RET_ALLOW)]
    ops.append(_op(_RET, RET_ALLOW))
    return b"".join(ops)
