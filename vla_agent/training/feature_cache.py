"""On-disk cache of features computed by frozen networks (text encoder, segmentation backbone).

Every entry is one ``.npy`` file named by a sha256 key of *what went in* and *what computed it*:

* input: a frame file's identity (device, inode, size and modification time: cheap, changes when
  the file is rewritten, and shared by the hard links that merged datasets are made of), or a
  sentence's text;
* model: a digest of the network's weights (every tensor's bytes) and of the settings that change
  its output (input size, token count, max text length, ...).

So an epoch reads features instead of recomputing them, a second run on the same data and weights
reuses them, and new weights or a rewritten frame can never be served stale features. Entries are
written to a temporary file and renamed into place, so concurrent writers (DataLoader workers,
torchrun ranks) and kills never leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

CACHE_ENV = "VLA_AGENT_CACHE"
FORMAT_VERSION = 1  # bump when the layout or the meaning of entries changes


def default_cache_dir() -> str:
    """``$VLA_AGENT_CACHE`` or ``~/.cache/vla-agent/features``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vla-agent", "features")


def sha256_of(*parts: Any) -> str:
    """sha256 hex digest of JSON-serialised parts (bytes are hashed as they are)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, (bytes, bytearray, memoryview)):
            h.update(bytes(p))
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """Key of a file's identity: device, inode, size and modification time (nanoseconds).

    Hard links (``merge_datasets`` builds merged datasets from them) and renames share the key, so a
    merged dataset reuses its shards' features; a rewrite (in place, or atomically by rename onto
    the path) changes it.
    """
    st = os.stat(path)
    return sha256_of(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def module_fingerprint(
    modules: torch.nn.Module | Iterable[torch.nn.Module], settings: Mapping[str, Any]
) -> str:
    """Digest of networks' weights and buffers plus the settings that shape their output.

    Args:
        modules: one module or several (e.g. a segmentation model's feature modules).
        settings: JSON-able values that change the features (image size, token count, ...).

    Returns:
        sha256 hex digest.
    """
    if isinstance(modules, torch.nn.Module):
        modules = [modules]
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, **dict(settings)}, sort_keys=True, default=str).encode())
    for m in modules:
        h.update(type(m).__qualname__.encode())
        for name, t in m.state_dict().items():
            t = t.detach().cpu().contiguous()
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
            if t.dtype == torch.bfloat16:
                t = t.float()
            h.update(t.numpy().tobytes())
    return h.hexdigest()


class FeatureStore:
    """A folder of ``<key>.npy`` arrays under ``root/<namespace>/<key[:2]>/``.

    Args:
        root: cache folder (shared by runs).
        namespace: separates what different models computed, e.g. ``"image-<model digest[:16]>"``.
    """

    def __init__(self, root: str | os.PathLike[str], namespace: str) -> None:
        if not namespace or os.sep in namespace:
            raise ValueError(f"namespace: expected a non-empty name without {os.sep!r}, "
                             f"received {namespace!r}")
        self.root = os.path.join(os.fspath(root), namespace)
        os.makedirs(self.root, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> str:
        if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"key: expected a hex digest, received {key!r}")
        return os.path.join(self.root, key[:2], key + ".npy")

    def __contains__(self, key: str) -> bool:
        return os.path.isfile(self.path(key))

    def get(self, key: str) -> np.ndarray | None:
        """The stored array, or ``None`` when absent or unreadable (a damaged entry is recomputed)."""
        path = self.path(key)
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (ValueError, OSError, EOFError):
            self.misses += 1
            return None
        self.hits += 1
        return arr

    def put(self, key: str, array: np.ndarray) -> str:
        """Store an array atomically; returns its path."""
        from vla_agent.utils.atomic import atomic_write

        data = np.ascontiguousarray(array)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, data, allow_pickle=False)

        return atomic_write(self.path(key), write)

    def __len__(self) -> int:
        n = 0
        for _, _, files in os.walk(self.root):
            n += sum(1 for f in files if f.endswith(".npy"))
        return n
