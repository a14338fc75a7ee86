"""spanscope demo workloads: a simulated AWS system instrumented only through the public tracer API.

``scenario.run_demo`` runs it once into a store and writes the injected truth beside it; ``verdict`` checks
the analyzers' report against that truth. The parts, each its own process with AWS's environment:
``cloudfront`` (edge location) with ``edge_auth``/``edge_rewrite`` (Lambda@Edge), ``orders_api`` and
``order_worker`` (Lambda, in ``lambda_runtime`` sandboxes), ``pipeline`` (Step Functions + Batch service),
``batch_render`` (Batch containers), ``rollup`` (EMR MapReduce), ``device`` (Greengrass). ``cloud`` is the
simulated AWS endpoint (moto) and the device's uplink, where ``faults`` are injected.
"""
