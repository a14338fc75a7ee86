"""spanscope tracer: decorators and integrations that emit OpenTelemetry spans (and X-Ray documents)."""
