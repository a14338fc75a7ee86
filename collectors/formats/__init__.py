"""Wire formats converted into the model: X-Ray documents, OTLP (JSON and protobuf), Jaeger, Zipkin."""
