"""The collector's pure breach domain: no I/O, no database, no network, no clock of its own.

Modules, in the order data flows through them:

- ``event_facts``: plain copies of the agent events that matter (filled by ``collector.wire.event_codec``).
- ``alerts``: one breach-class signal as an ``Alert``; ``device_signals``: silence and sequence gaps.
- ``grouping``: which open incident a new alert joins; splitting an alert back out.
- ``incident`` and ``lifecycle``: the incident value and its state machine (a transition table).
- ``clocks``: the 72-hour deadline, the provisional clock, deadline warnings.
- ``risk`` and ``pre_assessment``: the likelihood x severity grid and drafted assessments.
- ``ico_form``, ``ico_report``, ``ico_prefill``: the ICO report draft; ``register``: the Art. 33(5) register.
- ``audit_chain``: hash-chained audit entries and their verification.
"""
