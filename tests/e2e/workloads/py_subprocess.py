# Python subprocess with a scrubbed env and close_fds: still traced.
import json, os, socket, subprocess, sys
T = sys.argv[1]
os.chdir(T)
subprocess.run(["/bin/sh", "-c", "echo a > py1 && mv py1 py2 && rm py2"],
               env={"PATH": "/usr/bin:/bin"}, close_fds=True, check=True)
with open("direct", "w") as f:
    f.write("x")
os.unlink("direct")
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port))
c.close()
for e in [
    {"kind": "rename", "path": f"{T}/py1", "path2": f"{T}/py2", "result": 0,
     "argv0": "mv"},
    {"kind": "unlink", "path": f"{T}/py2", "result": 0, "argv0": "rm"},
    {"kind": "open", "path": f"{T}/direct", "flags~": "O_CREAT"},
    {"kind": "unlink", "path": f"{T}/direct", "result": 0},
    {"kind": "connect", "addr": f"127.0.0.1:{port}", "result": 0},
]:
    print(json.dumps(e))
