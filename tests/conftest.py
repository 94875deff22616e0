from __future__ import annotations

import pytest

from tests.support import Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A fresh sandbox per test module, stopped afterwards."""
    box = Sandbox(tmp_path_factory.mktemp("sandbox"))
    box.up()
    yield box
    box.down()
