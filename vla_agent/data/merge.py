"""Merge CALVIN-format datasets (e.g. shards recorded by parallel ``generate-data`` processes) into one.

Frames are renumbered: source ``k``'s global frame ids are shifted by the number of ids used by
sources ``0 .. k-1`` (training and validation share one id space, as in CALVIN). Frame files are
hard-linked when source and destination share a file system (copied otherwise), so merging costs
no disk space and no decompression. Segments, language windows, ``scene_info.npy`` and the
validation ``embeddings.npy`` are shifted and concatenated; ``statistics.yaml`` is pooled exactly
from the sources' per-split means and standard deviations, weighted by their frame counts.

Every auxiliary file is written atomically and the frames first, so a killed merge is redone by
running it again (the destination must be empty or hold an earlier attempt of the same merge).
A merge can be extended: merging the same sources followed by new ones into the same folder adds
the new frames after the old, whose ids and files do not change.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vla_agent.data.format import (
    EP_LENS,
    EP_START_END_IDS,
    LANG_ANN,
    LANG_DIR,
    SCENE_INFO,
    SPLITS,
    STATISTICS,
    VAL_EMBEDDINGS,
    frame_path,
    read_lang_annotations,
    read_scene_info,
    read_segments,
    read_val_embeddings,
    save_npy_atomic,
    write_bytes_atomic,
)
from vla_agent.data.statistics import DatasetStatistics, load_statistics

MERGE_FILE = "merge.json"


def _pooled(means: Sequence[np.ndarray], stds: Sequence[np.ndarray], counts: Sequence[int]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the union of groups given each group's (D,) mean, std and size."""
    n = np.asarray(counts, dtype=np.float64)[:, None]  # (K, 1)
    mu = np.stack(means).astype(np.float64)  # (K, D)
    sd = np.stack(stds).astype(np.float64)
    mean = (n * mu).sum(0) / n.sum()
    var = (n * (sd**2 + mu**2)).sum(0) / n.sum() - mean**2
    return mean.astype(np.float32), np.sqrt(np.maximum(var, 0.0)).astype(np.float32)


def pool_statistics(stats: Sequence[DatasetStatistics], counts: Sequence[int]) -> DatasetStatistics:
    """Exact statistics of the union of splits (``counts``: frames per split)."""
    if not stats or len(stats) != len(counts):
        raise ValueError(f"stats/counts: expected equal non-zero lengths, received {len(stats)} and {len(counts)}")
    rm, rs = _pooled([s.robot_obs_mean for s in stats], [s.robot_obs_std for s in stats], counts)
    sm, ss = _pooled([s.scene_obs_mean for s in stats], [s.scene_obs_std for s in stats], counts)
    lo = np.min(np.stack([s.act_min_bound for s in stats]), axis=0)
    hi = np.max(np.stack([s.act_max_bound for s in stats]), axis=0)
    return DatasetStatistics(rm, rs, sm, ss, lo.astype(np.float32), hi.astype(np.float32))


def _id_span(root: Path) -> int:
    """Number of global frame ids a dataset uses (last id + 1 over its splits)."""
    last = -1
    for s in SPLITS:
        if (root / s / EP_START_END_IDS).is_file():
            last = max(last, int(read_segments(root / s)[:, 1].max()))
    if last < 0:
        raise ValueError(f"sources: expected a CALVIN dataset with training/ or validation/, received {root}")
    return last + 1


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        if dst.stat().st_size == src.stat().st_size:
            return  # an earlier attempt of this merge placed it
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def merge_datasets(sources: Sequence[str | os.PathLike], out: str | os.PathLike, progress: bool = True
                   ) -> dict[str, Any]:
    """Merge CALVIN-format datasets into ``out`` (see the module docstring).

    Args:
        sources: dataset roots, each holding ``training/`` and/or ``validation/``; order is kept.
        out: destination root (created; must not hold another merge).

    Returns:
        The summary also written to ``<out>/merge.json``: sources, id offsets, frames and windows per split.
    """
    roots = [Path(s) for s in sources]
    if not roots:
        raise ValueError("sources: expected at least one dataset, received none")
    out = Path(out)
    if any(r.resolve() == out.resolve() for r in roots):
        raise ValueError(f"out: expected a folder other than the sources, received {out}")
    spans = [_id_span(r) for r in roots]
    offsets = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64).tolist()
    summary: dict[str, Any] = {"sources": [str(r) for r in roots], "offsets": offsets, "splits": {}}
    marker = out / MERGE_FILE
    if marker.is_file():
        before = json.loads(marker.read_text())["sources"]
        # the same sources again (a resumed merge) or more sources after them (an extended dataset:
        # earlier frames keep their ids and files, so caches keyed by them stay valid)
        if summary["sources"][: len(before)] != before:
            raise ValueError(f"out: {out} holds a merge of other sources ({before}); choose an empty "
                             f"folder or list those sources first")

    for split in SPLITS:
        present = [(r, o) for r, o in zip(roots, offsets, strict=True) if (r / split / EP_START_END_IDS).is_file()]
        if not present:
            continue
        dst = out / split
        (dst / LANG_DIR).mkdir(parents=True, exist_ok=True)
        segments, anns, tasks, embs, indx = [], [], [], [], []
        stats, counts = [], []
        scene_info: dict[str, list[int]] = {}
        val_emb: dict[str, Any] = {}
        seg_lists = [read_segments(r / split) for r, _ in present]
        total = sum(int((g[:, 1] - g[:, 0] + 1).sum()) for g in seg_lists)
        with tqdm(total=total, desc=f"merge {split}", unit="frame", disable=not progress) as bar:
            for (root, off), segs in zip(present, seg_lists, strict=True):
                src = root / split
                for s, e in segs.tolist():
                    for i in range(s, e + 1):
                        _link(frame_path(src, i), frame_path(dst, i + off))
                    bar.update(e - s + 1)
                segments.append(segs + off)
                lang = read_lang_annotations(src)
                anns += lang.ann
                tasks += lang.task
                embs.append(lang.emb)
                indx.append(lang.indx + off)
                stats.append(load_statistics(src / STATISTICS))
                counts.append(int((segs[:, 1] - segs[:, 0] + 1).sum()))
                info = read_scene_info(src) if (src / SCENE_INFO).is_file() else None
                for name, (a, b) in (info or {}).items():
                    lo, hi = scene_info.get(name, [a + off, b + off])
                    scene_info[name] = [min(lo, a + off), max(hi, b + off)]
                if (src / LANG_DIR / VAL_EMBEDDINGS).is_file():
                    val_emb.update(read_val_embeddings(src))
        ids = np.concatenate(segments)
        save_npy_atomic(dst / EP_START_END_IDS, ids)
        save_npy_atomic(dst / EP_LENS, ids[:, 1] - ids[:, 0] + 1)
        emb = np.concatenate(embs).astype(np.float32)
        save_npy_atomic(dst / LANG_DIR / LANG_ANN, {
            "language": {"ann": anns, "task": tasks, "emb": emb.reshape(len(anns), 1, -1)},
            "info": {"indx": [tuple(map(int, p)) for p in np.concatenate(indx)], "episodes": []},
        })
        if scene_info:
            save_npy_atomic(dst / SCENE_INFO, scene_info)
        if val_emb:
            save_npy_atomic(dst / LANG_DIR / VAL_EMBEDDINGS, val_emb)
        pool_statistics(stats, counts).save(dst / STATISTICS)
        summary["splits"][split] = {"frames": int(sum(counts)), "windows": len(anns)}
    write_bytes_atomic(marker, json.dumps(summary, indent=1).encode("utf-8"))
    return summary
