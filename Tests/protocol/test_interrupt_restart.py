"""Interrupts (by signal and by control message), shutdown and restart, driven
through jupyter_client as JupyterLab drives a kernel."""
import os
import signal
import threading
import time

from jupyter_client.manager import start_new_kernel

from conftest import KERNEL_NAME, run


def interrupt_after(delay, action):
    timer = threading.Timer(delay, action)
    timer.start()
    return timer


def test_interrupt_by_signal_keeps_session(kernel):
    km, kc = kernel
    reply, _ = run(kc, "var kept = 41")
    assert reply["content"]["status"] == "ok"

    interrupt_after(0.5, km.interrupt_kernel)  # interrupt_mode "signal": SIGINT
    started = time.monotonic()
    reply, outputs = run(kc, "sleep(seconds: 30)", timeout=20)
    assert time.monotonic() - started < 10
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    assert any(m["msg_type"] == "error" for m in outputs)

    reply, outputs = run(kc, "kept += 1\nkept")
    assert reply["content"]["status"] == "ok"
    assert outputs[-1]["content"]["data"]["text/plain"] == "42"


def test_interrupt_by_message_on_control(kernel):
    km, kc = kernel

    def send_interrupt():
        msg = kc.session.msg("interrupt_request", {})
        kc.control_channel.send(msg)

    interrupt_after(0.5, send_interrupt)
    reply, _ = run(kc, "var i = 0\nwhile true { i += 1 }", timeout=20)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    control_reply = kc.control_channel.get_msg(timeout=5)
    assert control_reply["msg_type"] == "interrupt_reply"
    assert control_reply["content"]["status"] == "ok"

    reply, outputs = run(kc, "i > 0")
    assert outputs[-1]["content"]["data"]["text/plain"] == "true"


def test_sigint_while_idle_is_ignored(kernel):
    km, kc = kernel
    run(kc, "let before = 7")
    os.kill(km.provisioner.process.pid, signal.SIGINT)
    time.sleep(0.3)
    assert km.is_alive()
    reply, outputs = run(kc, "before")
    assert reply["content"]["status"] == "ok"
    assert outputs[-1]["content"]["data"]["text/plain"] == "7"


def test_shutdown_and_restart():
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME)
    try:
        run(kc, "let state = 1")
        old_pid = km.provisioner.process.pid
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=30)
        assert km.provisioner.process.pid != old_pid
        reply, outputs = run(kc, "state")
        assert reply["content"]["status"] == "error"  # a restart starts a fresh session
        reply, outputs = run(kc, "1 + 1")
        assert outputs[-1]["content"]["data"]["text/plain"] == "2"

        # A polite shutdown: the kernel answers and exits by itself with status 0.
        process = km.provisioner.process
        msg = kc.session.msg("shutdown_request", {"restart": False})
        kc.control_channel.send(msg)
        reply = kc.control_channel.get_msg(timeout=5)
        assert reply["content"] == {"status": "ok", "restart": False}
        assert process.wait(timeout=10) == 0
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def test_shutdown_interrupts_a_running_cell():
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME)
    try:
        kc.execute("sleep(seconds: 60)")
        time.sleep(0.5)
        process = km.provisioner.process
        started = time.monotonic()
        kc.control_channel.send(kc.session.msg("shutdown_request", {"restart": False}))
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def shell_replies(kc, count):
    """The next `count` shell replies, by the id of the request they answer."""
    replies = {}
    while len(replies) < count:
        msg = kc.get_shell_msg(timeout=10)
        replies[msg["parent_header"]["msg_id"]] = msg
    return replies


def test_stop_on_error_aborts_queued_cells(kernel):
    km, kc = kernel
    first = kc.execute("sleep(seconds: 0.3)\nnoSuchName", stop_on_error=True)
    second = kc.execute("let neverRuns = 1")
    replies = shell_replies(kc, 2)
    assert replies[first]["content"]["status"] == "error"
    assert replies[first]["content"]["ename"] == "NameError"
    assert replies[second]["content"]["status"] == "error"
    assert replies[second]["content"]["ename"] == "ExecutionAborted"
    reply, _ = run(kc, "neverRuns")
    assert reply["content"]["status"] == "error"
    # Without stop_on_error the next cell runs.
    first = kc.execute("sleep(seconds: 0.3)\nnoSuchName", stop_on_error=False)
    second = kc.execute("let doesRun = 1")
    replies = shell_replies(kc, 2)
    assert replies[second]["content"]["status"] == "ok"


def test_kernel_exits_when_its_parent_dies(tmp_path):
    """A client killed outright (no shutdown request) must not leave its kernel running."""
    import json
    import subprocess
    import sys

    from jupyter_client.connect import write_connection_file
    from jupyter_client.kernelspec import KernelSpecManager

    connection, _ = write_connection_file(str(tmp_path / "kernel.json"))
    argv = [a.replace("{connection_file}", connection) for a in KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv]
    parent_code = ("import subprocess, sys, time; p = subprocess.Popen(sys.argv[1:]); "
                   "print(p.pid, flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", parent_code] + argv, stdout=subprocess.PIPE, text=True)
    kernel_pid = int(parent.stdout.readline())
    time.sleep(1.0)
    os.kill(kernel_pid, 0)  # running
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(f"/proc/{kernel_pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state in ("Z", "X"):  # exited; waiting for whoever adopted it to reap it
            break
        time.sleep(0.2)
    else:
        os.kill(kernel_pid, signal.SIGKILL)
        raise AssertionError("the kernel kept running after its parent was killed")
    assert json.loads(open(connection).read())["transport"] == "tcp"
