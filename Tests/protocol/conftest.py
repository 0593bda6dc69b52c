"""Shared fixtures for the protocol tests: a running PEFTLab kernel per test module,
started by jupyter_client from the installed kernelspec (`make kernelspec`)."""
import pytest
from jupyter_client.manager import start_new_kernel

KERNEL_NAME = "peftlab"


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME)
    yield km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def run(kc, code, timeout=30, **kwargs):
    """Executes code; returns (reply, [iopub messages other than status/execute_input])."""
    outputs = []

    def hook(msg):
        if msg["msg_type"] not in ("status", "execute_input"):
            outputs.append(msg)

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook, **kwargs)
    return reply, outputs
