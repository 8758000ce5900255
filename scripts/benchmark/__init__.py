"""Benchmark the site: what measuring costs over replaying the record, and over building
the same Dockerfiles by hand.

One run, on a temporary copy of the site (docs/, examples/ and mkdocs.yml copied, macros/
and overrides/ symlinked), so that the repository's examples/measurements.json is never rewritten and
nothing is built into site/:

  replay build       LIVEDOCS_ENGINE=replay mkdocs build: no engine work; the baseline
  warm live build    LIVEDOCS_ENGINE=live on the listed engines (LIVEDOCS_ENGINES, else the
                     ones `make engine` started, as a site build finds them), every image
                     current; target <= 1.15 x replay
  cold, one store    a site build measuring on a fresh overlay2 engine (LIVEDOCS_ENGINE=auto,
                     as `make site`: the containerd figures come from the record); target
                     <= 1.0 x the reader's own `docker buildx build --progress=plain` of the
                     same Dockerfiles (FROM mapped as the site maps it, same tags, `after:`
                     order), one after another, on another fresh overlay2 engine
  cold, both stores  a site build measuring on a fresh overlay2 and a fresh containerd-store
                     engine at once; target <= 1.0 x the same builds by hand on a fresh
                     engine of each store, one store after the other
  cold, both         a site build measuring both platforms (LIVEDOCS_PLATFORMS=linux/amd64,
  platforms          linux/arm64) on a fresh containerd-store engine; target <= 1.0 x the
                     builds by hand on another: each image as in the other rows, then the
                     same Dockerfile again for arm64 as the site's arm64 view builds it
                     (`--platform linux/arm64`, FROM mapped with the arm64 map, tagged as
                     the site tags it, `NAME:VERSION-linux-arm64`; not at all for an image
                     whose `machine:` is amd64), in `after:` order. Only on request (--cold
                     both_platforms), not in a default run: most of the chapters' ~30
                     images run a Go build, and for arm64 each runs emulated (about 150 s
                     on 2 cores), so one round of it takes more than an hour.
  serve              under `mkdocs serve` on the listed engines: prose edit -> page shows it;
                     example edit -> page shows the changed figure (and the log says the
                     rebuild ended); container events during the prose edit (target 0)
  peak memory        max RSS of a replay build, with and without the macros module

The builds by hand are what the reader types for each image: `--platform` with its
`platforms:` (two: a multi-platform build), FROM lines mapped as the site maps them (an
image built for one other platform takes that platform's stand-ins, tests/standins/
image-map.linux-arm64.yml, and its `FROM --platform=$BUILDPLATFORM` stages the machine's),
each build expected to fail or succeed as declared for the engine's image store
(`expect: {overlay2: failure, containerd: success}`), and an image whose `machine:` is
another platform than the one measured not built at all (as the site does not measure it).

Cold is cold on both sides, and the engines a contributor uses are never pruned: each cold
pair starts dockerds of its own (one per side and store, each with an empty data root, so
no images and an empty BuildKit cache), puts the offline stand-ins into each with
scripts/standins.sh (not timed), checks that each holds nothing else, times the two sides
one after the other, each on its own engines, then stops the engines and removes all they
had (processes, mounts, folder, bridge), on Ctrl-C and SIGTERM too. That needs root and a
dockerd on PATH (`make bench` has both); without them the cold rows are skipped, and the
output says why. Where a row builds for linux/arm64 (an image's `platforms:`, or
both_platforms), the stand-ins put in are the arm64 ones too
(LIVEDOCS_STANDIN_PLATFORMS=native,linux/arm64: the engines must emulate arm64, as `make
engine` has QEMU registered); else the machine's own only.

Every timing is wall-clock, taken in --repeat rounds (default 3). A round times a baseline
and what is compared with it back to back (a replay build, then a warm live build; the
builds by hand, then the site's, or the other way round: the cold pairs alternate which
side goes first), so each round has a ratio of its own; a ratio is the median of the
rounds' ratios, and so is its verdict: other work on the machine during one round moves
that round's ratio, not the others'. The table gives each median, its ratio, the target
and whether it is met, and the previous bench/latest.json beside them; the results go to
bench/results-<timestamp>.json and bench/latest.json. A missed target is reported in the
table, not by the exit status: the exit status is non-zero only when the benchmark itself
could not run.

    .venv/bin/python scripts/bench.py [--repeat N] [--quick] [--cold ROWS] [--results-dir DIR] [--profile]

--quick: the replay, warm, memory and cold one-store rows only (no serve, no cold pair on
both stores). --cold one_store,both_stores,both_platforms (or none) chooses the cold pairs to
time; without it a run times one_store and both_stores (--quick: one_store). A cold round on
both stores takes about 20 minutes on 2 cores (more once a chapter builds for arm64: its
emulated build is made on each engine of each side).

The modules: `config` (paths, targets, rows), `site` (the copy of the site and its builds),
`samples` (the rounds' values and their verdicts), `builds` (replay and warm rounds, the
profile), `cold` (the cold pairs on throwaway engines), `serve` (edit-to-reload under
`mkdocs serve`), `report` (the table, the notes, the JSON files), `cli` (the command line).
Engines, child processes and mkdocs runs are the harness's (scripts/harness/), which the
tests use too.
"""
