"""The breach workflow wired into the running collector: intake, periodic checks, commands, notices.

- ``intake``: stored events and collector checks become alerts, grouped into incidents with a
  drafted pre-assessment (the pure rules are in ``collector.domain``).
- ``checks``: silent devices, unexplained sequence gaps and deadline warnings, run on a timer.
- ``commands``: what IG officers do (confirm, assess, decide, ...), each audited.
- ``exports``: the ICO report draft and the Art. 33(5) register; ``audit``: chain verification.
- ``notices``: what the IG team is told (no personal data); ``dispatch`` sends it.
- ``service`` ties them to a store and a clock; ``runner`` runs it in ``serve``.
"""
