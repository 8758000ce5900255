"""The claim language: a sentence's promise, parsed (never evaluated as code) and checked.

    size(go-app-multi) < 30MB
    reduction(go-app-single, go-app-multi) > 90%
    size(go-app-scratch) < size(go-app-multi)
    ratio(go-app-single, go-app-multi) >= 10
    status(go-app-static, '/myapp') == 404
    body(go-app-static, '/') contains 'Welcome'
    body(go-app-multi, '/hello') matches /Hello.*hello/
    cached_steps(cache-deps-first-edited) > cached_steps(cache-copy-all-edited)
    build(typo-stage) fails with /invalid from flag value|failed to resolve source metadata/

A claim parses into small typed objects; checking it against a `Facts` provider gives a
`Verdict` that holds the measured values, so the log, the page and a report share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from .errors import ClaimSyntaxError, LivedocsError
from .units import human_size, percent

# -- tokens -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?)(?P<unit>B|kB|KB|MB|GB|%)?(?![\w.])
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<regex>/(?:[^/\\]|\\.)+/)
  | (?P<op><=|>=|==|!=|<|>)
  | (?P<punct>[(),.])
  | (?P<name>[A-Za-z0-9][A-Za-z0-9_.:/-]*[A-Za-z0-9_]|[A-Za-z0-9])
    """,
    re.VERBOSE,
)

_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3}

#: function name -> (argument kinds, result kind)
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "size": (("image",), "bytes"),
    "reduction": (("image", "image"), "percent"),
    "ratio": (("image", "image"), "number"),
    "layers": (("image",), "number"),
    "status": (("image", "path"), "number"),
    "body": (("image", "path"), "text"),
    "cached_steps": (("image",), "number"),
    "steps": (("image",), "number"),
}

COMPARISONS = ("<", "<=", ">", ">=", "==", "!=", "contains", "matches")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int
    unit: str | None = None


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if not match:
            raise ClaimSyntaxError(f"unexpected {source[position]!r} at column {position + 1}")
        kind = match.lastgroup or ""
        if kind == "unit":
            kind = "number"
        if kind != "space":
            text = match.group("number") if kind == "number" else match.group(0)
            tokens.append(
                Token(
                    kind,
                    text,
                    position,
                    match.group("unit") if kind == "number" else None,
                )
            )
        position = match.end()
    return tokens


# -- syntax tree --------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[str, ...]

    @property
    def kind(self) -> str:
        return FUNCTIONS[self.function][1]

    def __str__(self) -> str:
        shown = [a if FUNCTIONS[self.function][0][i] == "image" else repr(a) for i, a in enumerate(self.arguments)]
        return f"{self.function}({', '.join(shown)})"


@dataclass(frozen=True)
class Literal:
    value: float | str
    kind: str  # bytes, percent, number, text, pattern
    text: str

    def __str__(self) -> str:
        return self.text


Operand = Call | Literal


@dataclass(frozen=True)
class Comparison:
    left: Operand
    operator: str
    right: Operand


@dataclass(frozen=True)
class BuildFails:
    image: str
    pattern: str


@dataclass(frozen=True)
class Claim:
    source: str
    body: Comparison | BuildFails

    def images(self) -> list[str]:
        """Every image the claim talks about."""
        if isinstance(self.body, BuildFails):
            return [self.body.image]
        names: list[str] = []
        for side in (self.body.left, self.body.right):
            if isinstance(side, Call):
                kinds = FUNCTIONS[side.function][0]
                names += [a for a, k in zip(side.arguments, kinds, strict=True) if k == "image"]
        return names


# -- parser -------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None, what: str | None = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            wanted = what or (repr(text) if text else kind)
            found = f"{token.text!r} at column {token.position + 1}" if token else "the end of the claim"
            raise ClaimSyntaxError(f"expected {wanted}, found {found}")
        self.index += 1
        return token

    def claim(self) -> Claim:
        token = self.peek()
        if token is None:
            raise ClaimSyntaxError("the claim is empty")
        if token.kind == "name" and token.text == "build":
            body: Comparison | BuildFails = self.build_fails()
        else:
            body = self.comparison()
        extra = self.peek()
        if extra is not None:
            raise ClaimSyntaxError(f"unexpected {extra.text!r} at column {extra.position + 1} after a complete claim")
        return Claim(self.source, body)

    def build_fails(self) -> BuildFails:
        self.take("name", "build")
        self.take("punct", "(")
        image = self.take("name", what="an image name").text
        self.take("punct", ")")
        self.take("name", "fails")
        self.take("name", "with")
        pattern = self.take("regex", what="a /pattern/").text[1:-1]
        _compile(pattern)
        return BuildFails(image, pattern)

    def comparison(self) -> Comparison:
        left = self.operand()
        token = self.peek()
        if token is not None and token.kind == "op":
            operator = self.take("op").text
        elif token is not None and token.kind == "name" and token.text in ("contains", "matches"):
            operator = self.take("name").text
        else:
            found = f"{token.text!r}" if token else "the end of the claim"
            raise ClaimSyntaxError(f"expected a comparison ({', '.join(COMPARISONS)}), found {found}")
        right = self.operand()
        _check_types(left, operator, right)
        return Comparison(left, operator, right)

    def operand(self) -> Operand:
        token = self.peek()
        if token is None:
            raise ClaimSyntaxError("the claim ends where a value was expected")
        if token.kind == "number":
            self.index += 1
            number = float(token.text)
            if token.unit == "%":
                return Literal(number, "percent", token.text + "%")
            if token.unit:
                return Literal(number * _UNITS[token.unit], "bytes", token.text + token.unit)
            return Literal(number, "number", token.text)
        if token.kind == "string":
            self.index += 1
            return Literal(_unquote(token.text), "text", token.text)
        if token.kind == "regex":
            self.index += 1
            _compile(token.text[1:-1])
            return Literal(token.text[1:-1], "pattern", token.text)
        if token.kind == "name" and token.text in FUNCTIONS:
            return self.call()
        raise ClaimSyntaxError(
            f"unknown quantity {token.text!r} at column {token.position + 1}; "
            f"known: {', '.join(FUNCTIONS)}, build(...) fails with /.../"
        )

    def call(self) -> Call:
        function = self.take("name").text
        kinds = FUNCTIONS[function][0]
        self.take("punct", "(")
        arguments: list[str] = []
        for number, kind in enumerate(kinds):
            if number:
                self.take("punct", ",", what=f"',' and {len(kinds)} arguments to {function}()")
            if kind == "image":
                arguments.append(self.take("name", what="an image name").text)
            else:
                arguments.append(_unquote(self.take("string", what="a quoted path such as '/'").text))
        self.take("punct", ")", what=f"')' after {len(kinds)} argument(s) to {function}()")
        return Call(function, tuple(arguments))


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ClaimSyntaxError(f"bad pattern /{pattern}/: {error}") from None


def _kind(operand: Operand) -> str:
    return operand.kind


def _check_types(left: Operand, operator: str, right: Operand) -> None:
    if operator == "contains":
        if _kind(left) != "text" or _kind(right) != "text":
            raise ClaimSyntaxError("'contains' compares a body(...) with a quoted text")
        return
    if operator == "matches":
        if _kind(left) != "text" or _kind(right) != "pattern":
            raise ClaimSyntaxError("'matches' compares a body(...) with a /pattern/")
        return
    kinds = {_kind(left), _kind(right)}
    if "text" in kinds or "pattern" in kinds:
        if operator in ("==", "!=") and kinds == {"text"}:
            return
        raise ClaimSyntaxError(f"{operator!r} cannot compare {left} with {right}; use contains or matches")
    if len(kinds) != 1:
        hint = " (sizes take a unit: B, kB, MB, GB)" if "bytes" in kinds else ""
        raise ClaimSyntaxError(f"cannot compare {left} ({_kind(left)}) with {right} ({_kind(right)}){hint}")


def parse(source: str) -> Claim:
    """Parse a claim; raises ClaimSyntaxError (and nothing else) when it is malformed."""
    if not isinstance(source, str):
        raise ClaimSyntaxError("a claim is a text")
    try:
        return _Parser(source).claim()
    except ClaimSyntaxError:
        raise
    except (
        ValueError,
        IndexError,
        KeyError,
        OverflowError,
        RecursionError,
    ) as error:  # pragma: no cover
        raise ClaimSyntaxError(f"cannot parse: {error}") from None


# -- checking -----------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str


class Facts(Protocol):
    """What the claims are checked against: live measurements or recorded ones."""

    def size_bytes(self, image: str) -> int: ...
    def layer_count(self, image: str) -> int: ...
    def response(self, image: str, path: str) -> HttpResponse: ...
    def build_error(self, image: str) -> str: ...
    def build_steps(self, image: str) -> tuple[int, int]: ...  # (cached, total)


@dataclass
class Verdict:
    claim: Claim
    holds: bool
    measured: list[str] = field(default_factory=list)  # "size(go-app-multi) is 8.7MB"

    def summary(self) -> str:
        status = "holds" if self.holds else "is false"
        measured = "; ".join(self.measured)
        return f'claim "{self.claim.source}" {status}' + (f": {measured}" if measured else "")


def _show(kind: str, value: float | str) -> str:
    if kind == "bytes":
        return human_size(float(value))
    if kind == "percent":
        return percent(float(value))
    if kind == "text":
        text = str(value)
        return repr(text if len(text) <= 80 else text[:77] + "...")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _value(operand: Operand, facts: Facts, measured: list[str]) -> float | str:
    if isinstance(operand, Literal):
        return operand.value
    args = operand.arguments
    value: float | str
    if operand.function == "size":
        value = float(facts.size_bytes(args[0]))
    elif operand.function in ("reduction", "ratio"):
        before, after = (
            float(facts.size_bytes(args[0])),
            float(facts.size_bytes(args[1])),
        )
        if operand.function == "reduction":
            value = 100.0 * (before - after) / before if before else 0.0
        else:
            if not after:
                raise LivedocsError(f"{args[1]} has size 0: ratio undefined")
            value = before / after
        measured.append(f"{args[0]} is {human_size(before)}, {args[1]} is {human_size(after)}")
    elif operand.function == "layers":
        value = float(facts.layer_count(args[0]))
    elif operand.function == "status":
        value = float(facts.response(args[0], args[1]).status)
    elif operand.function == "body":
        value = facts.response(args[0], args[1]).body
    elif operand.function == "cached_steps":
        cached, total = facts.build_steps(args[0])
        value = float(cached)
        measured.append(f"{args[0]} took {cached} of {total} steps from the cache")
        return value
    elif operand.function == "steps":
        value = float(facts.build_steps(args[0])[1])
    else:  # pragma: no cover - the parser admits only FUNCTIONS
        raise LivedocsError(f"unknown quantity {operand.function}")
    measured.append(f"{operand} is {_show(operand.kind, value)}")
    return value


def check(claim: Claim, facts: Facts) -> Verdict:
    """Check a parsed claim against the facts; LivedocsError if a fact is missing."""
    measured: list[str] = []
    body = claim.body
    if isinstance(body, BuildFails):
        error = facts.build_error(body.image)
        holds = re.search(body.pattern, error) is not None
        first = error.strip().splitlines()[-1] if error.strip() else ""
        measured.append(f"{body.image} failed with {_show('text', first)}")
        return Verdict(claim, holds, measured)
    left = _value(body.left, facts, measured)
    right = _value(body.right, facts, measured)
    op = body.operator
    if op == "contains":
        holds = str(right) in str(left)
    elif op == "matches":
        holds = re.search(str(right), str(left)) is not None
    elif op == "==":
        holds = left == right
    elif op == "!=":
        holds = left != right
    else:
        a, b = float(left), float(right)
        holds = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    return Verdict(claim, holds, measured)
