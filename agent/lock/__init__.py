"""Auto-lock: idle clocks, the lock policy, lockers and their verification, and lock posture.

The runtime builds one ``LockController`` with ``agent.lock.backends.build_lock_controller``
and reads lock posture through ``agent.lock.posture``.
"""
