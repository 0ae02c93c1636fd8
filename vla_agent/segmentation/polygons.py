"""Binary masks to instances and polygons, in plain numpy (no scikit-image, no OpenCV).

Polygons follow COCO's continuous coordinates: a vertex ``(x, y)`` is the centre of pixel
``(row=y-0.5, col=x-0.5)``. Only outer boundaries are traced; holes are filled when a polygon is
rasterised again, which is what COCO-style polygon annotations do too.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# 8 neighbours, clockwise on screen (y down), starting west: (drow, dcol)
_DIRS = ((0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1))
_DIR_INDEX = {d: i for i, d in enumerate(_DIRS)}


def _check_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d (H, W) array, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label 8-connected foreground regions.

    Args:
        mask: (H, W) bool.

    Returns:
        labels (H, W) int32 with 0 for background and 1..n per component (in raster order of each
        component's first pixel), and n.
    """
    mask = _check_mask(mask)
    h, w = mask.shape
    if not mask.any():
        return np.zeros((h, w), np.int32), 0
    big = h * w
    lab = np.where(mask, np.arange(big, dtype=np.int64).reshape(h, w), big)
    pad = np.full((h + 2, w + 2), big, np.int64)
    while True:
        pad[1:-1, 1:-1] = lab
        new = lab.copy()
        for dr, dc in _DIRS:
            np.minimum(new, pad[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w], out=new)
        new = np.where(mask, new, big)
        # pointer jumping: a pixel's label is the index of a pixel in the same component
        flat = np.append(new.ravel(), big)
        for _ in range(4):
            new = np.where(mask, flat[new], big)
            flat = np.append(new.ravel(), big)
        if np.array_equal(new, lab):
            break
        lab = new
    roots = np.unique(lab[mask])
    out = np.zeros((h, w), np.int32)
    out[mask] = np.searchsorted(roots, lab[mask]) + 1
    return out, int(len(roots))


def trace_boundary(mask: np.ndarray) -> np.ndarray:
    """Outer boundary of the component holding the first foreground pixel (Moore-neighbour tracing).

    Args:
        mask: (H, W) bool, one 8-connected component expected.

    Returns:
        (P, 2) int array of (row, col) boundary pixels in clockwise order (P >= 1).
    """
    mask = _check_mask(mask)
    if not mask.any():
        raise ValueError("mask: expected at least one foreground pixel, got none")
    m = np.pad(mask, 1)
    rows, cols = np.nonzero(m)
    start = (int(rows[0]), int(cols[0]))  # top-most, then left-most: its west neighbour is background
    pts = [start]
    cur, search = start, 1  # begin the clockwise search just after west
    first_move: tuple[tuple[int, int], int] | None = None
    for _ in range(4 * m.size + 8):
        for k in range(8):
            d = (search + k) % 8
            nr, nc = cur[0] + _DIRS[d][0], cur[1] + _DIRS[d][1]
            if m[nr, nc]:
                break
        else:
            break  # isolated pixel
        nxt = (nr, nc)
        if first_move is None:
            first_move = (cur, d)
        elif (cur, d) == first_move:
            break  # Jacob's criterion: same pixel left in the same direction as at the start
        # the last background pixel checked becomes the backtrack point, seen from nxt
        back = _DIRS[(d - 1) % 8]
        rel = (cur[0] + back[0] - nr, cur[1] + back[1] - nc)
        search = (_DIR_INDEX[rel] + 1) % 8
        cur = nxt
        pts.append(cur)
    if len(pts) > 1 and pts[-1] == pts[0]:
        pts.pop()
    return np.asarray(pts, dtype=np.int64) - 1


def mask_to_polygons(mask: np.ndarray, min_area: int = 1) -> list[np.ndarray]:
    """One outer polygon per 8-connected component.

    Args:
        mask: (H, W) bool.
        min_area: components with fewer pixels are dropped.

    Returns:
        list of (P, 2) float32 arrays of (x, y) vertices in COCO continuous coordinates.
    """
    labels, n = connected_components(mask)
    polys = []
    for i in range(1, n + 1):
        comp = labels == i
        if comp.sum() < min_area:
            continue
        rc = trace_boundary(comp)
        polys.append(np.stack([rc[:, 1] + 0.5, rc[:, 0] + 0.5], axis=1).astype(np.float32))
    return polys


def polygons_to_mask(polygons: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """Rasterise polygons (outline included) into an (H, W) bool mask."""
    img = Image.new("1", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(img)
    for poly in polygons:
        p = np.asarray(poly, dtype=np.float64).reshape(-1, 2) - 0.5
        if len(p) == 0:
            continue
        xy = [(float(x), float(y)) for x, y in p]
        if len(xy) == 1:
            draw.point(xy, fill=1)
        else:
            draw.polygon(xy, fill=1, outline=1)
    return np.array(img, dtype=bool)


def mask_to_box(mask: np.ndarray) -> np.ndarray:
    """Tight xyxy box (float32 (4,)) of a non-empty mask, in pixel-edge coordinates."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float32)


def instances_from_mask(mask: np.ndarray, mode: str = "single", min_area: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Turn a robot mask into instance masks and boxes.

    Args:
        mask: (H, W) bool robot pixels.
        mode: ``"single"`` (the whole robot is one instance) or ``"components"`` (one instance per
            8-connected component of at least ``min_area`` pixels).
        min_area: smallest instance kept, pixels.

    Returns:
        masks (K, H, W) bool and boxes (K, 4) float32 xyxy; K may be 0.
    """
    mask = _check_mask(mask)
    h, w = mask.shape
    if mode == "single":
        comps = [mask] if mask.sum() >= min_area else []
    elif mode == "components":
        labels, n = connected_components(mask)
        comps = [labels == i for i in range(1, n + 1)]
        comps = [c for c in comps if c.sum() >= min_area]
    else:
        raise ValueError(f"mode: expected 'single' or 'components', got {mode!r}")
    if not comps:
        return np.zeros((0, h, w), bool), np.zeros((0, 4), np.float32)
    return np.stack(comps), np.stack([mask_to_box(c) for c in comps])
