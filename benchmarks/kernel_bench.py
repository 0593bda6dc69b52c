#!/usr/bin/env python3
"""Kernel benchmark: PEFTLab against ipykernel, same machine, same run.

- start-up: from launching the kernel process to the first kernel_info_reply
  (a raw DEALER socket with a 1 ms reconnect interval polls the shell port, so the
  client's own reconnect back-off does not count);
- execute round trip: a trivial cell through jupyter_client's BlockingKernelClient,
  from sending execute_request to the execute_reply and the idle status on iopub
  (every output received), p50 and p99 over many runs.

Prints a Markdown table and writes the numbers as JSON (--json)."""
import argparse
import json
import platform
import statistics
import time

import zmq
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session


def startup_seconds(kernel_name):
    km = KernelManager(kernel_name=kernel_name)
    started = time.perf_counter()
    km.start_kernel()  # returns once the process is launched; ports are chosen here
    info = km.get_connection_info()
    key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
    session = Session(key=key)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 1)
    sock.connect(f"tcp://{info['ip']}:{info['shell_port']}")
    elapsed = None
    deadline = started + 30
    while time.perf_counter() < deadline:
        session.send(sock, session.msg("kernel_info_request", {}))
        if sock.poll(20):
            frames = sock.recv_multipart()
            _, parts = session.feed_identities(frames)
            msg = session.deserialize(parts)
            if msg["msg_type"] == "kernel_info_reply":
                elapsed = time.perf_counter() - started
                break
    sock.close()
    km.shutdown_kernel(now=True)
    return elapsed


def execute_round_trips(kernel_name, code, runs, warmup=30):
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        msg_id = kc.execute(code)
        reply = kc.get_shell_msg(timeout=10)
        assert reply["parent_header"]["msg_id"] == msg_id
        while True:
            msg = kc.get_iopub_msg(timeout=10)
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                break
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    times.sort()
    return {"p50": statistics.median(times), "p99": times[int(0.99 * (len(times) - 1))]}


def raw_round_trips(kernel_name, code, runs, warmup=100):
    """The same round trip over raw pyzmq sockets, without jupyter_client's parsing of
    the replies: what the kernel itself costs."""
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    kc.stop_channels()
    info = km.get_connection_info()
    key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
    session = Session(key=key)
    ctx = zmq.Context.instance()
    shell = ctx.socket(zmq.DEALER)
    shell.connect(f"tcp://{info['ip']}:{info['shell_port']}")
    iopub = ctx.socket(zmq.SUB)
    iopub.setsockopt(zmq.SUBSCRIBE, b"")
    iopub.connect(f"tcp://{info['ip']}:{info['iopub_port']}")
    time.sleep(0.5)  # let the subscription reach the kernel
    times = []
    for i in range(warmup + runs):
        msg = session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                               "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        t0 = time.perf_counter()
        session.send(shell, msg)
        shell.recv_multipart()
        while b'"idle"' not in iopub.recv_multipart()[-1]:
            pass
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    shell.close(linger=0)
    iopub.close(linger=0)
    km.shutdown_kernel(now=True)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--startups", type=int, default=5)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    kernels = {"PEFTLab": "peftlab", "ipykernel": "python3"}
    results = {}
    for label, name in kernels.items():
        starts = [startup_seconds(name) for _ in range(args.startups)]
        rt = execute_round_trips(name, "1 + 1", args.runs)
        raw = raw_round_trips(name, "1 + 1", args.runs)
        results[label] = {"startup_s": statistics.median(starts), "raw_p50_ms": raw * 1000,
                          **{f"execute_{k}_ms": v * 1000 for k, v in rt.items()}}

    ours, peer = results["PEFTLab"], results["ipykernel"]
    print(f"Kernel benchmark, {time.strftime('%Y-%m-%d')}, {platform.machine()}, {platform.processor() or 'cpu'}")
    print()
    print("| metric | PEFTLab | ipykernel | ipykernel / PEFTLab |")
    print("|---|---|---|---|")
    print(f"| start-up to first kernel_info reply | {ours['startup_s']*1000:.0f} ms | {peer['startup_s']*1000:.0f} ms | {peer['startup_s']/ours['startup_s']:.1f}× |")
    for q in ("p50", "p99"):
        k = f"execute_{q}_ms"
        print(f"| execute round trip {q} (`1 + 1`) | {ours[k]:.2f} ms | {peer[k]:.2f} ms | {peer[k]/ours[k]:.1f}× |")
    print(f"| execute round trip p50, raw pyzmq client | {ours['raw_p50_ms']:.2f} ms | {peer['raw_p50_ms']:.2f} ms | {peer['raw_p50_ms']/ours['raw_p50_ms']:.1f}× |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
