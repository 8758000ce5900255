"""What an image's layers hold, read from the archive `docker save` writes.

`docker save` writes a tar whose `manifest.json` lists the image's layers, oldest first, each
a tar of the files that layer adds or changes (gzip-compressed on the containerd image store).
A file a later layer deletes is still in the layer that added it: whoever pulls the image can
read it there, which is what `layers_holding` counts.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Mapping
from typing import IO


def layers_holding(archive: IO[bytes], needles: Mapping[str, bytes]) -> dict[str, int]:
    """For each needle (by name), how many of the image's layers hold a file containing its bytes."""
    wanted = {name: needle for name, needle in needles.items() if needle}
    counts = dict.fromkeys(needles, 0)
    with tarfile.open(fileobj=archive, mode="r:") as image:
        manifest = image.extractfile("manifest.json")
        if manifest is None:
            raise ValueError("the image archive has no manifest.json")
        entries = json.load(manifest)
        for layer_path in entries[0]["Layers"]:
            layer_file = image.extractfile(layer_path)
            if layer_file is None:
                continue
            found = _found_in_layer(layer_file, wanted)
            for name in found:
                counts[name] += 1
    return counts


def _found_in_layer(layer_file: IO[bytes], needles: Mapping[str, bytes]) -> set[str]:
    found: set[str] = set()
    with tarfile.open(fileobj=layer_file, mode="r:*") as layer:  # plain or gzip, as the store keeps it
        for member in layer:
            if not member.isfile() or len(found) == len(needles):
                continue
            stream = layer.extractfile(member)
            data = stream.read() if stream is not None else b""
            found |= {name for name, needle in needles.items() if needle in data}
    return found
