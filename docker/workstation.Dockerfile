# asl-edge workstation image: training and export on an x86 machine with an NVIDIA GPU.
# NVIDIA's PyTorch container brings CUDA, cuDNN and a CUDA build of torch/torchvision; this adds asl-edge's
# workstation extras (onnx, onnxruntime, onnxscript, onnxconverter-common, onnxslim, matplotlib, tqdm).
#
#   docker build -f docker/workstation.Dockerfile -t asl-edge:workstation .
#   docker run --rm --gpus all --ipc=host -v "$PWD/runs:/opt/asl-edge/runs" asl-edge:workstation \
#       asl-edge doctor --job train
#
# Not built where this file was written (no Docker there); CI lints it with hadolint.
FROM nvcr.io/nvidia/pytorch:25.12-py3

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1

WORKDIR /opt/asl-edge
COPY . .
# constraints.txt pins PyPI's torch; here the base image's own CUDA build must stay, so pip is held to the
# torch and torchvision already installed instead (a mismatch makes pip fail rather than replace them).
RUN python3 -m pip list --format=freeze | grep -E '^(torch|torchvision)==' > /tmp/base-torch.txt \
    && python3 -m pip install -c /tmp/base-torch.txt -e ".[workstation]"

CMD ["asl-edge", "doctor", "--job", "train"]
