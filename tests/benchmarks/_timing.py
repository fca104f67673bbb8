"""Time one contender in its own process: wall clock and peak memory (max RSS from wait4)."""
import os
import shutil
import subprocess
import sys
import time


def contender_cmd(script, name, path, tool=None):
    """The command that runs one contender on ``path``: ``tool`` (an argv whose ``{f}`` is
    the capture) when given, else ``python SCRIPT --run NAME PATH``; None when the tool is
    not installed."""
    if tool is not None:
        if not shutil.which(tool[0]):
            return None
        return [a.replace("{f}", str(path)) for a in tool]
    return [sys.executable, script, "--run", name, str(path)]


def count_frames(path) -> int:
    from decoder.capture import open_capture
    with open_capture(str(path)) as cap:
        return sum(1 for _ in cap)


def time_process(cmd, ok=(0,)):
    """``(seconds, peak MiB)`` for running ``cmd`` with its output discarded, or None if its
    exit status is not in ``ok``.

    Run it from a small parent: on Linux a child's max RSS includes what it inherited
    from the parent before exec."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in ok:
        return None
    return elapsed, usage.ru_maxrss / 1024
