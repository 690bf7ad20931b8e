"""Default shared context features of an image, computed once per input.

Every learned sub-policy of one program reads the same vector, so it is computed once per
input and must be cheap (well under 1 ms for a 256x256 image on one CPU core) while still
telling apart the visual regimes in which a cheap backend fails: colour layout, colour
distribution, texture/edge density and a fixed bank of random convolution filters (a
seeded, never-trained "random features" probe of local structure). numpy only.

All blocks are scaled so that their entries are O(1) on natural images; the learned
routers rely on that instead of normalising inputs online (which would shift the
gradient statistics behind Thompson sampling).
"""

from __future__ import annotations

import math

import numpy as np

#: Working resolution: images are area-resampled to WORK x WORK before anything else.
WORK = 64
_GRID = 4  # colour layout and edge density are pooled over a GRID x GRID grid
_HIST_BITS = 2  # joint RGB histogram with 2**bits levels per channel -> 64 bins
_N_FILTERS = 32
_FILTER = 4
_FILTER_SEED = 20250401  # fixed: the features must not depend on any policy's seed
_EDGE_THRESHOLDS = (0.02, 0.05, 0.1, 0.2)
_THRESH = np.array(_EDGE_THRESHOLDS, dtype=np.float32)
_ORIENT_BINS = 4
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

#: Length of the vector `image_features` returns.
FEATURE_DIM = (
    _GRID * _GRID * 3  # colour layout
    + 2 ** (3 * _HIST_BITS)  # joint colour histogram
    + 4  # global luma / saturation statistics
    + _GRID * _GRID  # edge magnitude layout
    + _ORIENT_BINS  # gradient orientation histogram
    + len(_EDGE_THRESHOLDS)  # edge densities
    + _N_FILTERS  # random convolution responses
)


def _make_filters() -> np.ndarray:
    """Zero-mean, unit-norm random FxFx3 filters as an (F*F*3, N) matrix (fixed seed)."""
    rng = np.random.default_rng(_FILTER_SEED)
    w = rng.standard_normal((_FILTER * _FILTER * 3, _N_FILTERS))
    w -= w.mean(axis=0, keepdims=True)  # zero mean: respond to structure, not brightness
    w /= np.linalg.norm(w, axis=0, keepdims=True)
    return w.astype(np.float32)


_FILTERS = _make_filters()


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        got = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image must be a uint8 numpy array, got {got}")
    if image.ndim == 2:
        return image[:, :, None].repeat(3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[:, :, :3]
    raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")


# (6, 3) matrix that averages two horizontally adjacent RGB pixels: column halving as one
# BLAS call, because strided numpy ops over a 3-channel axis are several times slower
_PAIR = (np.vstack([np.eye(3), np.eye(3)]) * 0.25).astype(np.float32)


def _resample(rgb: np.ndarray) -> np.ndarray:
    """Area-like resampling to channel-first (3, WORK, WORK) floats in [0, 1].

    Samples a 2*WORK square grid of pixels (nearest), then averages 2x2 blocks.
    """
    h, w = rgb.shape[:2]
    if min(h, w) < 1:
        raise ValueError(f"image must be non-empty, got shape {rgb.shape}")
    rows = (np.arange(2 * WORK) * h) // (2 * WORK)
    cols = (np.arange(2 * WORK) * w) // (2 * WORK)
    small = rgb.take(rows, axis=0).take(cols, axis=1).astype(np.float32)
    pairs = small.reshape(WORK, 2, 2 * WORK * 3)
    summed = (pairs[:, 0] + pairs[:, 1]).reshape(WORK * WORK, 6)  # row pairs summed
    planes = np.dot(_PAIR.T, summed.T)  # (3, WORK*WORK): column pairs averaged
    return planes.reshape(3, WORK, WORK) * np.float32(1.0 / 255.0)


# (GRID, WORK) averaging matrix: pooling by matmul beats reshape-and-mean in numpy
_POOL = np.kron(np.eye(_GRID), np.full((1, WORK // _GRID), _GRID / WORK)).astype(np.float32)


def _grid_mean(a: np.ndarray) -> np.ndarray:
    """Means over a GRID x GRID grid of cells of (WORK, WORK) planes (leading axes kept)."""
    return _POOL @ a @ _POOL.T


def _mean_std(a: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation through one dot product (np.std is 3x slower here)."""
    flat = a.ravel()
    mean = float(flat.mean())
    return mean, math.sqrt(max(float(flat @ flat) / flat.size - mean * mean, 0.0))


_TAN_22_5 = np.float32(np.tan(np.pi / 8))


def _orientation_histogram(gx: np.ndarray, gy: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """Magnitude-weighted histogram of 4 edge orientations (modulo pi), centred on 0.

    Bins by comparisons instead of arctan2 (3x cheaper): horizontal gradient, diagonal
    "/", vertical gradient, diagonal "\\".
    """
    ax, ay = np.abs(gx), np.abs(gy)
    diag = np.where(gx * gy > 0, 1, 3)
    code = np.where(ay <= _TAN_22_5 * ax, 0, np.where(ax <= _TAN_22_5 * ay, 2, diag))
    orient = np.bincount(code.ravel(), weights=mag.ravel(), minlength=_ORIENT_BINS)
    return (orient / (orient.sum() + 1e-6) * _ORIENT_BINS - 1.0).astype(np.float32)


def image_features(image: np.ndarray) -> np.ndarray:
    """The shared context vector (float32, length FEATURE_DIM) of one image.

    `image` is (H, W, 3) uint8 RGB as the backends take it ((H, W) and RGBA also work).
    Deterministic: the same image always gives the same vector.
    """
    x = _resample(_as_rgb(image))  # (3, 64, 64) in [0, 1]
    r, g, b = x
    gray = _LUMA @ x.reshape(3, -1)
    gray = gray.reshape(WORK, WORK)

    layout = (_grid_mean(x).ravel() - 0.5) * 2.0

    q = np.minimum((x * (1 << _HIST_BITS)).astype(np.int32), (1 << _HIST_BITS) - 1)
    codes = (q[0] << (2 * _HIST_BITS)) | (q[1] << _HIST_BITS) | q[2]
    hist = np.bincount(codes.ravel(), minlength=2 ** (3 * _HIST_BITS)).astype(np.float32)
    # sqrt (Hellinger) keeps small bins visible; x4 puts a uniform histogram at 0.5
    hist = np.sqrt(hist / codes.size) * 4.0

    sat = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    g_mean, g_std = _mean_std(gray)
    s_mean, s_std = _mean_std(sat)
    stats = np.array(
        [(g_mean - 0.5) * 2.0, g_std * 4.0, s_mean * 2.0, s_std * 4.0], dtype=np.float32
    )

    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, 1:-1] = gray[:, 2:] - gray[:, :-2]
    gy[1:-1, :] = gray[2:, :] - gray[:-2, :]
    mag = np.sqrt(gx * gx + gy * gy)
    edge_layout = _grid_mean(mag).ravel() * 8.0
    orient = _orientation_histogram(gx, gy, mag)
    density = np.array([np.count_nonzero(mag > t) for t in _THRESH], dtype=np.float32)
    density *= 2.0 / mag.size

    # non-overlapping FxF patches: a stride-F random conv, a reshape instead of an im2col
    f = _FILTER
    patches = x.reshape(3, WORK // f, f, WORK // f, f).transpose(1, 3, 0, 2, 4)
    patches = patches.reshape(-1, 3 * f * f)
    conv = np.maximum(patches @ _FILTERS, 0.0).mean(axis=0) * 8.0

    out = np.concatenate([layout, hist, stats, edge_layout, orient, density, conv])
    return out.astype(np.float32, copy=False)


def as_context(x: np.ndarray, dim: int = FEATURE_DIM) -> np.ndarray:
    """A policy's context from what the runtime hands `begin`: an image or a vector.

    Images ((H, W) or (H, W, C) uint8) go through `image_features`; a 1-D vector is used
    as is and must have length `dim`.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        if x.shape[0] != dim:
            raise ValueError(f"feature vector has length {x.shape[0]}, expected {dim}")
        return x.astype(np.float32, copy=False)
    feats = image_features(x)
    if feats.shape[0] != dim:
        raise ValueError(
            f"image features have length {feats.shape[0]} but the policy expects {dim}: "
            "pass precomputed feature vectors of that length"
        )
    return feats
