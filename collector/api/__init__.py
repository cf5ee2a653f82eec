"""The gRPC face of the collector: codec, identity, servicer and server builder."""
