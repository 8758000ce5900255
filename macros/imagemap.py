"""LIVEDOCS_IMAGE_MAP: official base images -> local stand-ins, for offline builds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .errors import LivedocsError
from .files import load_yaml

VARIABLE = "LIVEDOCS_IMAGE_MAP"


def load_image_map(root: Path, value: str) -> dict[str, str]:
    """The map in the file `value` names (relative to `root` or the working folder).

    Empty when `value` is empty; LivedocsError naming the file when it is missing or
    not a mapping of image references.
    """
    if not value.strip():
        return {}
    path = Path(value)
    if not path.is_absolute() and not path.exists():
        path = root / value
    shown = f"{VARIABLE}={value}"
    if not path.is_file():
        raise LivedocsError(f"{shown}: no such file", path=value)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LivedocsError(f"{shown}: not a text file", path=value) from None
    data = load_yaml(text, value, prefix=f"{shown}: ")
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in data.items()
    ):
        raise LivedocsError(
            f"{shown}: expected lines of the form 'official:tag: local/ref:tag'",
            path=value,
        )
    for official, local in data.items():
        if official == local:
            raise LivedocsError(f"{shown}: {official} maps to itself", path=value)
    return dict(data)


def platform_map(value: str, platform: str, root: Path) -> str:
    """The map for images built for `platform`, where one platform's stand-ins are not the
    other's (overlay2 holds one platform per tag): `image-map.linux-arm64.yml` beside
    `image-map.yml`, if there is one; else the map itself (official images hold every platform)."""
    if not value.strip():
        return value
    path = Path(value)
    stem, dot, suffix = path.name.rpartition(".")
    if not dot:
        return value
    candidate = path.with_name(f"{stem}.{platform.replace('/', '-')}.{suffix}")
    found = candidate if candidate.is_absolute() or candidate.exists() else root / candidate
    return str(candidate) if found.is_file() else value


def official_names(text: str, *image_maps: Mapping[str, str]) -> str:
    """`text` (a build's output) with each stand-in named as the reader's Dockerfile names it.

    BuildKit prints a base image fully qualified (`docker.io/standin/alpine:3.19`); the
    reader's build prints `docker.io/library/alpine:3.19` for the official image.
    """
    pairs = {(official, local) for image_map in image_maps for official, local in image_map.items()}
    for official, local in sorted(pairs, key=lambda item: (-len(item[1]), item[1])):
        qualified = official if "/" in official.split(":")[0] else f"library/{official}"
        text = text.replace(f"docker.io/{local}", f"docker.io/{qualified}").replace(local, official)
    return text
