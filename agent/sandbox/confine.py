"""Hard limits on the worker process, behind one platform check.

POSIX: its own session (so its children, such as tesseract, are killed with it), an address-space
limit (``RLIMIT_AS``, set once when the worker starts) and a CPU-seconds limit (``RLIMIT_CPU``, set
again before each job relative to what the worker has used so far, so a long-lived worker gives every
job the same allowance; the kernel sends SIGXCPU, which kills the worker).
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

    def confine_self(memory_bytes: int) -> str:
        """Limit this process for good; return what isolates it (``"rlimits+netns"`` or ``"rlimits"``)."""
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        return "rlimits+netns" if _leave_network() else "rlimits"

    def limit_cpu(cpu_s: float) -> None:
        """Let this process use ``cpu_s`` more CPU seconds (and a second's slack) from now.

        Only the soft limit moves (an unprivileged process cannot raise a hard limit once lowered);
        past it the kernel sends SIGXCPU, whose default action ends the process.
        """
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu_s) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def peak_rss_bytes() -> int:
        """The most memory this process, or the largest program it ran and waited for, has held."""
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return max(own, children) * scale

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

    def confine_self(memory_bytes: int) -> str:
        """No resource limits on Windows: the parent's wall-clock kill is the bound."""
        return "deadline-only"

    def limit_cpu(cpu_s: float) -> None:
        """No CPU limit on Windows: the parent's wall-clock kill is the bound."""

    def peak_rss_bytes() -> int:
        """Not measured on Windows."""
        return 0

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
