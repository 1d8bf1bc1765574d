"""closer's build step beyond pyproject.toml: a wheel carries the gettext catalogues compiled.

The catalogues' sources stay in the source tree's top-level `locales/<lang>/LC_MESSAGES/<domain>.po`; building
compiles each into the build's `core/locales/<lang>/LC_MESSAGES/<domain>.mo` (never into the source tree), where
core.i18n finds them in an installed wheel. An editable install compiles nothing: it runs from the source tree, whose
`locales/` scripts/setup.sh compiles.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "locales"
# Inside the package `core`: core/i18n.py looks for them beside itself.
PACKAGED = Path("core", "locales")


class build_py_with_catalogues(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self._compile_catalogues()

    def _catalogues(self) -> list[tuple[Path, Path]]:
        """(source .po, compiled .mo in the build) for every language and domain."""
        sources = sorted(SOURCE.glob("*/LC_MESSAGES/*.po"))
        if not sources:
            raise SystemExit(f"no gettext catalogues under {SOURCE}: the wheel would serve untranslated texts")
        return [(po, Path(self.build_lib) / PACKAGED / po.relative_to(SOURCE).with_suffix(".mo")) for po in sources]

    def _compile_catalogues(self) -> None:
        # Babel is a build requirement ([build-system] in pyproject.toml); `pybabel compile` does the same.
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po, mo in self._catalogues():
            language, domain = po.parent.parent.name, po.stem
            with po.open("rb") as handle:
                catalog = read_po(handle, locale=language, domain=domain)
            if catalog.fuzzy:
                # pybabel skips a catalogue marked fuzzy; the app would then fail to start on its language.
                raise SystemExit(f"{po} is marked fuzzy: review it (drop the header's fuzzy flag) before building")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with mo.open("wb") as handle:
                write_mo(handle, catalog)
            print(f"compiled {po.relative_to(SOURCE.parent)} -> {mo.relative_to(self.build_lib)}")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return outputs + [str(mo) for _po, mo in self._catalogues()]


setup(cmdclass={"build_py": build_py_with_catalogues})
