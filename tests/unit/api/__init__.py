"""Unit tests for the collector gRPC API layer."""
