"""The claim language: a sentence's promise, parsed (never evaluated as code) and checked.

    size(go-app-multi) < 30MB
    layer_size(go-app-single, 'go build') > 5 * layer_size(go-app-multi, './webapp')
    reduction(go-app-single, go-app-multi) > 90%
    size(go-app-scratch) < size(go-app-multi)
    ratio(go-app-single, go-app-multi) >= 10
    status(go-app-static, '/myapp') == 404
    body(go-app-static, '/') contains 'Welcome'
    body(go-app-multi, '/hello') matches /Hello.*hello/
    uid(go-app-scratch) != 0
    cached_steps(fast-plain-edited) > cached_steps(fast-copy-all-edited)
    secret_layers(secret-mounted, 'api_token') == 0
    build(typo-stage) fails with /invalid from flag value|failed to resolve source metadata/

A claim parses into small typed objects; checking it against a `Facts` provider gives a
`Verdict` that holds the measured values, so the log, the page and a report share it.

A claim is checked on each image store's `Facts`; a quantity a store does not have
(`content_size` on overlay2, `context_size` where no BuildKit transfer is recorded)
raises `NotMeasuredHere`, and that store is skipped.

A new quantity is one entry in `FUNCTIONS`: its argument kinds, its result kind, and
how it is measured from the `Facts`. The parser, the type checks and the checker read
that table and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .errors import ClaimSyntaxError, LivedocsError
from .measurement import (
    Measurement,
    architecture_of,
    build_output,
    content_size_of,
    context_bytes_of,
    failure_of,
    image_of,
    media_type_of,
    platform_id_of,
    platform_row_of,
    secret_layers_of,
)
from .sources import Facts
from .units import human_seconds, human_size, percent, reduction, size_factor

# -- tokens -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?)(?P<unit>B|kB|KB|MB|GB|%)?(?![\w.])
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<regex>/(?:[^/\\]|\\.)+/)
  | (?P<op><=|>=|==|!=|<|>)
  | (?P<punct>[(),.*])
  | (?P<name>[A-Za-z0-9][A-Za-z0-9_.:/-]*[A-Za-z0-9_]|[A-Za-z0-9])
    """,
    re.VERBOSE,
)

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
            raise ClaimSyntaxError(f"unexpected {source[position]!r} at column {position + 1}", column=position + 1)
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
    factor: float = 1.0  # `0.5 * duration(x)`: the measured value times a factor
    factor_text: str = ""

    @property
    def kind(self) -> str:
        return FUNCTIONS[self.function].kind

    def __str__(self) -> str:
        kinds = FUNCTIONS[self.function].arguments
        shown = [a if kinds[i] == "image" else repr(a) for i, a in enumerate(self.arguments)]
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
                kinds = FUNCTIONS[side.function].arguments
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

    def column(self, token: Token | None) -> int:
        """Where `token` starts (from 1); just past the claim's end for None (nothing left)."""
        return token.position + 1 if token is not None else len(self.source) + 1

    def found(self, token: Token | None) -> str:
        """`'x' at column 7`, or `the end of the claim at column 12`."""
        what = repr(token.text + (token.unit or "")) if token is not None else "the end of the claim"
        return f"{what} at column {self.column(token)}"

    def take(self, kind: str, text: str | None = None, what: str | None = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            wanted = what or (repr(text) if text else kind)
            raise ClaimSyntaxError(f"expected {wanted}, found {self.found(token)}", column=self.column(token))
        self.index += 1
        return token

    def claim(self) -> Claim:
        token = self.peek()
        if token is None:
            raise ClaimSyntaxError("the claim is empty", column=self.column(token))
        if token.kind == "name" and token.text == "build":
            body: Comparison | BuildFails = self.build_fails()
        else:
            body = self.comparison()
        extra = self.peek()
        if extra is not None:
            raise ClaimSyntaxError(f"unexpected {self.found(extra)} after a complete claim", column=self.column(extra))
        return Claim(self.source, body)

    def build_fails(self) -> BuildFails:
        self.take("name", "build")
        self.take("punct", "(")
        image = self.take("name", what="an image name").text
        self.take("punct", ")")
        self.take("name", "fails")
        self.take("name", "with")
        regex = self.take("regex", what="a /pattern/")
        pattern = regex.text[1:-1]
        _compile(pattern, self.column(regex))
        return BuildFails(image, pattern)

    def comparison(self) -> Comparison:
        left = self.operand()
        token = self.peek()
        if token is not None and token.kind == "op":
            operator = self.take("op").text
        elif token is not None and token.kind == "name" and token.text in ("contains", "matches"):
            operator = self.take("name").text
        else:
            raise ClaimSyntaxError(
                f"expected a comparison ({', '.join(COMPARISONS)}), found {self.found(token)}",
                column=self.column(token),
            )
        right = self.operand()
        _check_types(left, operator, right, self.column(token))
        return Comparison(left, operator, right)

    def operand(self) -> Operand:
        token = self.peek()
        if token is None:
            raise ClaimSyntaxError(
                f"the claim ends where a value was expected, at column {self.column(token)}", column=self.column(token)
            )
        if token.kind == "number":
            self.index += 1
            number = float(token.text)
            following = self.peek()
            if token.unit is None and following is not None and following.text == "*":
                self.index += 1  # a factor: `5 * layer_size(...)`, once, of a quantity that is not a text
                scaled = self.peek()
                if scaled is None or scaled.kind != "name" or scaled.text not in FUNCTIONS:
                    raise ClaimSyntaxError(
                        f"a factor ({token.text} *) multiplies a measured quantity, not {self.found(scaled)}",
                        column=self.column(scaled),
                    )
                call = self.call()
                if call.kind == "text":
                    raise ClaimSyntaxError(
                        f"a factor ({token.text} *) multiplies a measured quantity, not the text {call} "
                        f"at column {self.column(scaled)}",
                        column=self.column(scaled),
                    )
                return replace(call, factor=number, factor_text=token.text)
            if token.unit == "%":
                return Literal(number, "percent", token.text + "%")
            if token.unit:
                return Literal(number * size_factor(token.unit), "bytes", token.text + token.unit)
            return Literal(number, "number", token.text)
        if token.kind == "string":
            self.index += 1
            return Literal(_unquote(token.text), "text", token.text)
        if token.kind == "regex":
            self.index += 1
            _compile(token.text[1:-1], self.column(token))
            return Literal(token.text[1:-1], "pattern", token.text)
        if token.kind == "name" and token.text in FUNCTIONS:
            return self.call()
        if token.kind == "name":
            raise ClaimSyntaxError(
                f"unknown quantity {self.found(token)}; known: {', '.join(FUNCTIONS)}, build(...) fails with /.../",
                column=self.column(token),
            )
        raise ClaimSyntaxError(
            f"expected a value (a quantity, a number, a 'text' or a /pattern/), found {self.found(token)}",
            column=self.column(token),
        )

    def call(self) -> Call:
        function = self.take("name").text
        kinds = FUNCTIONS[function].arguments
        self.take("punct", "(")
        arguments: list[str] = []
        for number, kind in enumerate(kinds):
            if number:
                self.take("punct", ",", what=f"',' and {len(kinds)} arguments to {function}()")
            if kind == "image":
                arguments.append(self.take("name", what="an image name").text)
            else:
                what = {"path": "a quoted path such as '/'", "secret": "a quoted secret id such as 'api_token'"}.get(
                    kind, "a quoted text such as 'go build'"
                )
                arguments.append(_unquote(self.take("string", what=what).text))
        self.take("punct", ")", what=f"')' after {len(kinds)} argument(s) to {function}()")
        return Call(function, tuple(arguments))


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _compile(pattern: str, column: int) -> re.Pattern[str]:
    """The pattern of a /pattern/ token at `column`, compiled; ClaimSyntaxError if Python's re refuses it."""
    try:
        return re.compile(pattern)
    except re.error as error:
        problem, where = error.msg, column + 1 + (error.pos or 0)  # the character re stopped at
    # re's parser raises these too, for a repetition count it cannot hold and for groups nested too deep
    except OverflowError as error:
        problem, where = str(error), column
    except RecursionError:
        problem, where = "groups nested too deeply", column
    shown = _source_text(f"/{pattern}/")
    raise ClaimSyntaxError(f"bad pattern {shown} at column {where}: {problem}", column=where)


def _source_text(text: str) -> str:
    """Source text for a one-line message: as written, or escaped where it holds a line break or control character."""
    return text if text.isprintable() else repr(text)


def _kind(operand: Operand) -> str:
    return operand.kind


def _check_types(left: Operand, operator: str, right: Operand, column: int) -> None:
    """The operands' kinds fit the operator (at `column`); ClaimSyntaxError naming both if not."""
    a, b = _source_text(str(left)), _source_text(str(right))
    if operator == "contains":
        if _kind(left) != "text" or _kind(right) != "text":
            raise ClaimSyntaxError(
                f"'contains' compares a body(...) with a quoted text, not {a} with {b} (at column {column})",
                column=column,
            )
        return
    if operator == "matches":
        if _kind(left) != "text" or _kind(right) != "pattern":
            raise ClaimSyntaxError(
                f"'matches' compares a body(...) with a /pattern/, not {a} with {b} (at column {column})",
                column=column,
            )
        return
    kinds = {_kind(left), _kind(right)}
    if "text" in kinds or "pattern" in kinds:
        if operator in ("==", "!=") and kinds == {"text"}:
            return
        raise ClaimSyntaxError(
            f"{operator!r} at column {column} cannot compare {a} with {b}; use contains or matches", column=column
        )
    if len(kinds) != 1:
        hint = " (sizes take a unit: B, kB, MB, GB)" if "bytes" in kinds else ""
        raise ClaimSyntaxError(
            f"cannot compare {a} ({_kind(left)}) with {b} ({_kind(right)}) at column {column}{hint}", column=column
        )


def parse(source: str) -> Claim:
    """Parse a claim; a malformed one raises ClaimSyntaxError, whose `column` is where it goes wrong.

    The grammar raises that error itself wherever it finds bad input; any other exception
    is a bug in the parser, and is left to say so rather than pass as a malformed claim.
    """
    if not isinstance(source, str):
        raise ClaimSyntaxError("a claim is a text")
    return _Parser(source).claim()


# -- checking -----------------------------------------------------------------------


@dataclass
class Verdict:
    claim: Claim
    holds: bool
    measured: list[str] = field(default_factory=list)  # "size(go-app-multi) is 8.7MB"

    def summary(self, store: str | None = None) -> str:
        """`claim "..." is false on containerd: size(x) is 88.5MB` (the store named when given)."""
        status = ("holds" if self.holds else "is false") + (f" on {store}" if store else "")
        measured = "; ".join(self.measured)
        return f'claim "{self.claim.source}" {status}' + (f": {measured}" if measured else "")


def _show(kind: str, value: float | str) -> str:
    if kind == "bytes":
        return human_size(float(value))
    if kind == "percent":
        return percent(float(value))
    if kind == "seconds":
        return human_seconds(float(value))
    if kind == "text":
        text = str(value)
        return repr(text if len(text) <= 80 else text[:77] + "...")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:.3g}" if isinstance(value, float) else str(value)


Note = Callable[[str], None]  # adds a line to what the verdict says was measured


def _size(facts: Facts, tag: str) -> float:
    return float(image_of(facts.measurement(tag), tag).size_bytes or 0)


def _two_sizes(facts: Facts, before: str, after: str, note: Note) -> tuple[float, float]:
    old, new = _size(facts, before), _size(facts, after)
    note(f"{before} is {human_size(old)}, {after} is {human_size(new)}")
    return old, new


def _ratio(facts: Facts, args: tuple[str, ...], note: Note) -> float:
    before, after = _two_sizes(facts, args[0], args[1], note)
    if not after:
        raise LivedocsError(f"{args[1]} has size 0: ratio undefined")
    return before / after


def layer_size(measurement: Measurement, tag: str, text: str) -> int:
    """The size of the image's newest layer whose `docker history` CREATED BY contains `text`."""
    for layer in measurement.layers:  # newest first
        if text in layer.created_by:
            return layer.size_bytes
    raise LivedocsError(f"no layer of {tag} was created by anything containing {text!r}")


def _layer_size(facts: Facts, args: tuple[str, ...], note: Note) -> float:
    return float(layer_size(image_of(facts.measurement(args[0]), args[0]), args[0], args[1]))


def step_seconds(measurement: Measurement, tag: str, text: str) -> float:
    """How long BuildKit took for the image's step whose instruction contains `text`."""
    for step in measurement.own_steps():
        if text in step.instruction and step.seconds is not None:
            return step.seconds
    raise LivedocsError(f"no timed step of {tag} contains {text!r} (step durations come from BuildKit)")


def _step_seconds(facts: Facts, args: tuple[str, ...], note: Note) -> float:
    return step_seconds(image_of(facts.measurement(args[0]), args[0]), args[0], args[1])


def _context_bytes(facts: Facts, args: tuple[str, ...], note: Note) -> float:
    return float(context_bytes_of(image_of(facts.measurement(args[0]), args[0]), args[0], facts.store))


def step_status(measurement: Measurement, tag: str, text: str) -> str:
    """What the listing says of the image's first step whose instruction contains `text`:
    `CACHED` (taken from the cache) or `DONE` (run)."""
    for step in measurement.own_steps():
        if text in step.instruction and not step.instruction.upper().startswith("FROM "):
            return "CACHED" if step.cached else "DONE"
    raise LivedocsError(f"no step of {tag} contains {text!r}")


def _ran_steps(facts: Facts, args: tuple[str, ...], note: Note) -> float:
    cached, total = image_of(facts.measurement(args[0]), args[0]).cached_steps()
    note(f"{args[0]} ran {total - cached} of {total} steps")
    return float(total - cached)


def _cached_steps(facts: Facts, args: tuple[str, ...], note: Note) -> float:
    cached, total = image_of(facts.measurement(args[0]), args[0]).cached_steps()
    note(f"{args[0]} took {cached} of {total} steps from the cache")
    return float(cached)


@dataclass(frozen=True)
class Function:
    """A quantity a claim can name."""

    arguments: tuple[str, ...]  # "image" (a tag), "path" (a quoted URL path), "text" or "secret" (a quoted id)
    kind: str  # bytes, seconds, percent, number or text: what it may be compared with
    measure: Callable[[Facts, tuple[str, ...], Note], float | str]
    says_itself: bool = False  # its note already gives the value (no "f(x) is v" line)


FUNCTIONS: dict[str, Function] = {
    "size": Function(("image",), "bytes", lambda facts, a, note: _size(facts, a[0])),
    "content_size": Function(
        ("image",),
        "bytes",
        lambda f, a, note: float(content_size_of(image_of(f.measurement(a[0]), a[0]), a[0], f.store)),
    ),
    "reduction": Function(
        ("image", "image"), "percent", lambda f, a, note: reduction(*_two_sizes(f, a[0], a[1], note))
    ),
    "ratio": Function(("image", "image"), "number", _ratio),
    "layers": Function(("image",), "number", lambda f, a, note: float(len(image_of(f.measurement(a[0]), a[0]).layers))),
    "status": Function(("image", "path"), "number", lambda f, a, note: float(f.response(a[0], a[1]).status)),
    "body": Function(("image", "path"), "text", lambda f, a, note: f.response(a[0], a[1]).body),
    "uid": Function(("image",), "number", lambda f, a, note: float(f.process_uid(a[0]))),
    "layer_size": Function(("image", "text"), "bytes", _layer_size),
    "step_seconds": Function(("image", "text"), "seconds", _step_seconds),
    "context_size": Function(("image",), "bytes", _context_bytes),
    "cached_steps": Function(("image",), "number", _cached_steps, says_itself=True),
    "ran_steps": Function(("image",), "number", _ran_steps, says_itself=True),
    "step_status": Function(
        ("image", "text"), "text", lambda f, a, note: step_status(image_of(f.measurement(a[0]), a[0]), a[0], a[1])
    ),
    "secret_layers": Function(
        ("image", "secret"),
        "number",
        lambda f, a, note: float(secret_layers_of(image_of(f.measurement(a[0]), a[0]), a[0], a[1])),
    ),
    "image_id": Function(("image",), "text", lambda f, a, note: image_of(f.measurement(a[0]), a[0]).image_id),
    "architecture": Function(
        ("image",), "text", lambda f, a, note: architecture_of(image_of(f.measurement(a[0]), a[0]), a[0])
    ),
    "media_type": Function(
        ("image",), "text", lambda f, a, note: media_type_of(image_of(f.measurement(a[0]), a[0]), a[0], f.store)
    ),
    "platform_size": Function(
        ("image", "text"),
        "bytes",
        lambda f, a, note: float(platform_row_of(image_of(f.measurement(a[0]), a[0]), a[0], a[1], f.store).disk_bytes),
    ),
    "platform_content_size": Function(
        ("image", "text"),
        "bytes",
        lambda f, a, note: float(
            platform_row_of(image_of(f.measurement(a[0]), a[0]), a[0], a[1], f.store).content_bytes
        ),
    ),
    "platform_id": Function(
        ("image", "text"),
        "text",
        lambda f, a, note: platform_id_of(image_of(f.measurement(a[0]), a[0]), a[0], a[1], f.store),
    ),
    "build_output": Function(
        ("image", "text"), "text", lambda f, a, note: build_output(image_of(f.measurement(a[0]), a[0]), a[0], a[1])
    ),
    "steps": Function(
        ("image",), "number", lambda f, a, note: float(image_of(f.measurement(a[0]), a[0]).cached_steps()[1])
    ),
}


def _value(operand: Operand, facts: Facts, measured: list[str]) -> float | str:
    if isinstance(operand, Literal):
        return operand.value
    function = FUNCTIONS[operand.function]
    value = function.measure(facts, operand.arguments, measured.append)
    if not function.says_itself:
        measured.append(f"{operand} is {_show(operand.kind, value)}")
    if operand.factor != 1.0:
        value = float(value) * operand.factor
        measured.append(f"{operand.factor_text} * {operand} is {_show(operand.kind, value)}")
    return value


def check(claim: Claim, facts: Facts) -> Verdict:
    """Check a parsed claim against the facts; LivedocsError if a fact is missing."""
    measured: list[str] = []
    body = claim.body
    if isinstance(body, BuildFails):
        error = failure_of(facts.measurement(body.image), body.image)
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
