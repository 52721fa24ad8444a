"""The ``needs`` graph of a workflow: unknown ids, cycles, transitive upstreams, a run order.

Kept apart from the loader because the scheduler needs the same answers and
because the algorithms are iterative (a generated workflow may chain
thousands of tasks, deeper than Python's recursion limit).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence

__all__ = ["Upstream", "find_cycles", "format_cycle", "run_order", "upstream_sets"]


def find_cycles(needs: Mapping[str, Sequence[str]]) -> list[tuple[str, ...]]:
    """Every distinct cycle a depth-first walk meets, each starting at its earliest task in file order.

    ``needs`` maps task id -> the ids it needs, in file order; unknown ids are
    ignored (they are reported on their own).
    """
    order = {task: index for index, task in enumerate(needs)}
    state: dict[str, int] = {}
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for root in needs:
        if root in state:
            continue
        if not needs[root]:  # needs nothing: in no cycle (most tasks of a wide workflow)
            state[root] = 2
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        state[root] = 1
        while stack:
            task, next_index = stack[-1]
            children = [child for child in needs[task] if child in needs]
            if next_index >= len(children):
                stack.pop()
                path.pop()
                state[task] = 2
                continue
            stack[-1] = (task, next_index + 1)
            child = children[next_index]
            if state.get(child) == 1:
                cycle = path[path.index(child) :]
                start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                rotated = tuple(cycle[start:] + cycle[:start])
                found.setdefault(frozenset(rotated), rotated)
            elif child not in state:
                state[child] = 1
                stack.append((child, 0))
                path.append(child)
    return sorted(found.values(), key=lambda cycle: order[cycle[0]])


def format_cycle(cycle: Sequence[str]) -> str:
    """``("a", "b", "c")`` -> ``a -> b -> c -> a``."""
    return " -> ".join([*cycle, cycle[0]])


class Upstream(Mapping[str, frozenset[str]]):
    """Each task's transitive needs, computed on first use.

    Computing every set up front costs n² for a long chain (a 10,000-task
    chain holds 50 million entries); checks mostly ask whether one task is
    upstream of another, which :meth:`reaches` answers from the direct needs
    first and with an early-exit walk otherwise.
    """

    def __init__(self, needs: Mapping[str, Sequence[str]]) -> None:
        self._needs = needs
        self._sets: dict[str, frozenset[str]] = {}

    def __getitem__(self, task: str) -> frozenset[str]:
        if task not in self._needs:
            raise KeyError(task)
        found = self._sets.get(task)
        if found is None:
            found = self._sets[task] = upstream_sets({task: self._needs[task]}, graph=self._needs)[task]
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._needs)

    def __len__(self) -> int:
        return len(self._needs)

    def reaches(self, task: str, target: str) -> bool:
        """Whether ``target`` is among ``task``'s transitive needs."""
        direct = self._needs.get(task, ())
        if target in direct:
            return True
        if task in self._sets:
            return target in self._sets[task]
        seen: set[str] = set()
        pending = [child for child in direct if child in self._needs]
        while pending:
            current = pending.pop()
            if current == target:
                return True
            if current not in seen:
                seen.add(current)
                pending.extend(child for child in self._needs[current] if child in self._needs and child not in seen)
        return False


def upstream_sets(
    needs: Mapping[str, Sequence[str]], *, graph: Mapping[str, Sequence[str]] | None = None
) -> dict[str, frozenset[str]]:
    """The transitive needs of each task in ``needs`` (known ids only); a task in a cycle is its own upstream.

    ``graph`` is the whole workflow when ``needs`` holds only the tasks to answer for.
    """
    graph = needs if graph is None else graph
    result: dict[str, frozenset[str]] = {}
    for task in needs:
        seen: set[str] = set()
        pending = [child for child in needs[task] if child in graph]
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            pending.extend(child for child in graph[current] if child in graph and child not in seen)
        result[task] = frozenset(seen)
    return result


def run_order(needs: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """A topological order, file order among tasks that are ready together; tasks in cycles are left out."""
    if not any(needs.values()):  # nothing needs anything: file order
        return tuple(needs)
    order = {task: index for index, task in enumerate(needs)}
    missing = {task: len({child for child in deps if child in needs}) for task, deps in needs.items()}
    dependents: dict[str, list[str]] = {task: [] for task in needs}
    for task, deps in needs.items():
        for child in dict.fromkeys(deps):
            if child in needs:
                dependents[child].append(task)
    ready = [order[task] for task, count in missing.items() if count == 0]
    heapq.heapify(ready)
    names = list(needs)
    done: list[str] = []
    while ready:
        task = names[heapq.heappop(ready)]
        done.append(task)
        for dependent in dependents[task]:
            missing[dependent] -= 1
            if missing[dependent] == 0:
                heapq.heappush(ready, order[dependent])
    return tuple(done)
