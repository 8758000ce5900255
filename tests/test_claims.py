"""The claim language: parsing (pure) and checking against given facts (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from macros.claims import FUNCTIONS, BuildFails, Call, Claim, Comparison, Literal, check, parse
from macros.errors import ClaimSyntaxError, LivedocsError
from macros.measurement import NotMeasuredHere, context_bytes_of
from tests.fakes import chapter_facts


def test_parses_a_size_bound() -> None:
    """`size(x) < 30MB` is a comparison of a call with bytes."""
    claim = parse("size(go-app-multi) < 30MB")
    assert claim.body == Comparison(Call("size", ("go-app-multi",)), "<", Literal(30_000_000.0, "bytes", "30MB"))


def test_parses_a_failing_build() -> None:
    claim = parse("build(typo-stage) fails with /invalid from flag value|failed to resolve/")
    assert claim.body == BuildFails("typo-stage", "invalid from flag value|failed to resolve")
    assert claim.images() == ["typo-stage"]


@pytest.mark.parametrize(
    ("source", "holds"),
    [
        ("size(go-app-multi) < 30MB", True),
        ("size(go-app-multi) < 8MB", False),
        ("size(go-app-single) > 100MB", True),
        ("reduction(go-app-single, go-app-multi) > 90%", True),
        ("reduction(go-app-single, go-app-multi) > 99%", False),
        ("ratio(go-app-single, go-app-multi) >= 10", True),
        ("size(go-app-scratch) < size(go-app-multi)", True),
        ("size(go-app-multi) < size(go-app-scratch)", False),
        ("status(go-app-static, '/app') == 404", True),
        ("status(go-app-static, '/') == 404", False),
        ("body(go-app-static, '/') contains 'Welcome'", True),
        ("body(go-app-static, '/') contains 'Goodbye'", False),
        ("body(go-app-static, '/') matches /<h1>W\\w+<\\/h1>/", True),
        ("cached_steps(deps-first-edited) > cached_steps(copy-all-edited)", True),
        ("layers(go-app-multi) == 3", True),
        ("layer_size(go-app-single, 'layer 1') > 5 * layer_size(go-app-multi, 'layer 1')", True),
        ("layer_size(go-app-single, 'layer 1') > 50 * layer_size(go-app-multi, 'layer 1')", False),
        ("size(go-app-scratch) < 0.8 * size(go-app-multi)", True),
        ("step_seconds(deps-first-edited, 'step 6') < 0.5 * step_seconds(copy-all-edited, 'step 6')", True),
        ("step_seconds(copy-all-edited, 'step 6') < 0.5 * step_seconds(deps-first-edited, 'step 6')", False),
        ("uid(go-app-scratch) != 0", True),
        ("uid(go-app-scratch) == 65532", True),
        ("uid(go-app-multi) != 0", False),
        ("uid(go-app-multi) == 0", True),
        ("context_size(go-app-multi) < 3kB", True),
        ("context_size(go-app-multi) < 2kB", False),
        ("size(go-app-scratch) < 0.7 * size(go-app-multi)", False),
        ("build(typo-stage) fails with /invalid from flag value|failed to resolve source metadata/", True),
        ("build(typo-stage) fails with /no such file or directory/", False),
    ],
)
def test_checks_claims_against_facts(source: str, holds: bool) -> None:
    """True claims hold, false ones do not, and the verdict says what was measured."""
    verdict = check(parse(source), chapter_facts())
    assert verdict.holds is holds
    assert verdict.measured, "a verdict always reports the measured values"


def test_false_claim_summary_names_the_measured_value() -> None:
    verdict = check(parse("size(go-app-multi) < 8MB"), chapter_facts())
    assert verdict.summary() == 'claim "size(go-app-multi) < 8MB" is false: size(go-app-multi) is 8.7MB'


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "empty"),
        ("size(go-app-multi) < 30", "sizes take a unit"),
        ("size(go-app-multi) <", "ends where a value was expected"),
        ("size(go-app-multi < 30MB", "expected ')'"),
        ("weight(go-app-multi) < 30MB", "unknown quantity 'weight'"),
        ("size(go-app-multi) < 30MB and more", "after a complete claim"),
        ("size(go-app-multi) contains 'x'", "'contains' compares"),
        ("body(x, '/') < 3", "cannot compare"),
        ("build(x) fails with /(unclosed/", "bad pattern"),
        ("__import__('os').system('true')", "unexpected"),
        ("status(x, 200) == 200", "a quoted path such as '/'"),
        ("status(x, /) == 200", "unexpected '/' at column 11"),
        ("size(x) < 2 * 3MB", "a factor (2 *) multiplies a measured quantity"),
        ("size(x) < 2 * 3 * size(y)", "a factor (2 *) multiplies a measured quantity"),
        ("layer_size(x, 7) > 1MB", "a quoted text such as 'go build'"),
        ("uid(x) != root", "unknown quantity 'root'"),
        ("uid(x) < 1MB", "cannot compare uid(x) (number) with 1MB (bytes)"),
        ("step_seconds(x, 'go build') < 10", "cannot compare step_seconds(x, 'go build') (seconds) with 10 (number)"),
    ],
)
def test_malformed_claims_say_what_is_wrong(source: str, message: str) -> None:
    """A malformed claim raises the parser's own error, with a useful message."""
    with pytest.raises(ClaimSyntaxError) as caught:
        parse(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("body(x, '/') < 'two\nlines'", 14),
        ("body(x, '/') contains /two\nlines/", 14),
        ("build(x) fails with /two\nlines(/", 31),  # the unclosed '(', where re stops
    ],
)
def test_a_malformed_claims_message_is_one_line_whatever_it_quotes(source: str, column: int) -> None:
    """A page's build log shows the message as one line: a line break the claim quotes is escaped."""
    with pytest.raises(ClaimSyntaxError) as caught:
        parse(source)
    assert caught.value.column == column
    assert len(str(caught.value).splitlines()) == 1, str(caught.value)
    assert "two\\nlines" in str(caught.value)


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("size(),<>=!%'/* MBkb90.-_abcxyz\\\"")), max_size=60) | st.text(max_size=40)
)
def test_parser_raises_only_its_own_error(source: str) -> None:
    """Whatever the text, parse() returns a claim of that text, or raises ClaimSyntaxError (any other
    exception is a bug in the parser, and fails here) whose one-line message names the column where
    the claim goes wrong: a column of the claim, or the one just past its end."""
    try:
        claim = parse(source)
    except ClaimSyntaxError as error:
        assert error.column is not None and 1 <= error.column <= len(source) + 1, (error.column, error.message)
        assert len(str(error).splitlines()) == 1, error.message
        if source.strip():
            assert f"column {error.column}" in error.message
        else:
            assert error.message == "the claim is empty"
    else:
        assert claim.source == source
        assert all(image in source for image in claim.images())


# -- valid claims, generated with the tree they must parse into ---------------------

IMAGES = st.from_regex(r"[a-z][a-z0-9-]{0,12}[a-z0-9]", fullmatch=True)
PATTERNS = st.lists(st.sampled_from(["a", "go", " ", ".", r"\d", r"\/", "x+", "|"]), min_size=1, max_size=6).map(
    "".join
)
NUMBERS = st.builds(
    lambda whole, part: whole if part is None else f"{whole}.{part}",
    st.integers(0, 99_999).map(str),
    st.none() | st.from_regex(r"[0-9]{1,3}", fullmatch=True),
)
SCALE = {"B": 1, "kB": 1000, "KB": 1000, "MB": 10**6, "GB": 10**9}  # as the docs define the units


@st.composite
def valid_claims(draw: st.DrawFn) -> tuple[str, Comparison | BuildFails]:
    """The text of a valid claim, spaced in any valid way, and the tree it stands for."""

    def gap() -> str:  # where the grammar needs no space
        return draw(st.sampled_from(["", " ", "  ", "\t"]))

    def space() -> str:  # after a word, before a word or a /pattern/
        return draw(st.sampled_from([" ", "  ", "\t"]))

    def quoted(text: str) -> str:
        quote = draw(st.sampled_from(["'", '"']))
        return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote

    def call(kind: str, factor: bool) -> tuple[str, Call]:
        function = draw(st.sampled_from([name for name, f in FUNCTIONS.items() if f.kind == kind]))
        texts, arguments = [], []
        for argument_kind in FUNCTIONS[function].arguments:
            value = draw(IMAGES if argument_kind == "image" else st.text(max_size=12))
            texts.append(value if argument_kind == "image" else quoted(value))
            arguments.append(value)
        text = f"{function}{gap()}({gap()}" + f"{gap()},{gap()}".join(texts) + f"{gap()})"
        if factor and kind != "text" and draw(st.booleans()):
            number = draw(NUMBERS)
            return f"{number}{gap()}*{gap()}{text}", Call(function, tuple(arguments), float(number), number)
        return text, Call(function, tuple(arguments))

    def literal(kind: str) -> tuple[str, Literal]:
        if kind == "text":
            value = draw(st.text(max_size=12))
            text = quoted(value)
            return text, Literal(value, "text", text)
        if kind == "pattern":
            pattern = draw(PATTERNS)
            return f"/{pattern}/", Literal(pattern, "pattern", f"/{pattern}/")
        number = draw(NUMBERS)
        if kind == "bytes":
            unit = draw(st.sampled_from(sorted(SCALE)))
            return number + unit, Literal(float(number) * SCALE[unit], "bytes", number + unit)
        if kind == "percent":
            return number + "%", Literal(float(number), "percent", number + "%")
        return number, Literal(float(number), "number", number)

    if draw(st.integers(0, 4)) == 0:
        image, pattern = draw(IMAGES), draw(PATTERNS)
        text = f"{gap()}build{gap()}({gap()}{image}{gap()}){gap()}fails{space()}with{space()}/{pattern}/{gap()}"
        return text, BuildFails(image, pattern)
    kind = draw(st.sampled_from(sorted({f.kind for f in FUNCTIONS.values()})))
    left_text, left = call(kind, factor=True)
    if kind == "text":
        operator = draw(st.sampled_from(["contains", "matches", "==", "!="]))
        if operator in ("contains", "matches"):
            right_text, right = literal("text" if operator == "contains" else "pattern")
            return f"{gap()}{left_text}{gap()}{operator}{space()}{right_text}{gap()}", Comparison(left, operator, right)
        right_text, right = draw(st.sampled_from([literal, lambda kind: call(kind, factor=False)]))(kind)
    else:
        operator = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        quantity = kind == "seconds" or draw(st.booleans())  # a duration is compared with a duration only
        right_text, right = call(kind, factor=True) if quantity else literal(kind)
        if draw(st.booleans()):  # either side may come first
            (left_text, left), (right_text, right) = (right_text, right), (left_text, left)
    return f"{gap()}{left_text}{gap()}{operator}{gap()}{right_text}{gap()}", Comparison(left, operator, right)


@settings(max_examples=400, deadline=None)
@given(valid_claims())
def test_a_valid_claim_parses_into_the_tree_it_was_written_from(written: tuple[str, Comparison | BuildFails]) -> None:
    """Every quantity, every comparison, factors, units, both quotes and escapes, any spacing:
    the text parses into exactly the tree it was generated from, the claim's text kept as written."""
    source, body = written
    assert parse(source) == Claim(source, body)


def test_a_factor_reads_as_written_in_the_verdict() -> None:
    verdict = check(parse("size(go-app-scratch) < 0.8 * size(go-app-multi)"), chapter_facts())
    assert verdict.summary() == (
        'claim "size(go-app-scratch) < 0.8 * size(go-app-multi)" holds: size(go-app-scratch) is 6.5MB;'
        " size(go-app-multi) is 8.7MB; 0.8 * size(go-app-multi) is 6.96MB"
    )


def test_an_unknown_layer_says_so() -> None:
    with pytest.raises(LivedocsError, match="no layer of go-app-multi was created by anything containing 'nope'"):
        check(parse("layer_size(go-app-multi, 'nope') > 1B"), chapter_facts())


def test_a_duration_claim_says_both_durations() -> None:
    claim = "step_seconds(deps-first-edited, 'step 6') < 0.5 * step_seconds(copy-all-edited, 'step 6')"
    verdict = check(parse(claim), chapter_facts())
    assert verdict.measured == [
        "step_seconds(deps-first-edited, 'step 6') is 0.5s",
        "step_seconds(copy-all-edited, 'step 6') is 17.2s",
        "0.5 * step_seconds(copy-all-edited, 'step 6') is 8.6s",
    ]


def test_a_context_size_not_recorded_is_not_measured_on_that_store() -> None:
    """No build context transfer recorded (BuildKit reports it): the claim skips the store, as the
    context_size macro does, with the same message; no other store is named as having it."""
    facts = chapter_facts()
    facts.measurements["go-app-multi"] = replace(facts.measurements["go-app-multi"], context_bytes=None)
    with pytest.raises(NotMeasuredHere, match=r"^no build context transfer is recorded for go-app-multi on overlay2$"):
        check(parse("context_size(go-app-multi) < 3kB"), facts)
    with pytest.raises(NotMeasuredHere) as raised:
        context_bytes_of(facts.measurements["go-app-multi"], "go-app-multi", "overlay2")
    assert raised.value.measured_on is None


def test_a_uid_claim_names_the_uid_measured() -> None:
    """A false `uid` claim says which uid the container's process ran as."""
    verdict = check(parse("uid(go-app-multi) != 0"), chapter_facts())
    assert verdict.summary() == 'claim "uid(go-app-multi) != 0" is false: uid(go-app-multi) is 0'


def test_a_uid_no_run_check_recorded_is_an_error_not_a_verdict() -> None:
    """An image whose container never ran has no uid: the claim cannot be checked."""
    with pytest.raises(LivedocsError, match="no recorded process uid of go-app-single"):
        check(parse("uid(go-app-single) != 0"), chapter_facts())
