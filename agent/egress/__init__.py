"""Egress destinations: where case files can leave the organisation, and the watchers on them.

* :mod:`agent.egress.model` — the value objects (``Destination``, ``VolumeIdentity``, ``Volume``).
* :mod:`agent.egress.volumes` — removable-volume discovery (one backend module per OS) and the
  ``VolumeMonitor`` that reports volumes coming and going.
* :mod:`agent.egress.personal_dirs` — personal cloud-sync roots and configured personal folders.
* :mod:`agent.egress.watcher` — one file-system watch per destination, reporting files that are
  complete (``on_file_ready``) and lost coverage (``on_degraded``).
* :mod:`agent.egress.scan` — the bounded one-off scan of a newly mounted volume.

Nothing here classifies files or emits events: callers wire the callbacks to the classifier and
the outbox. Nothing here logs file names or paths; logs carry counts and destination classes.
"""
