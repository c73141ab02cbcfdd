"""A warm process's long-lived objects are frozen out of the collector's passes."""

import gc
import subprocess
import sys
import weakref

import pytest
from django.conf import settings

from ccm.warm import FREEZE_AFTER, Freezer


class Node:
    def __init__(self):
        self.other = self


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_garbage_is_collected_and_the_rest_frozen_after_the_first_unit(unfrozen):
    garbage = Node()
    gone = weakref.ref(garbage)
    kept = Node()
    del garbage  # a cycle: only the collector frees it
    freezer = Freezer()

    freezer()

    assert gone() is None, "the cycle that was garbage is freed, not frozen"
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(kept)


def test_it_freezes_again_only_after_the_units_counted(unfrozen):
    freezer = Freezer()
    freezer()
    frozen = gc.get_freeze_count()  # less any frozen object freed since
    made = [Node() for _ in range(1000)]
    for done in range(2, FREEZE_AFTER[1]):
        freezer()
        assert gc.get_freeze_count() < frozen + len(made) / 2, done
    freezer()
    assert gc.get_freeze_count() > frozen + len(made) / 2


WEB = """
import gc, os
os.environ["DJANGO_SETTINGS_MODULE"] = "ccm.settings"
import django
django.setup()
from django.test import Client
before = gc.get_freeze_count()
Client().get("/healthz")
print(before, gc.get_freeze_count())
"""


def test_a_web_process_is_frozen_once_it_has_served_a_request():
    run = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", WEB],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before, after = map(int, run.stdout.split()[-2:])
    assert before == 0 and after > 10_000
