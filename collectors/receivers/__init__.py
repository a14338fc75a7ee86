"""Live receivers: X-Ray daemon UDP, OTLP/HTTP and OTLP/gRPC."""
