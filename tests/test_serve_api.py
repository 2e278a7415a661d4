"""`lecs serve` driven by Alibaba Cloud's own SDKs, as they are, over real HTTP: both SDKs and
both signature versions, and the SDK's own exception with ECS's Code for each refusal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest
from aliyunsdkecs.request.v20140526.DescribeZonesRequest import DescribeZonesRequest

from tests.serve_helpers import Serve, core_call, core_client, running_serve, tea_client

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    home = tmp_path_factory.mktemp("serve") / "home"
    with running_serve(home) as serve:
        yield serve


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_tea_sdk_describes_the_local_region(srv: Serve, algorithm: str | None) -> None:
    ecs = tea_client(srv, algorithm)
    body = ecs.describe_regions(models.DescribeRegionsRequest()).body
    assert [r.region_id for r in body.regions.region] == ["local"]
    assert body.request_id
    zones = ecs.describe_zones(models.DescribeZonesRequest(region_id="local")).body
    assert [z.zone_id for z in zones.zones.zone] == ["local"]
    assert "t1.micro" in zones.zones.zone[0].available_instance_types.instance_types


def test_core_sdk_describes_the_local_region(srv: Serve) -> None:
    acs = core_client(srv)
    body = core_call(acs, srv, DescribeRegionsRequest())
    assert body["Regions"]["Region"][0]["RegionId"] == "local"
    request = DescribeZonesRequest()
    assert core_call(acs, srv, request)["Zones"]["Zone"][0]["ZoneId"] == "local"


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_bad_secret_is_signature_does_not_match(srv: Serve, algorithm: str | None) -> None:
    ecs = tea_client(srv, algorithm, secret="x" * 30)
    with pytest.raises(ClientException) as err:
        ecs.describe_regions(models.DescribeRegionsRequest())
    assert err.value.code == "SignatureDoesNotMatch"
    with pytest.raises(ServerException) as core_err:
        core_call(core_client(srv, secret="x" * 30), srv, DescribeRegionsRequest())
    # the SDK recognises its own string to sign in ECS's message: a wrong secret
    assert core_err.value.get_error_code() == "InvalidAccessKeySecret"


def test_unknown_key_is_not_found(srv: Serve) -> None:
    ecs = tea_client(srv, key_id="LTAI" + "0" * 20)
    with pytest.raises(ClientException) as err:
        ecs.describe_regions(models.DescribeRegionsRequest())
    assert err.value.code == "InvalidAccessKeyId.NotFound"
    assert err.value.status_code == 404


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_unknown_action_is_not_found(srv: Serve, algorithm: str | None) -> None:
    from alibabacloud_tea_openapi import models as open_api
    from aliyunsdkcore.request import CommonRequest
    from darabonba.runtime import RuntimeOptions

    ecs = tea_client(srv, algorithm)
    params = open_api.Params(action="FrobnicateInstances", version="2014-05-26",
                             protocol="HTTP", pathname="/", method="POST", auth_type="AK",
                             style="RPC", req_body_type="formData", body_type="json")
    with pytest.raises(ClientException) as err:
        ecs.call_api(params, open_api.OpenApiRequest(query={}), RuntimeOptions())
    assert (err.value.code, err.value.status_code) == ("InvalidAction.NotFound", 404)
    request = CommonRequest(domain=srv.endpoint, version="2014-05-26",
                            action_name="FrobnicateInstances")
    with pytest.raises(ServerException) as core_err:
        core_call(core_client(srv), srv, request)
    assert core_err.value.get_error_code() == "InvalidAction.NotFound"


def test_unsupported_parameter_is_refused_before_the_handler(srv: Serve) -> None:
    ecs = tea_client(srv)
    with pytest.raises(ClientException) as err:
        ecs.describe_regions(models.DescribeRegionsRequest(resource_owner_account="someone"))
    assert err.value.code == "InvalidParameter"
    assert "ResourceOwnerAccount" in err.value.message


def readme_example() -> str:
    """The Python example of README's `lecs serve` section (its indented block after 'With
    the official SDK')."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## The ECS API"):]
    after = section[section.index("With the official SDK"):]
    lines = after.split("\n\n", 2)[1].splitlines()
    assert all(line.startswith("    ") for line in lines)
    return "\n".join(line[4:] for line in lines)


def test_readme_python_example_runs(srv: Serve) -> None:
    code = readme_example()
    assert len(code.splitlines()) == 5 and "127.0.0.1:8480" in code
    env = dict(os.environ, ALIBABA_CLOUD_ACCESS_KEY_ID=srv.key_id,
               ALIBABA_CLOUD_ACCESS_KEY_SECRET=srv.secret)
    result = subprocess.run([sys.executable, "-c", code.replace("127.0.0.1:8480", srv.endpoint)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "'RegionId': 'local'" in result.stdout
