"""Nothing lost, the kernel never dies: replayed messages are dropped, interrupted training
replies as an interrupted cell (the queue stops, the run is kept), long steps answer an
interrupt within a second, requests too big for the machine are errors, `~` is $HOME for
every file, and a kill -9 in the middle of a save leaves the old adapter whole."""
import json
import os
import subprocess
import threading
import time

import pytest
import zmq
from jupyter_client.manager import start_new_kernel
from jupyter_client.session import Session

from conftest import KERNEL_NAME, run
from test_bad_input import kernel_still_answers, recv_reply, raw_shell  # noqa: F401 (fixture)
from test_console_and_cli import peftlab_binary

TRAIN_SET = 'let trainSet = dataset("mini-vqav2", split: .train, size: 16, imageSize: 32)'


def test_a_replayed_message_is_not_run_again(raw_shell):
    session, sock, kc = raw_shell
    msg = session.msg("execute_request", {"code": "var replays = 0\nreplays += 1", "silent": False,
                                          "store_history": False, "user_expressions": {}, "allow_stdin": False,
                                          "stop_on_error": True})
    frames = session.serialize(msg)
    sock.send_multipart(frames)
    assert recv_reply(sock, session)["content"]["status"] == "ok"
    sock.send_multipart(frames)                       # byte for byte the same, same socket
    assert recv_reply(sock, session, timeout_ms=700) is None
    other = zmq.Context.instance().socket(zmq.DEALER)  # and from a second socket
    other.setsockopt(zmq.LINGER, 0)
    info = kc.get_connection_info()
    other.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")
    other.send_multipart(frames)
    assert recv_reply(other, session, timeout_ms=700) is None
    other.close()
    kernel_still_answers(session, sock)
    reply, outputs = run(kc, "replays")
    assert outputs[-1]["content"]["data"]["text/plain"] == "1"


def interrupt_when(kc, km, predicate, timeout=120):
    """Reads iopub until `predicate(msg)` holds, then interrupts by message; returns the messages."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Exception:
            continue
        seen.append(msg)
        if predicate(msg):
            kc.control_channel.send(kc.session.msg("interrupt_request", {}))
            return seen
    raise AssertionError("the awaited output never came")


def shell_reply(kc, msg_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply
    raise AssertionError("no reply")


def test_interrupted_training_stops_the_queue_and_keeps_the_run(kernel):
    km, kc = kernel
    reply, _ = run(kc, 'let base = model("tiny-llava")\n' + TRAIN_SET, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    first = kc.execute("let run = train(attach(base, lora(rank: 4)), on: trainSet, steps: 1000, batch: 4)")
    queued = kc.execute("let ranAfter = true")          # "Run All": the next cell is already queued
    interrupt_when(kc, km, lambda m: m["msg_type"] in ("display_data", "update_display_data")
                   and "step" in json.dumps(m["content"]["data"]))
    reply = shell_reply(kc, first)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "Interrupted"
    aborted = shell_reply(kc, queued)
    assert aborted["content"]["status"] == "error", "the cell queued behind an interrupted training must not run"
    kc.control_channel.get_msg(timeout=5)               # the interrupt_reply
    reply, outputs = run(kc, "run.step")
    steps = int(outputs[-1]["content"]["data"]["text/plain"])
    assert 1 <= steps < 1000, "the run is bound with its finished steps"
    reply, _ = run(kc, "ranAfter")
    assert reply["content"]["status"] == "error"        # never defined


def test_a_step_of_a_million_micro_batches_answers_an_interrupt_within_a_second(kernel):
    km, kc = kernel
    run(kc, 'let small = model("tiny-llava")\n' + TRAIN_SET, timeout=120)
    msg_id = kc.execute("let long = train(attach(small, ia3()), on: trainSet, steps: 1, batch: 2, accumulation: 1000000)")
    time.sleep(3)
    sent = time.monotonic()
    kc.control_channel.send(kc.session.msg("interrupt_request", {}))
    reply = shell_reply(kc, msg_id, timeout=30)
    assert time.monotonic() - sent < 2.0
    assert reply["content"]["ename"] == "Interrupted"
    kc.control_channel.get_msg(timeout=5)
    assert km.is_alive()


def test_requests_too_big_for_the_machine_are_errors(kernel, tmp_path):
    km, kc = kernel
    bomb = tmp_path / "bomb.png"
    write_png_claiming(bomb, 1_000_000, 1_000_000)
    run(kc, 'let m = model("tiny-llava")\n' + TRAIN_SET, timeout=120)
    cells = {
        'suite("mini", size: 2000000000)': "size",
        'dataset("mini-vqav2", split: .train, size: 1000000)': "PEFTLAB_MEMORY_LIMIT",
        "attach(m, lora(rank: 100000))": "rank at most",
        "attach(m, prefix(tokens: 1000000))": "max_position_embeddings",
        "train(attach(m, ia3()), on: trainSet, steps: 1, batch: 100000)": "smaller batch",
        'var s = "x"\nfor i in 0..<41 { s = s + s }': "at most",
        f'ask(m, image: "{bomb}", "What is it?")': "pixels",
    }
    for code, words in cells.items():
        reply, outputs = run(kc, code, timeout=120)
        assert reply["content"]["status"] == "error", code
        assert words in reply["content"]["evalue"], (code, reply["content"]["evalue"])
        assert km.is_alive(), code
    reply, outputs = run(kc, "2 + 2")
    assert outputs[-1]["content"]["data"]["text/plain"] == "4"


def write_png_claiming(path, width, height):
    """A valid 1×1 PNG whose IHDR then claims width × height (CRC recomputed)."""
    import struct
    import zlib
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x10\x20\x30")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_tilde_is_home_for_every_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home))
    work = tmp_path / "work"
    work.mkdir()
    km, kc = start_new_kernel(kernel_name=KERNEL_NAME, env=env, cwd=str(work))
    try:
        reply, _ = run(kc, 'let adapted = attach(model("tiny-llava"), lora(rank: 2))\nsave(adapted, "~/D")\n'
                       'write("hello", to: "~/x.txt")', timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        assert sorted(os.listdir(home / "D")) == ["adapter_config.json", "adapter_model.safetensors"]
        assert (home / "x.txt").read_text() == "hello"
        reply, _ = run(kc, 'load(adapter: "~/D", on: model("tiny-llava"))', timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert not (work / "~").exists(), "a literal ~ folder in the kernel's working directory"


SAVE_SCRIPT = """
let base = model("tiny-llava")
let adapted = attach(base, lora(rank: 2, alpha: {alpha}))
save(adapted, "{folder}")
"""


def run_save(folder, alpha, kill_at=None):
    script = folder.parent / f"save-{alpha}.peft"
    script.write_text(SAVE_SCRIPT.format(alpha=alpha, folder=folder))
    env = dict(os.environ)
    env.pop("PEFTLAB_KILL_AT", None)
    if kill_at:
        env["PEFTLAB_KILL_AT"] = kill_at
    return subprocess.run([peftlab_binary(), "run", str(script)], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("moment", ["adapter-save-between-files", "write-file-before-rename",
                                    "replace-folder-before-exchange"])
def test_a_kill_in_the_middle_of_a_save_leaves_the_old_adapter_whole(tmp_path, moment):
    folder = tmp_path / "adapter"
    assert run_save(folder, 16).returncode == 0
    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    killed = run_save(folder, 512, kill_at=moment)
    assert killed.returncode == -9, (killed.returncode, killed.stderr)
    after = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    assert after == before, "a killed save changed the adapter folder"
    assert json.loads(after["adapter_config.json"])["lora_alpha"] == 16
    # The next save replaces it whole and leaves no temporary behind.
    assert run_save(folder, 512).returncode == 0
    assert json.loads((folder / "adapter_config.json").read_text())["lora_alpha"] == 512
    leftovers = [n for n in os.listdir(tmp_path) if "peftlab-tmp" in n]
    assert leftovers == [], leftovers
