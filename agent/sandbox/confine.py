"""Hard limits on the worker process, behind one platform check.

POSIX: its own session (so its children, such as tesseract, are killed with it), an address-space
limit (``RLIMIT_AS``) and a CPU-seconds limit (``RLIMIT_CPU``, the kernel sends SIGXCPU then SIGKILL).
Linux: no network either, by moving into a new, empty network namespace (``unshare(CLONE_NEWNET)``;
an unprivileged agent first enters a user namespace of its own). Where a kernel refuses namespaces
(or on macOS and Windows) the worker has the network the agent has: it opens no sockets, but nothing
enforces that, and ``confine_self`` says so in what it returns. Windows gets the wall-clock kill only.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


if sys.platform != "win32":
    import resource

    def confine_self(memory_bytes: int, cpu_s: float) -> str:
        """Limit this process; return what isolates it (``"rlimits+netns"`` or ``"rlimits"``)."""
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        cpu = math.ceil(cpu_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        return "rlimits+netns" if _leave_network() else "rlimits"

    def kill_tree(pid: int) -> None:
        """Kill the worker ``pid`` and everything it started (it leads its own process group)."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # not yet its own group, or gone
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def over_limit(exitcode: int | None) -> bool:
        """True when the worker was killed by the kernel for exceeding its CPU limit."""
        return exitcode in (-signal.SIGXCPU, -signal.SIGKILL)

else:

    def confine_self(memory_bytes: int, cpu_s: float) -> str:
        """No resource limits on Windows: the parent's wall-clock kill is the bound."""
        return "deadline-only"

    def kill_tree(pid: int) -> None:
        """Kill the worker ``pid`` (its children on Windows are not tracked)."""
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)  # TerminateProcess on Windows

    def over_limit(exitcode: int | None) -> bool:
        """Windows sets no limits the kernel enforces."""
        return False


def _leave_network() -> bool:
    if sys.platform != "linux":
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) == 0:
        return True
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return False
    # Map our own ids into the new user namespace, so files we create (tesseract's temporary
    # files) keep their owner.
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    except OSError:
        pass
    return True
