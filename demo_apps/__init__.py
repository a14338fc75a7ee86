"""spanscope demo workloads: a simulated AWS system instrumented only through the public tracer API."""
