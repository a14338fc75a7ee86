"""A Greengrass core device (its own process): a sensor-aggregation component publishing to IoT Core.

It runs with the environment Greengrass gives a component (``AWS_IOT_THING_NAME``, ``AWS_REGION``,
``SVCUID``, ...) and reaches the cloud only through its uplink. Its spans go through the tracer's
store-and-forward exporter: while the uplink is down they are spooled on the device's disk and
forwarded when it is back. Readings that cannot be published are kept in a local buffer (as an MQTT
client's offline queue would) and flushed once a publish succeeds again.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from typing import Any


def device_main(env: dict[str, str], settings: dict[str, Any], progress: Any) -> None:
    os.environ.update(env)
    import logging

    # the device's own log, not the demo's console: going offline is expected here
    for name in ("opentelemetry", "spanscope.tracer", "urllib3", "botocore"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from spanscope.demo_apps.aws_calls import aws_call, client
    from spanscope.tracer import annotate, configure, force_flush, shutdown, span, trace

    endpoint = os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    exporters: list[Any]
    try:
        from spanscope.tracer.spool import StoreAndForwardExporter

        exporters = [
            StoreAndForwardExporter(
                OTLPSpanExporter(endpoint=endpoint, timeout=1),
                settings["spool_dir"],
                initial_backoff_s=0.25,
                max_backoff_s=1.0,
                request_timeout_s=2.0,
                fsync=False,
            )
        ]
    except ImportError:  # an older tracer: plain OTLP, spans made offline are lost
        exporters = [OTLPSpanExporter(endpoint=endpoint, timeout=1)]
    configure(exporters=exporters, flush_timeout_millis=3000)
    iot = client("iot-data", endpoint_url=os.environ["IOT_DATA_ENDPOINT"], connect_timeout=0.3, read_timeout=1)
    rng = random.Random(int(settings["seed"]) + 99)
    thing = os.environ["AWS_IOT_THING_NAME"]
    backlog: list[dict[str, Any]] = []
    retry_at = 0
    published = failed = 0
    readings: list[tuple[int, int]] = []  # (index, start ns) of every reading

    @trace("read_sensors")
    def read_sensors(i: int) -> dict[str, Any]:
        time.sleep(0.01)
        return {
            "thing": thing,
            "seq": i,
            "temperature_c": round(21 + 3 * math.sin(i / 5) + rng.gauss(0, 0.2), 2),
            "humidity_pct": round(55 + rng.gauss(0, 1.5), 1),
            "ts_ms": int(time.time() * 1000),
        }

    @trace("aggregate")
    def aggregate(reading: dict[str, Any]) -> dict[str, Any]:
        return {**reading, "dew_point_c": round(reading["temperature_c"] - (100 - reading["humidity_pct"]) / 5, 2)}

    def publish(messages: list[dict[str, Any]]) -> None:
        aws_call(iot, "publish", topic=f"greenhouse/{thing}/telemetry", qos=1, payload=json.dumps(messages).encode())

    interval = float(settings["device_interval_s"])
    start = time.monotonic()
    for i in range(int(settings["device_readings"])):
        time.sleep(max(0.0, start + i * interval - time.monotonic()))
        if i:
            progress.put(("device", i))  # readings done so far (the uplink may change before this one)
        started = time.time_ns()
        readings.append((i, started))
        with span("sensor-cycle", kind="server", attributes={"greengrass.component": "com.example.SensorAggregator"}):
            annotate("seq", i)
            message = aggregate(read_sensors(i))
            if backlog and i < retry_at:
                with span("buffer-locally", attributes={"buffer.depth": len(backlog) + 1}):
                    backlog.append(message)
                continue
            batch = [*backlog, message]
            try:
                publish(batch)
            except Exception:
                failed += 1
                backlog = batch
                retry_at = i + 3  # back off: try again three readings later
                with span("buffer-locally", attributes={"buffer.depth": len(backlog)}):
                    pass
            else:
                published += len(batch)
                backlog = []
        # The component exports at the end of every cycle (its readings are minutes apart in the field), so the
        # spans of a cycle made while the uplink is down go through the spool, whatever the batch timer says.
        force_flush(1000)
    # Before the component stops, give the spool time to drain (a real device would simply keep running):
    # a flush gives up early while the exporter still believes it is offline, so try again until a deadline.
    # The SDK's batch processor flushes its queue into the exporter but never calls the exporter's own
    # force_flush, so the store-and-forward exporter is asked directly to forward what it spooled.
    deadline = time.monotonic() + 15
    flushed = force_flush(3000)
    exporter = exporters[0]
    while time.monotonic() < deadline:
        if exporter.force_flush(3000):
            break
        time.sleep(0.3)
    else:
        flushed = False
    spool: dict[str, Any] = {}
    stats = getattr(exporters[0], "stats", None)
    if stats is not None:
        values = vars(stats) if hasattr(stats, "__dict__") else {}
        spool = {k: v for k, v in values.items() if isinstance(v, int | float | bool)}
    shutdown()
    progress.put(
        (
            "device_done",
            {
                "readings": readings,
                "published": published,
                "publish_failures": failed,
                "flushed": flushed,
                "spool": spool,
            },
        )
    )
