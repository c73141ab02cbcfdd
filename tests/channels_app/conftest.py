"""Every dispatch test runs under the lifecycle guard (tests/lifecycle_guard.py)."""

from tests.lifecycle_guard import dispatch_status_owner  # noqa: F401
