"""The X-Ray translation core both X-Ray writers use: the tracer's exporter and the collector's forwarder.

Pure rules over plain values (ids, attribute mappings, status names), no OpenTelemetry SDK and nothing of
the collectors, so that both may import it: :mod:`.ids` (trace and span ids in X-Ray form), :mod:`.text`
(X-Ray's limits and name rules), :mod:`.blocks` (the ``http``, ``aws`` and ``cause`` blocks, the
fault/error/throttle flags, annotations versus metadata).
"""
