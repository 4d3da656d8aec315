"""The expression budget's mechanism (connectors/definition/expressions.py), unit by unit.

It leans on how jsonpath-ng and pyjexl evaluate (each node's ``find`` called through the
instance; ``Operation.op``; pyjexl's evaluator re-entering ``evaluate`` for every node and
``add_binary_operator``): these tests fail loudly if an upgrade changes that.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonpath_ng.ext.arithmetic import Operation

from connectors.definition.expressions import (
    Budget,
    ExpressionBudgetExceeded,
    _jsonpath_parsed,
    budget_active,
    jexl,
    jsonpath,
    jsonpath_nodes,
)


def chain(depth: int) -> Any:
    return {"a": chain(depth - 1)} if depth else 0


def budget(steps: int = 10**9, seconds: float = 1000.0) -> Budget:
    return Budget(max_steps=steps, max_seconds=seconds)


def steps_of(evaluate: Any) -> int:
    spent = budget()
    with budget_active(spent):
        evaluate()
    return spent.steps


def test_every_node_of_a_parsed_jsonpath_charges_its_find() -> None:
    parsed = _jsonpath_parsed("$.items[?(@.n > 1)]..name")
    nodes = list(jsonpath_nodes(parsed))
    assert len(nodes) >= 5
    assert all("find" in vars(node) for node in nodes)  # replaced on the instance


def test_recursive_descent_charges_each_node_it_visits() -> None:
    small = steps_of(lambda: jsonpath("$..a", chain(10)))
    large = steps_of(lambda: jsonpath("$..a", chain(100)))
    assert (
        large - small >= 90
    )  # one per node the walk visits: counted, not only the call's visits are counted, not only the call


def test_a_filter_charges_each_candidate() -> None:
    items = {"items": [{"n": n} for n in range(500)]}
    assert steps_of(lambda: jsonpath("$.items[?(@.n > 1)]", items)) >= 500


def test_a_descent_over_the_budget_stops_inside_the_walk() -> None:
    spent = budget(steps=200)
    with budget_active(spent), pytest.raises(ExpressionBudgetExceeded, match="200 evaluation"):
        jsonpath("$..*..*", chain(300))
    assert spent.steps == 201  # stopped at the first step over, not after the walk


def test_arithmetic_in_a_jsonpath_is_bounded() -> None:
    operation = _jsonpath_parsed("$.s * 3")
    assert isinstance(operation, Operation)
    assert jsonpath("$.s * 3", {"s": "ab"}) == "ababab"
    with pytest.raises(ExpressionBudgetExceeded, match="a value over"):
        jsonpath("$.s * 100000000", {"s": "ab"})


def test_a_stored_regular_expression_is_over_budget_when_run() -> None:
    with pytest.raises(ExpressionBudgetExceeded, match="regular expression"):
        jsonpath("$.items[?(@.name =~ 'a+')]", {"items": [{"name": "aaa"}]})


def test_jexl_charges_each_node_and_keeps_the_default_precedences() -> None:
    assert steps_of(lambda: jexl("{{1 + 2 * 3}}", {})) == 5
    assert jexl("{{1 + 2 * 3 == 7 && 2 ^ 3 * 2 == 16 && 7 % 4 == 3}}", {}) is True
    assert jexl('{{"a" + "b" == "ab" && "ab" * 2 == "abab"}}', {}) is True


def test_the_cpu_time_is_read_inside_the_evaluation() -> None:
    spent = budget(seconds=0.0)
    with budget_active(spent), pytest.raises(ExpressionBudgetExceeded, match="ms of CPU"):
        jsonpath("$..*", chain(200))
    assert spent.steps <= 64  # the clock is read every 32 steps


def test_time_outside_is_not_charged() -> None:
    spent = budget(seconds=0.05)
    spent.pause()
    sum(range(3_000_000))  # CPU the budget does not see (a provider call, say)
    spent.resume()
    with budget_active(spent):
        assert jexl("{{1 + 1}}", {}) == 2


def test_a_budget_once_exceeded_stays_exceeded() -> None:
    spent = budget(steps=3)
    with budget_active(spent):
        with pytest.raises(ExpressionBudgetExceeded):
            jexl("{{1 + 2 + 3}}", {})
        with pytest.raises(ExpressionBudgetExceeded):  # even if a library swallowed it
            jsonpath("$.a[*]", {"a": [1]})


def test_no_budget_active_means_no_step_limit() -> None:
    assert jsonpath("$..a", chain(50)) is not None
    with pytest.raises(ExpressionBudgetExceeded):  # the bounded operators hold anyway
        jexl("{{9 ^ 6000000}}", {})
