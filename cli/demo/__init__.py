"""`spanscope demo`'s orchestration: the simulated AWS (moto), the embedded collector, the workload processes of
``spanscope.demo_apps``, the injected truth and the verdicts over the report."""
