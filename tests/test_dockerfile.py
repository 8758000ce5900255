"""Dockerfile instructions, base images and FROM rewriting (pure functions)."""

from __future__ import annotations

from macros.dockerfile import base_images, instructions, rewrite_images

DOCKERFILE = """\
# syntax comment
FROM golang:1.21-alpine3.19 AS builder
WORKDIR /app
RUN go build \\
    -o myapp .

FROM alpine:3.19
COPY --from=builder /app/myapp .
CMD ["./myapp"]
"""

MAP = {"golang:1.21-alpine3.19": "standin/golang:1.21-alpine3.19", "alpine:3.19": "standin/alpine:3.19"}


def test_instructions_keep_their_first_line() -> None:
    steps = instructions(DOCKERFILE)
    assert [(s.line, s.keyword) for s in steps] == [
        (2, "FROM"),
        (3, "WORKDIR"),
        (4, "RUN"),
        (7, "FROM"),
        (8, "COPY"),
        (9, "CMD"),
    ]
    assert steps[2].arguments == "go build -o myapp ."


def test_base_images_leave_out_stages_and_scratch() -> None:
    text = DOCKERFILE + "FROM scratch\nCOPY --from=builder /app/myapp /\n"
    assert [(b.line, b.ref) for b in base_images(text)] == [(2, "golang:1.21-alpine3.19"), (7, "alpine:3.19")]


def test_rewrite_changes_only_mapped_from_lines_and_keeps_line_numbers() -> None:
    rewritten = rewrite_images(DOCKERFILE, MAP)
    assert rewritten.count("\n") == DOCKERFILE.count("\n")
    lines = rewritten.splitlines()
    assert lines[1] == "FROM standin/golang:1.21-alpine3.19 AS builder"
    assert lines[6] == "FROM standin/alpine:3.19"
    assert lines[7] == "COPY --from=builder /app/myapp ."
    assert rewrite_images(DOCKERFILE, {}) == DOCKERFILE


def test_rewrite_maps_copy_from_an_image() -> None:
    text = "FROM scratch\nCOPY --from=alpine:3.19 /etc/passwd /etc/passwd\n"
    assert rewrite_images(text, MAP).splitlines()[1] == "COPY --from=standin/alpine:3.19 /etc/passwd /etc/passwd"
