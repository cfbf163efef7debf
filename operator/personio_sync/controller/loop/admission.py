"""Who gets the next free run slot (FAIR-2, FAIR-5), in O(log N) per acquire and release.

The order is the simple one of slots.py: waiting runs by priority, then by arrival; a
waiter whose namespace is at its cap, or a long one that only the reserved slot could
serve, is passed over without blocking the ones behind it. Sorting and walking every
waiter at each acquire and release makes a burst of N waiters cost O(N²) (10,000
resources due at once), so the waiters are kept where the next one is found at once:

* one FIFO per (namespace, priority), in arrival order (an OrderedDict: a cancelled
  waiter leaves from anywhere in O(1));
* per priority, a heap of the FIFOs' heads by arrival. A namespace at its cap has no
  valid entry there: its heads are dropped when they reach the top and listed again
  when one of its runs ends.

The next waiter is then the top of the first priority that may run: FIRST_SYNC, QUICK,
or LONG while long runs hold fewer than `total - reserved`. Heap entries go stale
(their head left); they are skipped at the top, and the heap is rebuilt when stale
entries outnumber live ones, so memory stays O(waiters).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Priority(IntEnum):
    """Lower goes first."""

    FIRST_SYNC = 0
    QUICK = 1
    LONG = 2


@dataclass(eq=False)
class Ticket:
    """One waiting run. `gone`: it gave up before it was admitted (its task was
    cancelled and has not yet run to withdraw it); it is passed over and dropped."""

    priority: Priority
    namespace: str
    seq: int
    gone: Callable[[], bool] = field(default=lambda: False, repr=False)
    queued: bool = True


@dataclass
class _Fifo:
    """The waiters of one namespace and priority; `listed`: the seq of the head whose
    entry is valid in its priority's heap (None: no valid entry)."""

    waiting: OrderedDict[int, Ticket] = field(default_factory=OrderedDict)
    listed: int | None = None

    def head(self) -> Ticket | None:
        return next(iter(self.waiting.values()), None)


class Admission:
    """The slots' bookkeeping: what is held, who waits, who is admitted next."""

    def __init__(self, total: int, reserved: int, per_namespace: int) -> None:
        self.total, self.reserved, self.per_namespace = total, reserved, per_namespace
        self.held = dict.fromkeys(Priority, 0)
        self.held_by_namespace: Counter[str] = Counter()
        self._in_use = 0
        self._fifos: dict[tuple[str, Priority], _Fifo] = {}
        self._heaps: dict[Priority, list[tuple[int, str]]] = {p: [] for p in Priority}
        self._waiting = 0
        self._seq = itertools.count()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def waiting(self) -> int:
        return self._waiting

    def wait(
        self, priority: Priority, namespace: str, gone: Callable[[], bool] = lambda: False
    ) -> Ticket:
        """Queue a run; `admit()` says when it may start."""
        ticket = Ticket(priority, namespace, next(self._seq), gone)
        key = (namespace, priority)
        fifo = self._fifos.get(key)
        if fifo is None:
            fifo = self._fifos[key] = _Fifo()
        fifo.waiting[ticket.seq] = ticket
        self._waiting += 1
        if len(fifo.waiting) == 1:
            self._list(key, fifo)
        return ticket

    def withdraw(self, ticket: Ticket) -> None:
        """A queued run gave up; a no-op once it left the queue."""
        if not ticket.queued:
            return
        key = (ticket.namespace, ticket.priority)
        fifo = self._fifos[key]
        was_head = fifo.head() is ticket
        self._unqueue(key, fifo, ticket)
        if was_head and key in self._fifos:
            self._list(key, fifo)

    def release(self, priority: Priority, namespace: str) -> None:
        """A run ended: its slot is free (call `admit()` next)."""
        self.held[priority] -= 1
        self._in_use -= 1
        self.held_by_namespace[namespace] -= 1
        if self.held_by_namespace[namespace] <= 0:
            del self.held_by_namespace[namespace]
        for p in Priority:  # below its cap again: its heads may run
            fifo = self._fifos.get((namespace, p))
            if fifo is not None:
                self._list((namespace, p), fifo)

    def admit(self) -> list[Ticket]:
        """Admit waiters while one fits, best first; their slots are counted as held."""
        admitted: list[Ticket] = []
        while self._in_use < self.total:
            ticket = self._next()
            if ticket is None:
                break
            heapq.heappop(self._heaps[ticket.priority])  # its entry is the top
            key = (ticket.namespace, ticket.priority)
            fifo = self._fifos[key]
            self._unqueue(key, fifo, ticket)
            self.held[ticket.priority] += 1
            self._in_use += 1
            self.held_by_namespace[ticket.namespace] += 1
            if key in self._fifos:
                self._list(key, fifo)
            admitted.append(ticket)
        return admitted

    def _next(self) -> Ticket | None:
        for priority in Priority:
            if priority == Priority.LONG and self.held[priority] >= self.total - self.reserved:
                return None  # the reserved slot is for quick runs (FAIR-2)
            ticket = self._top(priority)
            if ticket is not None:
                return ticket
        return None

    def _top(self, priority: Priority) -> Ticket | None:
        """The earliest head of this priority whose namespace is below its cap, left at
        the top of its heap."""
        heap = self._heaps[priority]
        while heap:
            seq, namespace = heap[0]
            key = (namespace, priority)
            fifo = self._fifos.get(key)
            if fifo is None or fifo.listed != seq:
                heapq.heappop(heap)  # stale: that head left
                continue
            head = fifo.head()
            assert head is not None and head.seq == seq
            if head.gone():
                heapq.heappop(heap)
                self._unqueue(key, fifo, head)
                if key in self._fifos:
                    self._list(key, fifo)
                continue
            if self.held_by_namespace[namespace] >= self.per_namespace:
                heapq.heappop(heap)  # FAIR-5: listed again when one of its runs ends
                fifo.listed = None
                continue
            return head
        return None

    def _list(self, key: tuple[str, Priority], fifo: _Fifo) -> None:
        """Give the FIFO's head a valid heap entry, unless it has one or its namespace is
        at its cap."""
        head = fifo.head()
        if head is None or fifo.listed == head.seq:
            return
        if self.held_by_namespace[key[0]] >= self.per_namespace:
            fifo.listed = None
            return
        heap = self._heaps[key[1]]
        fifo.listed = head.seq
        heapq.heappush(heap, (head.seq, key[0]))
        if len(heap) > 2 * self._waiting + 16:
            self._compact(key[1])

    def _unqueue(self, key: tuple[str, Priority], fifo: _Fifo, ticket: Ticket) -> None:
        del fifo.waiting[ticket.seq]
        ticket.queued = False
        self._waiting -= 1
        if fifo.listed == ticket.seq:
            fifo.listed = None
        if not fifo.waiting:
            del self._fifos[key]

    def _compact(self, priority: Priority) -> None:
        """Drop the stale entries of one heap (amortised O(1) per push)."""
        live = [
            (seq, namespace)
            for seq, namespace in self._heaps[priority]
            if (fifo := self._fifos.get((namespace, priority))) is not None and fifo.listed == seq
        ]
        heap = self._heaps[priority]
        heap[:] = live  # in place: a caller may hold the list
        heapq.heapify(heap)
