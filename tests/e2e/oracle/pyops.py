"""Oracle workload: Python file operations, a thread, subprocesses with a
scrubbed environment and closed fds, and loopback/unix socket connects."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading

work = os.getcwd()

with open("a.txt", "w") as f:
    f.write("a")
os.rename("a.txt", "b.txt")
with open("c.txt", "w") as f:
    f.write("c")
os.replace("c.txt", "b.txt")
with open("b.txt") as f:
    f.read()
with open("b.txt", "a") as f:
    f.write("more")

os.makedirs("tree/sub/deeper")
for i in range(3):
    open(os.path.join("tree", "sub", f"f{i}"), "w").close()
os.symlink("b.txt", "sym")
os.link("b.txt", "hard")
shutil.rmtree("tree")

with tempfile.NamedTemporaryFile(dir=work) as t:
    t.write(b"z")
d = tempfile.mkdtemp(dir=work)
open(os.path.join(d, "q"), "w").close()
shutil.rmtree(d)

os.mkdir("cd-here")
os.chdir("cd-here")
with open("rel.txt", "w") as f:  # relative to the new cwd
    f.write("r")
os.chdir(work)

os.unlink("hard")
try:
    os.unlink("missing")
except FileNotFoundError:
    pass
try:
    os.rmdir("cd-here")  # not empty
except OSError:
    pass


def writer():
    with open("from-thread.txt", "w") as f:
        f.write("t")
    os.rename("from-thread.txt", "thread-done.txt")


th = threading.Thread(target=writer)
th.start()
th.join()

subprocess.run(["/bin/cat", "b.txt"], env={}, close_fds=True, check=True,
               stdout=subprocess.DEVNULL)
subprocess.run(["touch", "made-by-touch"], env={"PATH": "/usr/bin:/bin"},
               close_fds=True, check=True)
subprocess.run("rm made-by-touch && mkdir by-shell", shell=True, env={},
               close_fds=True, check=True)

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname())
srv.accept()[0].close()
c.close()
srv.close()
try:
    srv6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv6.bind(("::1", 0))
    srv6.listen(1)
    c6 = socket.create_connection(srv6.getsockname()[:2])
    c6.close()
    srv6.close()
except OSError:
    pass  # no IPv6 loopback here
usrv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
usrv.bind(os.path.join(work, "sock"))
usrv.listen(1)
uc = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
uc.connect("sock")  # relative unix socket path
uc.close()
usrv.close()
os.unlink("sock")
shutil.rmtree("cd-here")
