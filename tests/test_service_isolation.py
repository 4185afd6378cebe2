"""The core never imports the web stack: only ``ivig_cds.service`` does (and the CLI imports it lazily)."""

from __future__ import annotations

import subprocess
import sys

WEB_STACK = ("fastapi", "starlette", "uvicorn", "jwt", "httpx", "sqlalchemy", "psycopg", "cryptography")


def imported_after(code: str) -> list[str]:
    """The web-stack modules loaded in a fresh interpreter after running ``code``."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {WEB_STACK!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_ivig_cds_loads_no_web_stack() -> None:
    assert (
        imported_after(
            "import ivig_cds, ivig_cds.cli, ivig_cds.outputs.cds_hooks, ivig_cds.outputs, ivig_cds.fhir"
        )
        == []
    )


def test_cds_hooks_cards_from_the_cli_load_no_web_stack() -> None:
    code = (
        "import io, contextlib\nfrom ivig_cds.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['evaluate', 'examples/relapse.json', '-f', 'cds-hooks', '--backend', 'reference'])\n"
        "assert code == 0"
    )
    assert imported_after(code) == []


def test_serve_without_the_service_extra_says_how_to_install_it() -> None:
    for command in ("['feedback', 'report']", "['serve', '--dev']"):
        code = (
            "import sys\nfor m in ('fastapi', 'sqlalchemy', 'uvicorn'):\n    sys.modules[m] = None\n"
            f"from ivig_cds.cli import main\nsys.exit(main({command}))"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert "needs the service extra: pip install 'ivig-cds[service]'" in result.stderr
        assert "Traceback" not in result.stderr
