"""ordered_map: results in input order, a bounded number of items in flight, errors surface."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from musicrec_assets.core.parallel import ordered_map


def slow_square(x: int) -> int:
    time.sleep(random.Random(x).random() / 200)  # finish out of order
    return x * x


@pytest.mark.parametrize("workers", [0, 1, 2, 4])
def test_results_come_back_in_input_order(workers: int) -> None:
    assert list(ordered_map(slow_square, range(40), workers=workers)) == [x * x for x in range(40)]


def test_at_most_workers_plus_one_items_are_taken_ahead_of_the_consumer() -> None:
    taken = []
    lock = threading.Lock()

    def items() -> Iterator[int]:
        for i in range(30):
            with lock:
                taken.append(i)
            yield i

    for got, _ in zip(range(30), ordered_map(slow_square, items(), workers=2), strict=True):
        assert len(taken) <= got + 1 + 2  # the consumer holds result `got`


def test_an_error_in_a_chunk_reaches_the_caller() -> None:
    def fail_on_three(x: int) -> int:
        if x == 3:
            raise ValueError("chunk 3 is bad")
        return x

    out = []
    with pytest.raises(ValueError, match="chunk 3 is bad"):
        for value in ordered_map(fail_on_three, range(10), workers=2):
            out.append(value)
    assert out == [0, 1, 2]
