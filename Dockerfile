# The grader's image, reproduced for local checks (the grader builds from requirements.txt + apt.txt, or from
# this file): a CUDA runtime base, ffmpeg and libsndfile, user aicrowd (uid/gid 1001), the pinned Python
# requirements, and the repository (with its LFS weights) in /home/aicrowd.
#   docker build -t bsrnn-sdx .
#   docker run --rm --gpus all bsrnn-sdx                       # smoke separation, as submit.sh checks it
#   docker run --rm --gpus all -v "$PWD/public_dataset:/home/aicrowd/public_dataset" bsrnn-sdx python evaluate_locally.py
# Python 3.11 (Miniconda, like the official example) because numpy 2.4 needs Python >= 3.11; PyPI's torch
# wheels bring their own CUDA 12 libraries, so the base image only has to provide the driver interface.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8
COPY apt.txt /tmp/apt.txt
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates wget git $(grep -v '^#' /tmp/apt.txt) \
    && rm -rf /var/lib/apt/lists/* /tmp/apt.txt

RUN groupadd --gid 1001 aicrowd && useradd --create-home --uid 1001 --gid 1001 --shell /bin/bash aicrowd
USER aicrowd
WORKDIR /home/aicrowd
ENV HOME=/home/aicrowd PATH=/home/aicrowd/.conda/bin:$PATH

RUN wget -q https://repo.anaconda.com/miniconda/Miniconda3-py311_24.7.1-0-Linux-x86_64.sh -O /tmp/miniconda.sh \
    && bash /tmp/miniconda.sh -b -p /home/aicrowd/.conda && rm /tmp/miniconda.sh

COPY --chown=1001:1001 requirements.txt /home/aicrowd/requirements.txt
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=1001:1001 . /home/aicrowd
CMD ["python", "-m", "tools.smoke"]
