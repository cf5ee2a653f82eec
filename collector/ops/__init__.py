"""What operators see from outside: health and readiness probes, and Prometheus metrics."""
