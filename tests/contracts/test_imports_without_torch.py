from tests.conftest import run_without_torch


def test_contracts_import_without_torch() -> None:
    result = run_without_torch(
        "import numpy as np, asl_edge\n"
        "from asl_edge import ModelSpec, preprocess\n"
        "from asl_edge.artifacts import atomic_write_json\n"
        "spec = ModelSpec(labels=('A', 'B'), input_height=28, input_width=28, channels=1, color='gray',"
        " mean=(0.5,), std=(0.5,))\n"
        "print(preprocess(np.zeros((40, 40, 3), np.uint8), spec).shape)\n"
        "import sys; assert 'torch' not in sys.modules\n"
        "try:\n    import torch\nexcept ImportError:\n    print('torch blocked')\n")
    assert result.returncode == 0, result.stderr
    assert "(1, 28, 28)" in result.stdout and "torch blocked" in result.stdout
