"""The gRPC face of the collector: identity, servicers and server builder (conversions live in ``collector.wire``)."""
