"""The claim language: parsing (pure) and checking against given facts (pure)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from macros.claims import BuildFails, Call, Comparison, Literal, check, parse
from macros.errors import ClaimSyntaxError, LivedocsError
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
        ("step_seconds(x, 'go build') < 10", "cannot compare step_seconds(x, 'go build') (seconds) with 10 (number)"),
    ],
)
def test_malformed_claims_say_what_is_wrong(source: str, message: str) -> None:
    """A malformed claim raises the parser's own error, with a useful message."""
    with pytest.raises(ClaimSyntaxError) as caught:
        parse(source)
    assert message in str(caught.value)


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("size(),<>=!%'/* MBkb90.-_abcxyz\\\"")), max_size=60) | st.text(max_size=40)
)
def test_parser_raises_only_its_own_error(source: str) -> None:
    """Whatever the text, parse() returns a claim or raises ClaimSyntaxError."""
    with contextlib.suppress(ClaimSyntaxError):
        parse(source)


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
