# The grader's image (the grader builds from requirements.txt + apt.txt, or from this file): Debian bookworm's
# Python 3.11, ffmpeg and libsndfile from apt.txt, the pinned requirements in /opt/venv, user aicrowd
# (uid/gid 1001) and the repository, with its LFS weights, in /home/aicrowd.
#   docker build -t bsrnn-sdx .                                     # as the grader builds it (Docker Hub + PyPI)
#   docker run --rm --gpus all bsrnn-sdx                            # smoke separation
#   python -m tools.docker_check                                    # the offline local build and check (README)
# CUDA: PyPI's torch==2.13.0 wheel for Linux x86_64 is the CUDA build and brings its CUDA libraries as pip
# packages, so the base needs no CUDA runtime; the NVIDIA_* variables ask the NVIDIA container runtime to mount
# the driver (libcuda) into a plain Debian container, as the nvidia/cuda images do.
# Offline builds: BASE_IMAGE names a local Debian bookworm image and WHEELHOUSE_URL a folder of wheels served
# over HTTP (pip's --find-links), used instead of PyPI. Both default to what the grader's build farm reaches.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY apt.txt /tmp/apt.txt
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv $(grep -v '^#' /tmp/apt.txt) \
    && rm -rf /var/lib/apt/lists/* /tmp/apt.txt

RUN groupadd --gid 1001 aicrowd && useradd --create-home --uid 1001 --gid 1001 --shell /bin/bash aicrowd

ARG WHEELHOUSE_URL=""
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
    && if [ -n "$WHEELHOUSE_URL" ]; then \
         set -- --no-index --find-links "$WHEELHOUSE_URL" --trusted-host "$(echo "$WHEELHOUSE_URL" | cut -d/ -f3 | cut -d: -f1)"; \
       fi \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check "$@" -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

USER aicrowd
WORKDIR /home/aicrowd
ENV HOME=/home/aicrowd PATH=/opt/venv/bin:$PATH
COPY --chown=1001:1001 . /home/aicrowd
CMD ["python", "-m", "tools.smoke"]
