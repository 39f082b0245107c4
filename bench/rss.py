"""Run `python -m core ...` in this process and print its peak RSS (for bench figures).

The peak is VmHWM from /proc/self/status, not getrusage's ru_maxrss: Linux carries ru_maxrss
over from the process that started us (subprocess uses vfork, and exec keeps the larger of the
two), so a child of a 2.4 GB bench process reported 2.4 GB however little it used.
"""

import resource
import sys

from core.cli import main


def peak_rss_mb() -> float:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


if __name__ == "__main__":
    code = main(sys.argv[1:])
    print(f"PEAK_RSS_MB {peak_rss_mb():.1f}")
    sys.exit(code)
