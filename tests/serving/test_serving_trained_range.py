"""The out-of-range guard's own checks (:mod:`serving.trained_range`) on plain manifests and features;
the routing it drives is tested on pods in ``test_serving_central_answers``."""

from __future__ import annotations

import numpy as np
import pytest

from serving.trained_range import outside_range

# As the release step takes it from float32 training windows: 92.0199966…, below the float 92.02.
TOP = float(np.float32(92.02))


@pytest.mark.parametrize("prices, outside", [
    ([10.0, 92.02], False),  # the price the top was taken from, compared as the graph reads it
    ([9.99, 50.0], True), ([50.0, 92.03], True), ([10.0], False),
])
def test_a_value_past_either_end_is_outside_and_the_ends_are_inside(prices, outside):
    assert outside_range({"prices": prices, "title": "t"}, {"prices": (10.0, TOP)}) is outside


def test_no_ranges_put_nothing_outside():
    assert outside_range({"prices": [1e12]}, {}) is False
