"""symbox starts without loading the AWS SDK; it is loaded when an AWS connection opens."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_loads_no_aws_sdk_until_aws_is_used() -> None:
    # The SDK's modules cost every start tens of milliseconds, AWS configured or not.
    probe = (
        "import sys, symbox.cli.main, symbox.app\n"
        "symbox.cli.main.build_parser()\n"
        "print(sorted({name.split('.')[0] for name in sys.modules}"
        " & {'aioboto3', 'aiobotocore', 'boto3', 'botocore'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
