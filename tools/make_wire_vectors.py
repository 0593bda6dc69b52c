#!/usr/bin/env python3
"""Writes Tests/KernelTests/Fixtures/wire_vectors.json: Jupyter wire frames made by
jupyter_client's own Session (HMAC-SHA256), for the Swift codec tests.

Each vector holds the key, the frames (base64; identities, `<IDS|MSG>`, signature,
the four JSON parts, then buffers), how many identities lead, the signature, and
the parts parsed back by Python's json (what our decoder must read).

Usage: python3 tools/make_wire_vectors.py   (needs jupyter_client)
The output is deterministic: fixed session ids, message ids and dates.
"""

import base64
import json
import os
import sys

from jupyter_client.session import Session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "KernelTests", "Fixtures", "wire_vectors.json")
DATE = "2024-06-07T08:09:10.123456Z"


def ascii_packer(obj):
    """Like jupyter_client's json_packer but with \\u escapes (surrogate pairs for astral characters)."""
    return json.dumps(obj, ensure_ascii=True, allow_nan=False).encode("ascii")


def header(session, msg_type, n):
    return {
        "msg_id": f"{session.session}_{n}",
        "session": session.session,
        "username": "tester",
        "date": DATE,
        "msg_type": msg_type,
        "version": "5.3",
    }


def vector(name, key, msg_type, content, idents=(), buffers=(), parent=None, metadata=None, packer=None):
    kwargs = {"key": key.encode("utf8"), "signature_scheme": "hmac-sha256", "session": "sess-" + name,
              "username": "tester"}
    if packer is not None:
        kwargs["packer"] = packer  # an import string, as the trait requires
        kwargs["unpacker"] = "json.loads"
    session = Session(**kwargs)
    msg = {
        "header": header(session, msg_type, 1),
        "parent_header": parent or {},
        "metadata": metadata or {},
        "content": content,
    }
    frames = session.serialize(msg, ident=list(idents))
    frames += list(buffers)  # Session.send appends buffers after the serialized frames
    # jupyter_client must accept its own frames (checks the signature).
    _, rest = session.feed_identities(frames, copy=True)
    session.deserialize(rest, content=True, copy=True)
    split = frames.index(b"<IDS|MSG>")
    return {
        "name": name,
        "key": key,
        "identity_count": split,
        "frames": [base64.b64encode(f).decode("ascii") for f in frames],
        "signature": frames[split + 1].decode("ascii"),
        "header": json.loads(frames[split + 2]),
        "parent_header": json.loads(frames[split + 3]),
        "metadata": json.loads(frames[split + 4]),
        "content": json.loads(frames[split + 5]),
        "buffer_count": len(buffers),
    }


def main():
    key = "a0436f6c-1916-498b-8eb9-e81ab9368e84"
    parent = {"msg_id": "parent-1", "session": "client", "username": "u", "date": DATE,
              "msg_type": "execute_request", "version": "5.3"}
    vectors = [
        vector("execute_request", key, "execute_request",
               {"code": "let x = 6 * 7\nx", "silent": False, "store_history": True,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}),
        vector("with_identities", key, "kernel_info_request", {},
               idents=[b"\x00\x80\x00\x41\xa7", b"client-identity"]),
        vector("with_buffers", key, "comm_msg",
               {"comm_id": "c1", "data": {"shape": [2, 3], "ratio": 0.25, "ok": True, "none": None}},
               idents=[b"\x00k\x8b\x45g"], buffers=[b"\x00\x01\x02\xff", b"", b"<IDS|MSG>"]),
        vector("unicode_content", key, "stream",
               {"name": "stdout", "text": "héllo wörld → 你好 🚀 \"quoted\" \\ tab\t nl\n \u0001"},
               parent=parent, metadata={"clé": "värde"}),
        vector("unicode_ascii_escaped", key, "stream",
               {"name": "stdout", "text": "héllo 你好 🚀 \U0001F600 end"},
               parent=parent, packer="__main__.ascii_packer"),
        vector("empty_key", "", "execute_request",
               {"code": "print(\"hi\")", "silent": False}, idents=[b"abc"]),
        vector("unicode_key", "ключ-🔑", "is_complete_request", {"code": "if x {"}),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf8") as f:
        json.dump({"generator": "tools/make_wire_vectors.py",
                   "jupyter_client": __import__("jupyter_client").__version__,
                   "vectors": vectors}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(vectors)} vectors to {os.path.relpath(OUT, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
