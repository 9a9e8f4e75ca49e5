"""Metrics, the MUSDB18-HQ-layout track reader, the real-music clip, the cache folders and the evaluation harness."""

from .metrics import chunk_sdr, global_sdr

__all__ = ["chunk_sdr", "global_sdr"]
