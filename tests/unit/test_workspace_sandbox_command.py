"""The sandbox's command line: its private /tmp is mounted before the runtime is bound, so that a runtime
installed under the host's /tmp (a CI clone, a venv there) is not hidden by it — the core-only demo of CI
failed that way ("the query failed") while every test run from a checkout outside /tmp passed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from guichet.workspace import session_sandbox as sandbox


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_the_private_tmp_comes_before_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    under_tmp = [tmp_path / "venv" / "site-packages", Path("/opt/runtime")]
    monkeypatch.setattr(sandbox, "runtime_paths", lambda: under_tmp)
    cmd = sandbox.bwrap_command(extract=tmp_path / "extract", outputs=tmp_path / "outputs", user=None,
                                limits=sandbox.Limits.of({}, "sql"), fds=(3, 4, 5))
    tmpfs = cmd.index("--tmpfs")
    assert cmd[tmpfs + 1] == sandbox.SANDBOX_TMP
    for path in under_tmp:
        bind = next(i for i in range(len(cmd) - 2) if cmd[i] == "--ro-bind" and cmd[i + 1] == str(path))
        assert tmpfs < bind, f"{path} is bound before the tmpfs that would hide it"
