"""Placement: region, zone, edge, Local Zone, Wavelength, Outpost and device from the platform's variables."""

from __future__ import annotations

import pytest
from spanscope.tracer.placement import detect_placement, detect_platform


@pytest.mark.parametrize(
    ("environ", "location"),
    [
        ({"AWS_REGION": "us-east-1"}, "us-east-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_REGION": "us-west-2", "SPANSCOPE_AVAILABILITY_ZONE": "us-west-2-lax-1a"}, "localzone:us-west-2-lax-1a"),
        (
            {"AWS_REGION": "us-east-1", "SPANSCOPE_AVAILABILITY_ZONE": "us-east-1-wl1-bos-wlz-1"},
            "wavelength:us-east-1-wl1-bos-wlz-1",
        ),
        ({"AWS_REGION": "us-east-1", "SPANSCOPE_AVAILABILITY_ZONE": "us-east-1b"}, "us-east-1"),
        ({"AWS_REGION": "eu-west-2", "AWS_LAMBDA_FUNCTION_NAME": "us-east-1.auth"}, "edge:eu-west-2"),
        ({"AWS_REGION": "us-east-1", "AWS_OUTPOST_ID": "op-0abc"}, "outpost:op-0abc"),
        ({"AWS_REGION": "us-west-2", "AWS_IOT_THING_NAME": "thing-7"}, "device:thing-7"),
        ({"SPANSCOPE_DEVICE_ID": "snowball-3"}, "device:snowball-3"),
        # Snowball Edge: its local EC2/S3 endpoints are region "snow"
        ({"AWS_REGION": "snow", "SPANSCOPE_DEVICE_ID": "JID-7"}, "snowball:JID-7"),
        ({"AWS_REGION": "snow"}, "snowball:snow"),
        ({"AWS_REGION": "us-east-1", "SPANSCOPE_SNOWBALL_ID": "JID-8"}, "snowball:JID-8"),
        ({"AWS_REGION": "us-east-1", "SPANSCOPE_LOCATION": "lab:rack-4"}, "lab:rack-4"),
    ],
)
def test_location(environ: dict[str, str], location: str) -> None:
    assert detect_placement(environ)["spanscope.location"] == location


def test_region_zone_and_device_attributes() -> None:
    got = detect_placement({"AWS_REGION": "us-west-2", "SPANSCOPE_AVAILABILITY_ZONE": "us-west-2b"})
    assert got["cloud.region"] == "us-west-2" and got["cloud.availability_zone"] == "us-west-2b"
    assert detect_placement({"AWS_IOT_THING_NAME": "t"})["spanscope.device.id"] == "t"
    assert detect_placement({}) == {}


def test_platform_origins() -> None:
    assert detect_platform({"AWS_LAMBDA_FUNCTION_NAME": "f"})["cloud.platform"] == "aws_lambda"
    edge = detect_platform({"AWS_LAMBDA_FUNCTION_NAME": "us-east-1.f"})
    assert edge["spanscope.origin"] == "spanscope::Lambda@Edge::Function" and "cloud.platform" not in edge
    assert detect_platform({"AWS_BATCH_JOB_ID": "j"})["spanscope.origin"] == "spanscope::Batch::Job"
    assert detect_platform({"mapred_task_id": "t"})["spanscope.origin"] == "spanscope::EMR::Job"
    assert detect_platform({"AWS_IOT_THING_NAME": "t"})["spanscope.origin"] == "spanscope::Greengrass::Device"
