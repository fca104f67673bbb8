"""Time one contender in its own process: wall clock and peak memory (max RSS from wait4)."""
import os
import subprocess
import time


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
