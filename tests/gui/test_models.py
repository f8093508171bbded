"""The table models on their own (domain objects in, what a view shows out): Qt's model
checker, sorting and grouping in Python, filtering through the proxy, per-server updates
that keep selections and never duplicate or lose rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from uma_desktop.domain import AccessRequest, Decision, Party, Resource
from uma_desktop.gui.models import (
    FILTER_AT_ONCE,
    HistoryModel,
    ObjectFilterProxy,
    ObjectRole,
    RequestsModel,
    ResourceRow,
    ResourcesModel,
    SortRole,
)

pytestmark = pytest.mark.gui


def rows(server: str, names: list[str], kind: str = "album") -> list[ResourceRow]:
    return [
        ResourceRow(
            Resource(server, f"{server}-{n}", n, ("view",), f"RS {i % 2}", type=kind), server
        )
        for i, n in enumerate(names)
    ]


def load(qtbot: Any, model: Any, group: str, new: list[Any]) -> None:
    model.replace_group(group, new)
    qtbot.waitUntil(lambda: not model.is_loading(), timeout=5000)


def names(model: ResourcesModel) -> list[str]:
    return [model.row_object(r).resource.name for r in range(model.rowCount())]


def test_models_pass_qts_model_checker(qtbot: Any, qtmodeltester: Any) -> None:
    resources = ResourcesModel()
    load(qtbot, resources, "a", rows("a", ["x", "y", "z"]))
    qtmodeltester.check(resources)
    proxy = ObjectFilterProxy()
    proxy.setSourceModel(resources)
    proxy.set_predicate(lambda row: row.resource.name != "y")
    qtmodeltester.check(proxy)
    now = datetime.now(UTC)
    requests = RequestsModel(lambda cid: cid.upper())
    load(qtbot, requests, "a", [
        AccessRequest("a", "r1", "x", "X", Party("bob", name="Bob"), ("view",), requested_at=now),
    ])  # fmt: skip
    qtmodeltester.check(requests)
    history = HistoryModel(str)
    history.set_rows([Decision("a", "deny", "x", "X", "Bob", ("view",), now, ok=True)])
    qtmodeltester.check(history)


def test_sorting_grouping_and_filtering(qtbot: Any) -> None:
    model = ResourcesModel()
    proxy = ObjectFilterProxy()
    proxy.setSourceModel(model)
    load(qtbot, model, "b", rows("b", ["delta", "alpha"], kind="calendar"))
    load(qtbot, model, "a", rows("a", ["charlie", "bravo"]))
    proxy.sort(ResourcesModel.NAME, Qt.SortOrder.AscendingOrder)
    assert names(model) == ["alpha", "bravo", "charlie", "delta"]
    proxy.sort(ResourcesModel.NAME, Qt.SortOrder.DescendingOrder)
    assert names(model) == ["delta", "charlie", "bravo", "alpha"]

    model.set_group_column(ResourcesModel.SERVER)  # groups ascending, names still descending
    assert names(model) == ["charlie", "bravo", "delta", "alpha"]
    bold = model.index(0, ResourcesModel.SERVER).data(Qt.ItemDataRole.FontRole)
    assert bold is not None and bold.bold()
    model.set_group_column(-1)

    proxy.set_predicate(lambda row: row.resource.type == "calendar")
    assert sorted(proxy.index(r, 0).data(ObjectRole).resource.name for r in range(2)) == [
        "alpha",
        "delta",
    ]
    assert proxy.rowCount() == 2
    proxy.set_predicate(None)
    assert proxy.rowCount() == 4
    assert model.index(0, ResourcesModel.SHARED).data(SortRole) == -1  # unknown count sorts first


def test_a_servers_new_answer_updates_in_place_and_keeps_the_selection(qtbot: Any) -> None:
    model = ResourcesModel()
    proxy = ObjectFilterProxy()
    proxy.setSourceModel(model)
    selection = QItemSelectionModel(proxy)
    proxy.sort(ResourcesModel.NAME, Qt.SortOrder.AscendingOrder)
    load(qtbot, model, "a", rows("a", ["a1", "a2", "a3"]))
    load(qtbot, model, "b", rows("b", ["b1", "b2"]))
    keep = proxy.mapFromSource(model.index(model.row_for_key(("a", "a-a2")), 0))
    selection.select(keep, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    renamed = ResourceRow(Resource("a", "a-a2", "a2 (renamed)", ("view",), "RS 1"), "a")
    load(qtbot, model, "a", [renamed, *rows("a", ["a4"])])  # a1, a3 gone; a4 new
    assert names(model) == ["a2 (renamed)", "a4", "b1", "b2"]
    assert len({model.row_object(r).key for r in range(model.rowCount())}) == 4
    selected = [proxy.mapToSource(i).row() for i in selection.selectedIndexes()]
    assert [model.row_object(r).resource.name for r in selected] == ["a2 (renamed)"]

    model.remove_group("b")
    qtbot.waitUntil(lambda: not model.is_loading(), timeout=5000)
    assert names(model) == ["a2 (renamed)", "a4"]


def test_ten_thousand_rows_arrive_in_steps(qtbot: Any) -> None:
    model = ResourcesModel()
    inserted: list[int] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append(last - first + 1))
    many = rows("a", [f"item {i:05d}" for i in range(10_000)])
    model.replace_group("a", many)
    assert model.rowCount() == 0 and model.is_loading()  # nothing happens inside the call
    qtbot.waitUntil(lambda: not model.is_loading(), timeout=10_000)
    assert model.rowCount() == 10_000
    assert len(inserted) >= 5 and max(inserted) <= 1000


def test_a_big_table_is_filtered_in_steps_and_keeps_order_and_selection(qtbot: Any) -> None:
    model = ResourcesModel()
    proxy = ObjectFilterProxy()
    proxy.setSourceModel(model)
    selection = QItemSelectionModel(proxy)
    count = FILTER_AT_ONCE + 5000
    model.set_rows(rows("a", [f"item {i:05d}" for i in range(count)]))
    proxy.sort(ResourcesModel.NAME, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=5000)
    keep = proxy.mapFromSource(model.index(model.row_for_key(("a", "a-item 00070")), 0))
    selection.select(keep, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    proxy.set_predicate(lambda row: row.resource.name.endswith("0"))
    assert proxy.is_filtering() and proxy.rowCount() == count  # the old rows until done
    qtbot.waitUntil(lambda: not proxy.is_filtering(), timeout=5000)
    shown = [proxy.index(r, 0).data(ObjectRole).resource.name for r in range(proxy.rowCount())]
    assert shown == [f"item {i:05d}" for i in range(0, count, 10)]
    assert [i.data(ObjectRole).resource.name for i in selection.selectedIndexes()] == ["item 00070"]

    # rows arriving while a filter is computed: it starts over and misses none
    proxy.set_predicate(lambda row: row.resource.name.endswith("5"))
    model.replace_group("b", rows("b", ["item b5", "item b6"]))
    qtbot.waitUntil(lambda: not proxy.is_filtering() and not model.is_busy(), timeout=5000)
    shown = [proxy.index(r, 0).data(ObjectRole).resource.name for r in range(proxy.rowCount())]
    assert shown == sorted([f"item {i:05d}" for i in range(5, count, 10)] + ["item b5"])
    assert selection.selectedIndexes() == []  # the selected row is filtered out

    proxy.set_predicate(None, at_once=True)
    assert proxy.rowCount() == count + 2
