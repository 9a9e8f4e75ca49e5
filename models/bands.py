"""Band-split schemes: how the STFT bins are cut into contiguous bands.

A scheme is a list of ``(upper_hz, bandwidth_hz)`` ranges starting at 0 Hz; every range is cut
into bands of ``bandwidth_hz`` and whatever lies above the last range up to Nyquist is one more
band ("rest"). Band edges are rounded to the nearest STFT bin, so the exact bin counts depend
on the sample rate and FFT size; every bin belongs to exactly one band.
"""

from __future__ import annotations

from collections.abc import Sequence

# Luo & Yu, "Music Source Separation with Band-split RNN", Sec. V-A.
_V7 = [(1000, 100), (4000, 250), (8000, 500), (16000, 1000), (20000, 2000)]
SCHEMES: dict[str, list[tuple[float, float]]] = {
    "vocals": _V7,
    "bass": [(500, 50), (1000, 100), (4000, 500), (8000, 1000), (16000, 2000)],
    "drums": [(1000, 50), (2000, 100), (4000, 250), (8000, 500), (16000, 1000)],
    "other": _V7,
}

Scheme = str | Sequence[Sequence[float]]


def _validate_ranges(ranges: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    previous = 0.0
    for i, item in enumerate(ranges):
        if len(item) != 2:
            raise ValueError(f"band scheme entry {i} must be (upper_hz, bandwidth_hz), got {item!r}")
        upper, width = float(item[0]), float(item[1])
        if width <= 0:
            raise ValueError(f"band scheme entry {i}: bandwidth must be > 0 Hz, got {width}")
        if upper <= previous:
            raise ValueError(
                f"band scheme entry {i}: upper edges must increase, got {upper} Hz after {previous} Hz"
            )
        out.append((upper, width))
        previous = upper
    return out


def band_widths(target: Scheme, sample_rate: int = 44100, n_fft: int = 2048) -> list[int]:
    """Number of STFT bins in each band, low to high; the widths sum to ``n_fft // 2 + 1``.

    ``target`` is a target name (``vocals``, ``bass``, ``drums``, ``other``) or a custom scheme
    given as a list of ``(upper_hz, bandwidth_hz)`` ranges.
    """
    if isinstance(target, str):
        if target not in SCHEMES:
            raise ValueError(f"unknown band scheme {target!r}; expected one of {sorted(SCHEMES)} "
                             "or a list of (upper_hz, bandwidth_hz)")
        ranges = SCHEMES[target]
    else:
        ranges = _validate_ranges(target)
    if sample_rate <= 0 or n_fft < 2:
        raise ValueError(f"need sample_rate > 0 and n_fft >= 2, got {sample_rate} and {n_fft}")

    n_bins = n_fft // 2 + 1
    bin_hz = sample_rate / n_fft
    edges_hz: list[float] = []
    lower = 0.0
    for upper, width in ranges:
        n_bands = max(1, round((upper - lower) / width))
        step = (upper - lower) / n_bands
        edges_hz.extend(lower + step * i for i in range(1, n_bands + 1))
        lower = upper
    edges = [0]
    for hz in edges_hz:
        b = round(hz / bin_hz)
        if edges[-1] < b < n_bins:  # drop bands that vanish at this resolution or lie above Nyquist
            edges.append(b)
    edges.append(n_bins)
    return [hi - lo for lo, hi in zip(edges[:-1], edges[1:])]
