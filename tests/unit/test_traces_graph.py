from __future__ import annotations

from services.detect.traces.graph import DependencyGraph


def pairs(graph: DependencyGraph) -> list[tuple[str, str]]:
    return [(e.caller, e.callee) for e in graph.edges()]


def test_edges_appear_from_parent_child_spans_whatever_their_arrival_order() -> None:
    graph = DependencyGraph()
    # Children finish (and arrive) before their parents.
    graph.observe_call("payments", "c1", "b1", 1.0)
    graph.observe_call("cart", "c2", "b1", 1.0)
    graph.observe_call("checkout", "b1", "a1", 1.1)
    graph.observe_call("frontend", "a1", None, 1.2)
    # Parent first is fine too.
    graph.observe_call("frontend", "a2", None, 2.0)
    graph.observe_call("catalog", "b2", "a2", 2.1)
    assert pairs(graph) == [
        ("checkout", "cart"),
        ("checkout", "payments"),
        ("frontend", "catalog"),
        ("frontend", "checkout"),
    ]
    assert graph.callees()["checkout"] == {"cart", "payments"}


def test_calls_and_errors_are_counted_and_spans_within_a_service_are_no_edge() -> None:
    graph = DependencyGraph()
    for i in range(3):
        graph.observe_call("frontend", f"p{i}", None, float(i))
        graph.observe_call("frontend", f"inner{i}", f"p{i}", float(i))
        graph.observe_call("checkout", f"c{i}", f"p{i}", float(i), error=i == 2)
    [edge] = graph.edges()
    assert (edge.caller, edge.callee, edge.calls, edge.errors) == ("frontend", "checkout", 3, 1)


def test_a_client_span_naming_its_peer_keeps_a_silent_dependency_in_the_graph() -> None:
    graph = DependencyGraph()
    graph.observe_call("payments", "x1", None, 5.0, error=True, peer="postgres")
    assert pairs(graph) == [("payments", "postgres")]
    assert "postgres" in graph.services()


def test_edges_age_out_when_traffic_stops_and_come_back_with_it() -> None:
    graph = DependencyGraph(ttl_s=60.0)
    graph.observe_call("frontend", "a", None, 0.0)
    graph.observe_call("cart", "b", "a", 0.0)
    graph.changed = False
    graph.expire(30.0)
    assert pairs(graph) == [("frontend", "cart")]
    graph.expire(61.0)
    assert pairs(graph) == []
    assert graph.changed
    graph.observe_call("frontend", "c", None, 70.0)
    graph.observe_call("cart", "d", "c", 70.0)
    assert pairs(graph) == [("frontend", "cart")]


def test_the_span_directory_is_bounded() -> None:
    graph = DependencyGraph(max_spans=100)
    for i in range(10_000):
        graph.observe_call("svc", f"s{i}", f"missing{i}", float(i))
    sizes = graph._span_service.new, graph._span_service.old, graph._waiting.new
    assert all(len(d) <= 100 for d in sizes)
