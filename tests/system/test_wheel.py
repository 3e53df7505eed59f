"""The wheel a user installs holds the product and nothing else: no test support (tiny
models, fakes, servers), no tests, no benchmarks, and every package of the product."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from testkit.paths import ROOT


def test_the_wheel_holds_the_product_and_no_test_support(tmp_path):
    # built from a copy of the whole checkout: a build/ folder left in it could hold files
    # that are gone from the tree
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", "*_cache"
        ),
    )
    out = tmp_path / "out"
    subprocess.run(
        [
            *(
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
            ),
            *("-q", "--disable-pip-version-check", "-w", str(out), str(source)),
        ],
        check=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_INDEX": "1"},
    )
    (wheel,) = out.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"core", "desktop_app", "ptt_assistant-0.1.0.dist-info"}, top
    # every package of the source tree made it in
    packages = {
        str(init.parent.relative_to(ROOT))
        for folder in ("core", "desktop_app")
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert packages <= {name.rsplit("/", 1)[0] for name in names}
    assert not [n for n in names if "tiny_model" in n or "fake_" in n]
