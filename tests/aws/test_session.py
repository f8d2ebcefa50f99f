"""Credentials, assumed roles and endpoints of the AWS client layer, against moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from symbox.aws.identity_center import IdentityCenter
from symbox.aws.session import AwsConnections, AwsSetupError
from symbox.aws.settings import ConnectionSettings
from tests.fakes.aws_proxy import FaultProxy
from tests.fakes.moto import REGION, MotoAws

pytestmark = pytest.mark.anyio

# In moto's default account, so the assumed credentials see the same Identity Center.
ROLE = "arn:aws:iam::123456789012:role/symbox-grants"


async def test_a_role_is_assumed_with_its_external_id_and_refreshed_before_expiry(
    aws: MotoAws, fault_proxy: FaultProxy
) -> None:
    sso = await aws.sso()
    offset = timedelta()
    connections = AwsConnections(now=lambda: datetime.now(UTC) + offset)
    settings = ConnectionSettings(
        region=REGION, endpoint_url=fault_proxy.url, role_arn=ROLE, external_id="ext-42"
    )
    connection = connections.connection(settings, "sso-admin", "identitystore")
    assert connections.connection(settings) is connection  # equal settings share clients
    center = IdentityCenter(connection, sso.instance_arn)
    await connections.open()
    try:
        assert fault_proxy.calls["AssumeRole"] == 0  # nothing is called until needed
        assert await center.identity_store() == sso.identity_store_id
        assert await center.user_id("nobody@example.com") is None
        assert fault_proxy.calls["AssumeRole"] == 1
        sent = parse_qs(fault_proxy.bodies["AssumeRole"].decode())
        assert sent["RoleArn"] == [ROLE] and sent["ExternalId"] == ["ext-42"]
        assert sent["RoleSessionName"] == ["symbox"]

        offset = timedelta(minutes=50)  # an hour's credentials, 10 minutes left
        assert await center.user_id("nobody@example.com") is None
        assert fault_proxy.calls["AssumeRole"] == 2
    finally:
        await connections.aclose()


async def test_the_default_chain_and_aws_endpoint_url_are_honoured(
    aws: MotoAws, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    sso = await aws.sso()
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.url)
    connections = AwsConnections()
    connection = connections.connection(ConnectionSettings(), "sso-admin", "identitystore")
    await connections.open()
    try:
        center = IdentityCenter(connection, sso.instance_arn)
        assert await center.identity_store() == sso.identity_store_id
    finally:
        await connections.aclose()
    assert fault_proxy.calls["ListInstances"] == 1
    assert fault_proxy.calls["AssumeRole"] == 0


async def test_no_region_is_a_setup_error(aws_env: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    connections = AwsConnections()
    connections.connection(ConnectionSettings(endpoint_url="http://127.0.0.1:9"), "sso-admin")
    with pytest.raises(AwsSetupError, match=r"cannot create AWS clients \(region \(default\)"):
        await connections.open()
    await connections.aclose()
