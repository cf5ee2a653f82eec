"""The collector's side of the wire contract: the only collector package besides ``api`` that reads protobuf.

- ``codec``: gRPC request and reply messages <-> store rows, and stored events as JSON.
- ``event_codec``: stored agent event bodies -> the breach domain's facts and alerts, used by
  the gRPC api, the workflow and the console alike.
"""
