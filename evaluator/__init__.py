"""Metrics, the MUSDB18-HQ-layout track reader, the synthetic dataset generator and the evaluation harness."""
