"""Where code runs (region, zone, edge location, Local Zone, Outpost, device), read from the platform's environment.

``spanscope.location`` is one string per place, so hybrid and edge deployments group by it:

- ``"us-east-1"``                 a region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``)
- ``"edge:<pop or region>"``      a CloudFront edge (Lambda@Edge replica ``us-east-1.<fn>``, or ``x-amz-cf-pop``)
- ``"localzone:<zone>"``          a Local Zone (``us-west-2-lax-1a``)
- ``"wavelength:<zone>"``         a Wavelength zone (``us-east-1-wl1-bos-wlz-1``)
- ``"outpost:<id>"``              an Outpost (``AWS_OUTPOST_ID`` / ``SPANSCOPE_OUTPOST_ID``)
- ``"snowball:<id>"``             a Snowball Edge device: its local endpoints use the region name ``snow``
  (``AWS_REGION=snow``); the id is ``SPANSCOPE_SNOWBALL_ID``, else ``SPANSCOPE_DEVICE_ID``, else ``snow``
- ``"device:<id>"``               a Greengrass core (``AWS_IOT_THING_NAME``) or a Snowball / other device
  (``SPANSCOPE_DEVICE_ID``)

``SPANSCOPE_LOCATION`` and ``SPANSCOPE_AVAILABILITY_ZONE`` override what is detected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from spanscope.tracer import conventions as c

_LOCAL_ZONE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d-[a-z]{3}-\d+[a-z]$")
_WAVELENGTH = re.compile(r"^[a-z]{2}-[a-z]+-\d-wl\d-[a-z0-9-]+$")


def zone_location(zone: str) -> str | None:
    """``localzone:``/``wavelength:`` for such zones; None for ordinary availability zones.

    >>> zone_location("us-west-2-lax-1a"), zone_location("us-east-1-wl1-bos-wlz-1"), zone_location("us-east-1a")
    ('localzone:us-west-2-lax-1a', 'wavelength:us-east-1-wl1-bos-wlz-1', None)
    """
    if _WAVELENGTH.match(zone):
        return f"wavelength:{zone}"
    if _LOCAL_ZONE.match(zone):
        return f"localzone:{zone}"
    return None


def is_edge_replica(environ: Mapping[str, str]) -> bool:
    """A Lambda@Edge replica: its function name is ``us-east-1.<name>`` and it runs elsewhere."""
    name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
    return name.startswith("us-east-1.")


def detect_placement(environ: Mapping[str, str]) -> dict[str, str]:
    """Placement attributes (cloud.region, cloud.availability_zone, spanscope.location, device id).

    >>> detect_placement({"AWS_REGION": "eu-west-1"})
    {'cloud.provider': 'aws', 'cloud.region': 'eu-west-1', 'spanscope.location': 'eu-west-1'}
    >>> detect_placement({"AWS_REGION": "us-west-2", "AWS_IOT_THING_NAME": "thing-7"})["spanscope.location"]
    'device:thing-7'
    """
    out: dict[str, str] = {}
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
    zone = environ.get("SPANSCOPE_AVAILABILITY_ZONE") or environ.get("AWS_AVAILABILITY_ZONE") or ""
    if region or zone:
        out[c.CLOUD_PROVIDER] = "aws"
    if region:
        out[c.CLOUD_REGION] = region
    if zone:
        out[c.CLOUD_AZ] = zone
    location = region
    if zone:
        location = zone_location(zone) or location
    outpost = environ.get("SPANSCOPE_OUTPOST_ID") or environ.get("AWS_OUTPOST_ID")
    device = environ.get("SPANSCOPE_DEVICE_ID") or environ.get("AWS_IOT_THING_NAME")
    snowball = environ.get("SPANSCOPE_SNOWBALL_ID") or ((device or "snow") if region == "snow" else "")
    if is_edge_replica(environ) and region:
        location = f"edge:{region}"
    if outpost:
        location = f"outpost:{outpost}"
    if device:
        location = f"device:{device}"
        out[c.DEVICE_ID] = device
    if snowball:
        location = f"snowball:{snowball}"
        out[c.DEVICE_ID] = snowball
    override = environ.get("SPANSCOPE_LOCATION")
    if override:
        location = override
    if location:
        out[c.LOCATION] = location
    return out


def detect_platform(environ: Mapping[str, str]) -> dict[str, str]:
    """Platform resource attributes: cloud.platform / faas.* on Lambda, spanscope.origin elsewhere."""
    out: dict[str, str] = {}
    function = environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function:
        out[c.FAAS_NAME] = function
        if environ.get("AWS_LAMBDA_FUNCTION_VERSION"):
            out[c.FAAS_VERSION] = environ["AWS_LAMBDA_FUNCTION_VERSION"]
        if is_edge_replica(environ):
            out[c.ORIGIN] = c.ORIGIN_LAMBDA_EDGE
        else:
            out[c.CLOUD_PLATFORM] = "aws_lambda"
    elif environ.get("AWS_BATCH_JOB_ID"):
        out[c.ORIGIN] = c.ORIGIN_BATCH
    elif environ.get("mapreduce_task_id") or environ.get("mapred_task_id"):
        out[c.ORIGIN] = c.ORIGIN_EMR
    elif environ.get("AWS_IOT_THING_NAME") or environ.get("SPANSCOPE_DEVICE_ID"):
        out[c.ORIGIN] = c.ORIGIN_EDGE_DEVICE
    return out
