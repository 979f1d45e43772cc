"""Stand-in for the get-pip script with which ansible-test bootstraps pip, for machines that reach only the package
index.

ansible-test creates each sanity test's virtual environment without pip, then runs the get-pip script of the pip
version it wants there (``get_pip.py --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``). It
downloads that script from a host that these machines cannot reach, unless its cache
(``~/.ansible/test/cache/get_pip_<version>.py``) has it already. ``make sanity-setup`` (part of ``make test``) runs
this file with ``--seed``, which copies it there under the name of the pip version the installed ansible-test wants;
a real get-pip script already cached is left alone.

As the get-pip script, it leaves the same result: pip of the requested version and nothing else. pip comes from
the interpreter's own ensurepip, then the requested version from the package index.
"""

import importlib.metadata
import os
import shutil
import subprocess
import sys
import types

MARKER = "Stand-in for the get-pip script with which ansible-test bootstraps pip"  # how a cached copy is known
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel", "--no-pip")


def installed(name):
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def bootstrap(argv):
    before = dict((name, installed(name)) for name in ("setuptools", "wheel"))
    quiet = subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
    if quiet.returncode:
        sys.exit("ensurepip failed:\n" + quiet.stdout)
    arguments = [a for a in argv if a not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + arguments)
    # ensurepip of Python < 3.12 brings setuptools along; get-pip leaves it out when told to.
    unwanted = [name for name in ("setuptools", "wheel")
                if "--no-" + name in argv and not before[name] and installed(name)]
    if unwanted:
        subprocess.check_call([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet",
                               "--disable-pip-version-check"] + unwanted)


def seed():
    """Put this file where the installed ansible-test looks for its get-pip script."""
    from ansible_test._internal.python_requirements import get_venv_packages

    version = get_venv_packages(types.SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"]
    cache = os.path.expanduser("~/.ansible/test/cache/get_pip_%s.py" % version.replace(".", "_"))
    if os.path.exists(cache):
        with open(cache) as f:
            if MARKER not in f.read():
                print("%s: a real get-pip script, kept" % cache)
                return
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    shutil.copyfile(os.path.abspath(__file__), cache)
    print("%s: stand-in for get-pip %s" % (cache, version))


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        seed()
    else:
        bootstrap(sys.argv[1:])
