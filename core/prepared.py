"""Queries compiled into SQL once per process, for a page's hot queries: their shape never
changes, only the values asked for.

Turning a queryset into SQL is a fifth to a third of a page's CPU (`bench/page_cpu.py
--compile`): on every request the ORM walks each model of a `select_related`, each column,
each `defer`, to write the same statement again. SQLAlchemy caches compiled statements by
their structure for this reason; Django does not, so the few queries that every nomination or
cycle page makes are declared as prepared where they are used (workflow/views.py,
workflow/selectors.py):

    SIGN_OFFS = Prepared(
        lambda nomination: SignOff.objects.filter(nomination=nomination).select_related("person"),
        nomination=Nomination,
    )
    sign_offs = SIGN_OFFS.fetch(nomination=nomination)  # a list

The first `fetch` in a process builds the queryset with placeholder values (an id no row has,
a string nobody types), compiles it, notes where each placeholder lands among the SQL's
parameters, and keeps the SQL with what the ORM learnt compiling it (the columns selected and
how a row becomes objects). Every `fetch` still builds the queryset from the real values (cheap:
the ORM records operations, it compiles nothing then) and evaluates it as usual, prefetches
included, except that its compiler answers the kept SQL with the values in place.

The rules, and what holds them:
- A value is an `int`, a `str`, or a model instance (its primary key is the value): each must
  reach the parameters unchanged, and no other parameter may derive from one (`pk + 1`): the
  first `fetch` compiles twice with different placeholders and refuses the query otherwise.
- The shape must not depend on the values (no `if tier: queryset.filter(...)`), nor on
  anything read inside the build but them (the viewer's side, a setting). With
  `settings.PREPARED_QUERIES_CHECK` (on in the test suite) every `fetch` also compiles the
  queryset the ORM's way and raises on any difference in SQL or parameters, so every test that
  renders a page checks the queries it prepares.
- `fetch` answers a list: nothing can be chained onto a prepared queryset and reuse SQL that no
  longer matches it.

What is kept belongs to Django's SQLCompiler (`_STATE` below, read by `execute_sql`,
`results_iter` and the model iterable); Django is pinned to 5.2 in pyproject.toml, and the
check above runs through the whole suite on every upgrade.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.sql.query import Query

# What SQLCompiler.as_sql leaves on the compiler for execute_sql, results_iter and the
# iterables to read: the columns, how rows become objects, the annotations' positions.
_STATE = ("select", "klass_info", "annotation_col_map", "col_count", "has_extra_select")

# Placeholders no row holds and nobody types; each compiled query takes fresh ones, far apart
# (a value derived from one, `pk + 1`, never equals another).
_numbers = itertools.count(start=-1_987_654_321, step=-1_000_003)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: tuple[tuple[str, tuple[int, ...]], ...]  # (value's name, its positions in params)
    state: dict[str, Any]


class _PreparedQuery(Query):
    """The query of one `fetch`: its compiler answers the kept SQL. A clone is a plain Query
    again (nothing chained onto it may reuse the SQL)."""

    compiled: _Compiled
    params: tuple

    def clone(self):
        obj = super().clone()
        obj.__class__ = Query
        obj.__dict__.pop("compiled", None)
        obj.__dict__.pop("params", None)
        return obj

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        compiler = super().get_compiler(using, connection, elide_empty)
        compiled, params = self.compiled, self.params
        for name, value in compiled.state.items():
            setattr(compiler, name, value)

        def as_sql(with_limits=True, with_col_aliases=False):
            return compiled.sql, params

        compiler.as_sql = as_sql
        return compiler


class Prepared:
    """A queryset `build(**values)`, compiled once per process and database."""

    def __init__(self, build: Callable[..., models.QuerySet], **kinds: type) -> None:
        for name, kind in kinds.items():
            if not (kind in (int, str) or issubclass(kind, models.Model)):
                raise ImproperlyConfigured(f"{name}: an int, a str or a model, not {kind!r}")
        self.build = build
        self.kinds = kinds
        self._compiled: dict[str, _Compiled] = {}

    def fetch(self, **values) -> list:
        queryset = self.build(**values)
        if queryset._result_cache is not None:  # a relation's prefetched rows: no query to run
            return list(queryset)
        compiled = self._compiled.get(queryset.db)
        if compiled is None:
            compiled = self._compiled[queryset.db] = self._compile(queryset.db)
        params = list(compiled.params)
        for name, positions in compiled.slots:
            value = values[name]
            value = value.pk if isinstance(value, models.Model) else value
            for position in positions:
                params[position] = value
        if settings.PREPARED_QUERIES_CHECK:
            self._check(queryset, compiled.sql, params)
        query = queryset.query
        query.__class__ = _PreparedQuery
        query.compiled, query.params = compiled, tuple(params)
        return list(queryset)

    def _placeholder(self, kind: type):
        number = next(_numbers)
        if kind is int:
            return number
        if kind is str:
            return f"\x1fprepared{number}\x1f"
        return kind(pk=number)

    def _compile(self, alias: str) -> _Compiled:
        """Compiled twice, with two sets of placeholders: the same SQL, each value at the same
        positions and the same parameters everywhere else, or a parameter derives from a value
        (`pk + 1`) and the query is refused."""
        first, second = self._compile_once(alias), self._compile_once(alias)
        placed = {i for _name, positions in first.slots for i in positions}
        if (first.sql, first.slots, len(first.params)) != (
            second.sql,
            second.slots,
            len(second.params),
        ) or any(
            a != b
            for i, (a, b) in enumerate(zip(first.params, second.params, strict=True))
            if i not in placed
        ):
            raise ImproperlyConfigured(
                f"A parameter of the query derives from {', '.join(self.kinds)}, or its shape "
                "depends on them: not preparable."
            )
        return first

    def _compile_once(self, alias: str) -> _Compiled:
        placeholders = {name: self._placeholder(kind) for name, kind in self.kinds.items()}
        compiler = self.build(**placeholders).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = []
        for name, placeholder in placeholders.items():
            value = placeholder.pk if isinstance(placeholder, models.Model) else placeholder
            positions = tuple(
                i for i, param in enumerate(params) if type(param) is type(value) and param == value
            )
            if not positions:
                raise ImproperlyConfigured(
                    f"{name} does not reach the SQL's parameters unchanged: not preparable."
                )
            slots.append((name, positions))
        state = {name: getattr(compiler, name) for name in _STATE}
        return _Compiled(sql=sql, params=tuple(params), slots=tuple(slots), state=state)

    @staticmethod
    def _check(queryset: models.QuerySet, sql: str, params: list) -> None:
        expected_sql, expected_params = queryset.query.get_compiler(using=queryset.db).as_sql()
        if (expected_sql, list(expected_params)) != (sql, params):
            raise AssertionError(
                "A prepared query differs from the ORM's: its shape depends on its values.\n"
                f"ORM:      {expected_sql} {list(expected_params)}\n"
                f"prepared: {sql} {params}"
            )
