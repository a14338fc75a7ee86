"""Forwarders to the systems users already run: OTLP/HTTP and X-Ray PutTraceSegments."""
