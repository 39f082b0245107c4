"""Run `python -m core ...` in this process and print its peak RSS (for bench figures)."""
import resource
import sys

from core.cli import main

code = main(sys.argv[1:])
print(f"PEAK_RSS_MB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
sys.exit(code)
