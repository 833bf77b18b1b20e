"""A Jupyter kernel inside a workspace session (lab and notebook modes; never imported by the hub itself).

ipykernel as it is, but its IOPub "pipe" — a ZeroMQ TCP socket on 127.0.0.1 that forwards the output of
forked subprocesses — is not opened: a session's seccomp filter refuses every socket but Unix-domain ones
(libzmq aborts on that refusal). The kernel's own channels use the ``ipc`` transport (Unix sockets on the
sandbox's tmpfs). What a forked child (``multiprocessing`` with fork) prints goes to the kernel's stderr, not
to the notebook.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    from ipykernel import iostream, kernelapp

    def no_pipe(self: Any) -> None:
        self._pipe_flag = False

    iostream.IOPubThread._setup_pipe_in = no_pipe  # type: ignore[method-assign]
    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
