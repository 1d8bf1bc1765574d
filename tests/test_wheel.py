"""closer installs like a package: the wheel built from the checkout carries every package, the migrations, the
pages' files and the compiled gettext catalogues, and installed (not editable) into a fresh venv it migrates a
database and serves, translated, from a directory outside the source tree.

One test, 30-50 s on a 2-core machine (more when other tests load it): building the wheel ~6 s (pip's isolated
build, which installs the build requirements from the configured index), installing it ~1 s, the rest two processes
importing aiogram (seconds of CPU each) side by side: the probe with `closer migrate`, and `closer demo`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from harness.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"closer", "core", "webio", "storage", "sales", "jobs", "bot", "handlers", "inbox", "providers", "delivery",
           "telegram_emulator"}
# Where the installed interpreter finds closer and its catalogues; then `closer migrate` (the console script's
# closer.cli.main) in the same process, which saves a third process importing aiogram (seconds of CPU) alongside
# the demo's.
PROBE = """
import json, sys, sysconfig
import closer, closer.cli, core.i18n, storage.migrations
i18n = core.i18n.make_i18n()
print(json.dumps({
    "closer": closer.__file__, "migrations": list(storage.migrations.__path__), "path": sys.path,
    "purelib": sysconfig.get_path("purelib"), "locales_dir": str(core.i18n.LOCALES_DIR),
    "locales": sorted(i18n.available_locales), "take_ru": i18n.gettext("Take", locale="ru"),
}), flush=True)
sys.exit(closer.cli.main(["migrate"]))
"""


def _copy_checkout(target: Path) -> None:
    """The working tree's files as git sees them (tracked, and new ones not ignored): what a clean checkout of this
    state holds, without .venv, the compiled catalogues or build leftovers."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout
    for name in filter(None, listed.split(b"\0")):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # a file deleted in the working tree but not yet in the index is listed too
            destination = target / os.fsdecode(name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def _run(command: list[str], **options) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **options)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _two_free_ports() -> int:
    """A free port whose next one is free too: `closer demo` serves on HTTP_PORT and its Telegram on HTTP_PORT + 1."""
    while True:
        port = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


def _get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _wheel_holds_what_closer_needs(wheel: Path, source: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {name.split("/", 1)[0] for name in names}
    assert top - {d for d in top if d.endswith(".dist-info")} == SHIPPED
    for package in SHIPPED:
        for module in (source / package).rglob("*.py"):
            assert module.relative_to(source).as_posix() in names
    pages = [*(source / "inbox" / "templates").glob("*.html"), *(source / "inbox" / "static").glob("*"),
             source / "telegram_emulator" / "page.html", *(source / "storage" / "migrations").glob("0*.py")]
    assert len(pages) > 15
    for page in pages:
        assert page.relative_to(source).as_posix() in names
    catalogues = sorted((source / "locales").glob("*/LC_MESSAGES/*.po"))
    assert {p.stem for p in catalogues} == {"messages", "inbox"} and len({p.parts[-3] for p in catalogues}) >= 4
    for po in catalogues:
        assert f"core/locales/{po.relative_to(source / 'locales').with_suffix('.mo').as_posix()}" in names
    assert not [name for name in names if name.endswith(".po")]
    # Compiled into the build, not into the tree it was built from.
    assert not (source / "core" / "locales").exists()
    assert not list((source / "locales").rglob("*.mo"))


def test_the_wheel_installs_into_a_fresh_venv_and_migrates_and_serves_translated_pages(tmp_path):
    assert not tmp_path.resolve().is_relative_to(ROOT)
    source, dist, venv, cwd = (tmp_path / name for name in ("source", "dist", "venv", "cwd"))
    cwd.mkdir()
    _copy_checkout(source)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(source)])
    (wheel,) = dist.glob("closer-*.whl")
    _wheel_holds_what_closer_needs(wheel, source)

    # A venv of its own, whose site-packages gets the wheel. The dependencies come from the project's venv, added
    # to sys.path by a .pth line after the fresh site-packages: a directory added so has its own .pth files (the
    # editable install's finder among them) left unread, so the source tree's closer cannot be found through it.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    dependencies = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "closer-dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(dependencies)))
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
          str(wheel)])

    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
           "LANG": "C.UTF-8", "LOG_LEVEL": "WARNING", "TELEGRAM_API_URL": "http://127.0.0.1:1"}
    port = _two_free_ports()
    log = (tmp_path / "demo.log").open("w+")
    demo = subprocess.Popen([str(venv / "bin" / "closer"), "demo"], cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            env=env | {"HTTP_PORT": str(port), "HTTP_HOST": "127.0.0.1"})
    try:
        database = tmp_path / "migrated.db"
        migrated = _run([str(python), "-c", PROBE], cwd=cwd, env=env | {"DATABASE_URL": f"sqlite://{database}"})
        probe = json.loads(migrated.stdout.splitlines()[0])
        assert Path(probe["closer"]).is_relative_to(purelib), probe
        assert [Path(p).is_relative_to(purelib) for p in probe["migrations"]] == [True]
        assert str(ROOT) not in probe["path"] and str(source) not in probe["path"]
        assert Path(probe["locales_dir"]) == purelib / "core" / "locales"
        assert probe["locales"] == ["en", "es", "ru", "uk"] and probe["take_ru"] == "Взять"
        assert "database is up to date" in migrated.stdout
        with sqlite3.connect(database) as db:
            applied = {name for (name,) in db.execute("SELECT name FROM tortoise_migrations")}
        assert applied == {p.stem for p in (source / "storage" / "migrations").glob("0*.py")}

        deadline = time.monotonic() + 120
        while True:
            assert demo.poll() is None, _log(log)
            try:
                if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, _log(log)
            time.sleep(0.2)
        status, page = _get(f"http://127.0.0.1:{port}/inbox/login", **{"Accept-Language": "ru-RU,ru;q=0.9"})
        assert status == 200 and "<title>Войти · closer</title>" in page, page[:2000]
        status, page = _get(f"http://127.0.0.1:{port}/inbox/static/login.js")
        assert status == 200 and page
        status, page = _get(f"http://127.0.0.1:{port + 1}/")
        assert status == 200 and "<html" in page.lower()
        assert (cwd / "closer-demo.db").exists()
    finally:
        # The demo takes ~13 s to stop on SIGTERM; how it stops is not what this test is about.
        demo.terminate()
        try:
            demo.wait(timeout=3)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        log.close()


def _log(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:]
