# SPDX-License-Identifier: MIT
# conftest.py: pytest fixtures for testing Lambda client code against galley.
#   galley        the control API (galley_control.GalleyControl), one per session
#   lambda_client a boto3 Lambda client pointed at galley: dummy credentials, one attempt per
#                 call (botocore's retries off), so a test sees every throttle and error itself
#   reset_galley  (autouse) every test starts from the daemon's state after start: no warm
#                 environment, no pending fault, no idle timeout override
# The daemon's address comes from $GALLEY_ENDPOINT (default http://127.0.0.1:3001), its control
# token from $GALLEY_CONTROL_TOKEN or <state-dir>/run/control-token ($GALLEY_STATE_DIR, default
# ./.galley: run pytest from the directory you started `galley serve` in, or set one of them).
import boto3
import pytest
from botocore.config import Config

from galley_control import GalleyControl, GalleyError, endpoint_from_env


@pytest.fixture(scope="session")
def galley():
    control = GalleyControl(endpoint_from_env())
    try:
        control.environments()
    except OSError as e:
        pytest.fail(f"no galley daemon at {control.endpoint} ({e}): start one with "
                    "scripts/serve-examples, or set GALLEY_ENDPOINT", pytrace=False)
    except GalleyError as e:
        pytest.fail(f"galley at {control.endpoint} refused the control API ({e}): run pytest "
                    "from the directory the daemon was started in, or set GALLEY_STATE_DIR or "
                    "GALLEY_CONTROL_TOKEN", pytrace=False)
    return control


@pytest.fixture(scope="session")
def lambda_client(galley):
    return boto3.client(
        "lambda",
        endpoint_url=galley.endpoint,
        region_name="us-east-1",
        # galley does not check signatures, but botocore will not sign without credentials.
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # total_max_attempts counts the first attempt (a bare max_attempts counts retries):
        # 1 means botocore never retries, so a TooManyRequestsException reaches the test.
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                      connect_timeout=5, read_timeout=60),
    )


@pytest.fixture(autouse=True)
def reset_galley(galley):
    galley.reset()
    yield
    # and after, so the last test leaves nothing armed for whoever uses the daemon next
    galley.reset()
