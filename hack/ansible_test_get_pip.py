"""Stand-in for ansible-test's pip bootstrap script (get-pip).

ansible-test creates each sanity virtual environment without pip and then
runs a "get-pip" script it downloads from its own file server, which these
machines cannot reach (only PyPI is reachable).  This script does the same
job from what is here: the interpreter's bundled pip (ensurepip), then the
requested pip version from PyPI.  Arguments are those ansible-test gives the
real script (pip install options and packages).
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + ARGS)
