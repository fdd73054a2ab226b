"""mitos Python kernel: a stateful interpreter that serves one sandbox.

It listens on a unix socket inside the sandbox; each connection carries one cell as a JSON line
({"code": str, "timeout_ms": int}) and receives JSON lines back as the cell runs:
  {"kind": "stdout"|"stderr", "data": <base64>}
  {"kind": "result", "result": {"text": str?, "data": {mime: payload}, "main": bool}}
  {"kind": "error", "error": {"name", "value", "traceback": [str]}}
  {"kind": "exit", "exit_code": 0 | 1}
Globals persist across cells for the kernel's life. A deadline raises TimeoutError inside the
cell (the kernel and its variables survive). Output written to file descriptors 1 and 2 by the
cell or by any child process is captured too, because those fds are pipes read by this kernel.
"""

import ast
import base64
import json
import os
import signal
import socket
import sys
import threading
import traceback

os.environ.setdefault("MPLBACKEND", "Agg")

SOCKET_PATH = sys.argv[1] if len(sys.argv) > 1 else "/run/mitos/kernel.sock"
MARK = b"\x00mitos-flush-mark\x00"
READY_LINE = b"mitos-kernel-ready\n"


class Channel:
    """The current cell's connection; output that arrives between cells is dropped."""

    def __init__(self):
        self.lock = threading.Lock()
        self.conn = None

    def send(self, obj):
        line = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        with self.lock:
            if self.conn is None:
                return
            try:
                self.conn.sendall(line)
            except OSError:
                self.conn = None


channel = Channel()


class FdPump(threading.Thread):
    """Reads a pipe that replaced fd 1 or 2 and forwards chunks to the current cell."""

    def __init__(self, fd, kind):
        super().__init__(daemon=True)
        self.read_fd, write_fd = os.pipe()
        os.dup2(write_fd, fd)
        os.close(write_fd)
        self.kind = kind
        self.marks = threading.Condition()
        self.seen_marks = 0
        self.start()

    def run(self):
        pending = b""
        while True:
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                return
            pending += chunk
            while True:
                at = pending.find(MARK)
                if at < 0:
                    break
                self.emit(pending[:at])
                pending = pending[at + len(MARK):]
                with self.marks:
                    self.seen_marks += 1
                    self.marks.notify_all()
            # Hold back only a tail that could be the start of a marker split across reads.
            hold = 0
            for n in range(min(len(pending), len(MARK) - 1), 0, -1):
                if MARK.startswith(pending[-n:]):
                    hold = n
                    break
            self.emit(pending[: len(pending) - hold])
            pending = pending[len(pending) - hold :]

    def emit(self, data):
        if data:
            channel.send({"kind": self.kind, self.kind: base64.b64encode(data).decode()})

    def drain(self, fd):
        """Block until everything written to fd before this call has been forwarded."""
        with self.marks:
            target = self.seen_marks + 1
        os.write(fd, MARK)
        with self.marks:
            self.marks.wait_for(lambda: self.seen_marks >= target, timeout=5)


sys.stdout.flush()
sys.stderr.flush()
# The process's own stdout, kept to say "ready" once the socket listens (fd 1 is a pump after this).
READY_FD = os.dup(1)
pumps = {1: FdPump(1, "stdout"), 2: FdPump(2, "stderr")}
sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)


def mime_bundle(value):
    """What a notebook would show for a value: text/plain plus every rich form it offers."""
    data = {}
    reprs = [
        ("_repr_html_", "text/html"),
        ("_repr_markdown_", "text/markdown"),
        ("_repr_latex_", "text/latex"),
        ("_repr_svg_", "image/svg+xml"),
        ("_repr_png_", "image/png"),
        ("_repr_jpeg_", "image/jpeg"),
        ("_repr_json_", "application/json"),
    ]
    for method, mime in reprs:
        fn = getattr(value, method, None)
        if not callable(fn) or isinstance(value, type):
            continue
        try:
            out = fn()
        except Exception:
            continue
        if out is None:
            continue
        if isinstance(out, tuple):
            out = out[0]
        if isinstance(out, bytes):
            out = base64.b64encode(out).decode()
        elif mime == "application/json" and not isinstance(out, str):
            out = json.dumps(out)
        data[mime] = out
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    data["text/plain"] = text
    return text, data


def display(*values):
    """Show values as rich results without ending the cell (like IPython's display)."""
    for value in values:
        text, data = mime_bundle(value)
        channel.send({"kind": "result", "result": {"data": data, "main": False}})


def flush_figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    import io

    for num in plt.get_fignums():
        fig = plt.figure(num)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        data = {"image/png": base64.b64encode(buf.getvalue()).decode(), "text/plain": repr(fig)}
        channel.send({"kind": "result", "result": {"data": data, "main": False}})
    plt.close("all")


namespace = {"__name__": "__main__", "__builtins__": __builtins__, "display": display}


class CellTimeout(BaseException):
    """Raised into the running cell at its deadline; BaseException so `except Exception` in
    user code cannot swallow it."""


def on_deadline(signum, frame):
    raise CellTimeout()


signal.signal(signal.SIGALRM, on_deadline)


def run_cell(code, timeout_ms):
    try:
        tree = ast.parse(code, "<cell>", "exec")
    except SyntaxError as exc:
        report_error(type(exc).__name__, str(exc), traceback.format_exception_only(type(exc), exc))
        return 1
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exit_code = 0
    if timeout_ms > 0:
        signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000.0)
    try:
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), namespace)
            namespace["_"] = value
            if value is not None:
                sys.stdout.flush()
                sys.stderr.flush()
                flush_figures()
                text, data = mime_bundle(value)
                channel.send({"kind": "result", "result": {"text": text, "data": data, "main": True}})
        flush_figures()
    except CellTimeout:
        report_error("TimeoutError", f"execution exceeded {timeout_ms / 1000:g} s and was interrupted", [])
        exit_code = 1
    except BaseException as exc:  # noqa: BLE001 - every failure of user code is reported
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        # Drop our own frames: the traceback starts at the cell.
        tb = [line for line in tb if "mitos_kernel.py" not in line]
        report_error(type(exc).__name__, str(exc), tb)
        exit_code = 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return exit_code


def report_error(name, value, tb):
    channel.send({"kind": "error", "error": {"name": name, "value": value, "traceback": tb}})


def pickler():
    try:
        import dill  # serializes functions and classes defined in cells by value

        return dill
    except ImportError:
        import pickle

        return pickle


def snapshot_state(path):
    """Write every picklable global to `path` (for a fork); report what could not be carried."""
    lib = pickler()
    saved, skipped, blobs = [], [], {}
    for name, value in list(namespace.items()):
        if name in ("__builtins__", "display") or (name.startswith("__") and name.endswith("__")):
            continue
        try:
            blobs[name] = lib.dumps(value)
            saved.append(name)
        except Exception:
            skipped.append(name)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        lib.dump(blobs, f)
    os.replace(tmp, path)
    return saved, skipped


def restore_state(path):
    """Load a fork snapshot into the namespace, then give this kernel its own random streams."""
    lib = pickler()
    try:
        with open(path, "rb") as f:
            blobs = lib.load(f)
    except FileNotFoundError:
        return
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    for name, blob in blobs.items():
        try:
            namespace[name] = lib.loads(blob)
        except Exception:
            pass
    reseed()


def reseed():
    """Siblings of a fork start from one state; each must draw its own random numbers."""
    import random

    random.seed(os.urandom(32))
    for value in list(namespace.values()):
        if value is random:
            continue
        if getattr(value, "__name__", None) == "numpy":
            try:
                value.random.seed(int.from_bytes(os.urandom(4), "little"))
            except Exception:
                pass
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed(int.from_bytes(os.urandom(4), "little"))
        except Exception:
            pass


def serve():
    os.makedirs(os.path.dirname(SOCKET_PATH), exist_ok=True)
    try:
        os.unlink(SOCKET_PATH)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET_PATH)
    server.listen(16)
    os.chmod(SOCKET_PATH, 0o600)
    # The engine waits for this line instead of polling the socket.
    os.write(READY_FD, READY_LINE)
    os.close(READY_FD)
    while True:
        conn, _ = server.accept()
        with conn:
            reader = conn.makefile("rb")
            line = reader.readline()
            if not line:
                continue
            try:
                req = json.loads(line)
            except ValueError:
                continue
            if req.get("ping"):
                conn.sendall(json.dumps({"kind": "pong", "pid": os.getpid()}).encode() + b"\n")
                continue
            if req.get("snapshot"):
                try:
                    saved, skipped = snapshot_state(req["snapshot"])
                    reply = {"kind": "snapshot", "saved": saved, "skipped": skipped}
                except Exception as exc:
                    reply = {"kind": "snapshot", "error": f"{type(exc).__name__}: {exc}"}
                conn.sendall(json.dumps(reply).encode() + b"\n")
                continue
            # A kernel started ahead in a pooled sandbox learns its sandbox's hostname and env
            # with its first cell.
            env = req.get("env")
            if isinstance(env, dict):
                os.environ.update({str(k): str(v) for k, v in env.items()})
            with channel.lock:
                channel.conn = conn
            code = run_cell(req.get("code", ""), int(req.get("timeout_ms", 60000)))
            sys.stdout.flush()
            sys.stderr.flush()
            pumps[1].drain(1)
            pumps[2].drain(2)
            channel.send({"kind": "exit", "exit_code": code})
            with channel.lock:
                channel.conn = None


if __name__ == "__main__":
    if os.environ.get("MITOS_KERNEL_RESTORE"):
        restore_state(os.environ.pop("MITOS_KERNEL_RESTORE"))
    serve()
