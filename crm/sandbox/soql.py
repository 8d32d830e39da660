"""The small part of SOQL the sandbox understands.

    SELECT field[, field...] FROM SObject
      [WHERE cond [AND cond ...]]
      [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST][, ...]]
      [LIMIT n] [OFFSET n]

    cond := field (= | != | <> | < | <= | > | >=) literal
          | field [NOT] IN (literal, ...)
          | field LIKE 'pattern'
    literal := 'text' | 123 | 1.5 | TRUE | FALSE | NULL
             | 2024-01-31 | 2024-01-31T12:00:00Z | 2024-01-31T12:00:00.000+0000
             | TODAY | YESTERDAY | LAST_N_DAYS:n

Keywords are case-insensitive, as in SOQL. Anything else is a MALFORMED_QUERY, like Salesforce's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any


class SoqlError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DateTimeLiteral:
    value: datetime


@dataclass(frozen=True)
class DateLiteral:
    value: date


@dataclass(frozen=True)
class RelativeDate:
    """TODAY, YESTERDAY, LAST_N_DAYS:n: a range of whole days ending today."""

    start: date
    end: date  # inclusive


@dataclass
class Condition:
    field: str
    op: str  # = != < <= > >= IN NOT_IN LIKE
    value: Any


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool, bool]] = field(default_factory=list)  # field, desc, nulls_last
    limit: int | None = None
    offset: int = 0


TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
     |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
     |(?P<date>\d{4}-\d{2}-\d{2})
     |(?P<number>-?\d+(?:\.\d+)?)
     |(?P<op><=|>=|!=|<>|=|<|>)
     |(?P<punct>[(),])
     |(?P<word>[A-Za-z_][\w.]*(?::\d+)?)
    )""",
    re.VERBOSE,
)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[position:].split()[0]}'")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


def parse_datetime(text: str) -> datetime:
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


class Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() == words[0]:
            following = self.tokens[self.index : self.index + len(words)]
            if [t[1].upper() for t in following] == list(words):
                self.index += len(words)
                return True
        return False

    def expect(self, *words: str) -> None:
        if not self.keyword(*words):
            found = self.peek()
            raise SoqlError(
                "MALFORMED_QUERY",
                f"expecting '{' '.join(words)}', found '{found[1] if found else 'end of query'}'",
            )

    def name(self) -> str:
        kind, value = self.take()
        if kind != "word":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{value}'")
        return value

    def parse(self) -> Query:
        self.expect("SELECT")
        fields = [self.name()]
        while self.peek() == ("punct", ","):
            self.take()
            fields.append(self.name())
        self.expect("FROM")
        query = Query(fields=fields, sobject=self.name())
        if self.keyword("WHERE"):
            query.where.append(self.condition())
            while self.keyword("AND"):
                query.where.append(self.condition())
            if self.peek() and self.peek()[1].upper() == "OR":
                raise SoqlError("MALFORMED_QUERY", "OR is not supported by the sandbox")
        if self.keyword("ORDER", "BY"):
            query.order_by.append(self.ordering())
            while self.peek() == ("punct", ","):
                self.take()
                query.order_by.append(self.ordering())
        if self.keyword("LIMIT"):
            query.limit = self.integer()
        if self.keyword("OFFSET"):
            query.offset = self.integer()
        if self.peek() is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{self.peek()[1]}'")
        return query

    def integer(self) -> int:
        kind, value = self.take()
        if kind != "number" or not value.isdigit():
            raise SoqlError("MALFORMED_QUERY", f"expecting a number, found '{value}'")
        return int(value)

    def ordering(self) -> tuple[str, bool, bool]:
        name = self.name()
        descending = False
        if self.keyword("DESC"):
            descending = True
        else:
            self.keyword("ASC")
        nulls_last = descending  # SOQL: ASC puts nulls first, DESC puts them last
        if self.keyword("NULLS", "FIRST"):
            nulls_last = False
        elif self.keyword("NULLS", "LAST"):
            nulls_last = True
        return name, descending, nulls_last

    def condition(self) -> Condition:
        name = self.name()
        if self.keyword("NOT", "IN"):
            return Condition(name, "NOT_IN", self.literal_list())
        if self.keyword("IN"):
            return Condition(name, "IN", self.literal_list())
        if self.keyword("LIKE"):
            value = self.literal()
            if not isinstance(value, str):
                raise SoqlError("MALFORMED_QUERY", "LIKE needs a quoted pattern")
            return Condition(name, "LIKE", value)
        kind, op = self.take()
        if kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{op}'")
        return Condition(name, "!=" if op == "<>" else op, self.literal())

    def literal_list(self) -> list[Any]:
        if self.take() != ("punct", "("):
            raise SoqlError("MALFORMED_QUERY", "expecting '('")
        values = [self.literal()]
        while self.peek() == ("punct", ","):
            self.take()
            values.append(self.literal())
        if self.take() != ("punct", ")"):
            raise SoqlError("MALFORMED_QUERY", "expecting ')'")
        return values

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "datetime":
            return DateTimeLiteral(parse_datetime(value))
        if kind == "date":
            return DateLiteral(date.fromisoformat(value))
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "word":
            upper = value.upper()
            if upper in ("TRUE", "FALSE"):
                return upper == "TRUE"
            if upper == "NULL":
                return None
            today = datetime.now(UTC).date()
            if upper == "TODAY":
                return RelativeDate(today, today)
            if upper == "YESTERDAY":
                return RelativeDate(today - timedelta(days=1), today - timedelta(days=1))
            if upper.startswith("LAST_N_DAYS:"):
                days = int(upper.split(":")[1])
                return RelativeDate(today - timedelta(days=days), today)
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{value}'")


def parse(text: str) -> Query:
    return Parser(text).parse()
