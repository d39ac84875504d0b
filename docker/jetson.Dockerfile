# asl-edge runtime for NVIDIA Jetson, JetPack 6 (L4T r36): TensorRT, CUDA, pycuda, GStreamer-enabled OpenCV,
# ONNX Runtime with the TensorRT/CUDA providers. No PyTorch: training and export happen on a workstation.
#
# Build it ON the Jetson (arm64), from the repository root:
#   docker build -f docker/jetson.Dockerfile -t asl-edge:jetson .
# L4T_TAG must match the host's L4T release (`cat /etc/nv_tegra_release`: "# R36 (release), REVISION: 4.0"
# is r36.4.0, JetPack 6.1; JetPack 6.2 hosts (R36.4.3) run the r36.4.0 image too).
#
# What could not be verified where this file was written (an x86 machine, no Jetson): the image has never
# been built. CI lints it with hadolint and runs the same runtime on these library versions in its lanes (oldest:
# OpenCV 4.5.5, NumPy 1.24, ONNX Runtime 1.16; arm64 under qemu, Debian's OpenCV 4.6). The build fails loudly if
# OpenCV lacks GStreamer, the runtime imports torch, `asl-edge doctor --job run` fails or the demo does not spell
# HELLO; `asl-edge doctor` inside the container (its CMD) checks the rest (GPU, TensorRT, camera).
ARG L4T_TAG=r36.4.0
FROM nvcr.io/nvidia/l4t-jetpack:${L4T_TAG}

# Jetson AI Lab's index of JetPack 6 / CUDA 12.6 wheels (PyPI's onnxruntime-gpu has no Jetson build).
ARG JETSON_INDEX=https://pypi.jetson-ai-lab.io/jp6/cu126
ARG ORT_VERSION=1.23.0
ARG PYCUDA_VERSION=2025.1.2
# JetPack's OpenCV and its Python binding are built against NumPy 1.x.
ARG NUMPY_VERSION=1.26.4
# word suggestions beside the spelled letters (pure Python; the English frequency list ships in its wheel)
ARG SYMSPELLPY_VERSION=6.10.1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/cuda/bin:${PATH} \
    CUDA_ROOT=/usr/local/cuda \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    ASL_EDGE_CACHE=/cache

# python3-opencv: Ubuntu's OpenCV, built with GStreamer and V4L2 (csi:// cameras go through nvarguscamerasrc).
# If apt refuses it because the base already holds NVIDIA's own OpenCV packages, drop it from this list: the
# last RUN checks that whichever cv2 is importable has GStreamer.
# v4l-utils gives `asl-edge doctor` the formats each camera offers. The compilers build pycuda.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3-pip python3-dev build-essential \
        python3-opencv v4l-utils \
        gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
    && rm -rf /var/lib/apt/lists/*

# pycuda has no wheels: it compiles here against the image's CUDA (/usr/local/cuda, via CUDA_ROOT and nvcc).
RUN python3 -m pip install "numpy==${NUMPY_VERSION}" "pycuda==${PYCUDA_VERSION}" "symspellpy==${SYMSPELLPY_VERSION}" \
    && python3 -m pip install --extra-index-url "${JETSON_INDEX}" "onnxruntime-gpu==${ORT_VERSION}"

WORKDIR /opt/asl-edge
COPY . .
# --no-deps: the declared opencv-python-headless wheel would shadow the GStreamer-enabled system OpenCV.
RUN python3 -m pip install --no-deps . \
    && python3 -c "import sys, cv2, asl_edge.runtime; \
assert 'torch' not in sys.modules, 'the runtime imported torch'; \
info = cv2.getBuildInformation(); \
line = next(l for l in info.splitlines() if 'GStreamer:' in l); \
sys.exit(0 if 'YES' in line else 'OpenCV without GStreamer: ' + line.strip())"

# The image checks what it ships with the commands a user runs first, so a library the image's versions lack
# (OpenCV 4.x has no cv2.utils.logging, say) fails this build, not the dev kit. `docker build` has no GPU: doctor
# checks the run job's needs (Python, NumPy, OpenCV, an inference backend) and the demo spells HELLO from the bundled
# clip with the bundled models on ONNX Runtime's CPU provider; both exit non-zero when anything is wrong.
RUN asl-edge doctor --job run \
    && asl-edge demo --provider cpu --no-window

VOLUME ["/models", "/cache"]
CMD ["asl-edge", "doctor", "--job", "run"]
