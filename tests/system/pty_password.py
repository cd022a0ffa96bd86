"""Runs `meshq --agent ENDPOINT VERB USER` on a pseudo-terminal, types
PASSWORD after the prompt, and prints what the terminal showed, then
"EXIT <code>": the test checks the password is not on the screen."""
import os
import pty
import select
import sys
import time

tool, endpoint, verb, user, password = sys.argv[1:6]
pid, fd = pty.fork()
if pid == 0:
    os.execv(tool, [tool, "--agent", endpoint, verb, user])
shown = b""


def read_until(done, seconds):
    global shown
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the program closed the terminal.
                return
            if not data:
                return
            shown += data


read_until(lambda: b"Password: " in shown, 10)
os.write(fd, (password + "\n").encode())
read_until(lambda: False, 10)
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
print("\nEXIT %d" % os.waitstatus_to_exitcode(status))
