"""`newsletter subscribers …` as an operator runs it: results on stdout, each problem as one
line, errors as one `error:` line with exit status 1 and never a traceback."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.settings import Settings

runner = CliRunner()


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["subscribers", *args], input=input)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def one_error(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


def test_add_show_and_the_errors_an_operator_meets(env: Settings) -> None:
    code, out = run("add", "Ada@Example.com", "--name", "Ada Lovelace")
    assert (code, out.splitlines()[0]) == (0, "added ada@example.com (pending), id 1")
    code, out = run("add", "grace@example.org", "--confirmed")
    assert code == 0
    assert "(active)" in out

    code, out = run("add", "ADA@example.com")
    assert code == 1
    assert one_error(out) == "error: ada@example.com is already on the list (pending)"
    code, out = run("add", "ada@example")
    assert code == 1
    assert one_error(out).startswith("error: 'ada@example': not a valid address: ")
    code, out = run("show", "nobody@example.com")
    assert code == 1
    assert one_error(out) == "error: nobody@example.com is not on the list"

    code, out = run("show", "ADA@example.com")
    assert code == 0
    for expected in ("ada@example.com", "Ada Lovelace", "pending", "added by an operator", "(new)"):
        assert expected in out


def test_import_reports_bad_rows_by_line_and_imports_the_rest(
    env: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "members.csv"
    path.write_text(
        'email,name\nada@example.com,Ada\n"bob@example.com","Bob\nBuilder"\nnot-an-email,X\n'
        "ADA@example.com,Again\n",
        encoding="utf-8",
    )
    code, out = run("import", str(path), "--batch-size", "2")
    assert code == 0, out
    assert (
        f"{path}:5: not-an-email: not a valid address: An email address must have an @-sign." in out
    )
    assert f"{path}:6: ADA@example.com: duplicate in file (first on line 2)" in out
    assert f"{path}: 4 rows: 2 imported, 0 already on the list, 2 bad" in out
    code, out = run("import", str(path), "--confirmed")
    assert code == 0
    assert f"{path}: 4 rows: 0 imported, 2 already on the list, 2 bad" in out
    code, out = run("show", "bob@example.com")
    assert "Bob Builder" in out
    assert "imported from" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"name\nAda\n", ":1: no 'email' column in the header 'name'"),
        (b"email\nada@example.com\nb\xf6b@example.com\n", ":3: not UTF-8"),
    ],
)
def test_import_of_an_unreadable_file_exits_1_naming_the_place(
    env: Settings, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    code, out = run("import", str(path))
    assert code == 1
    error = one_error(out)
    assert str(path) in error
    assert message in error
    _, listed = run("list")
    assert "0 shown of 0" in listed  # nothing imported


def test_error_lines_show_a_file_name_as_it_is(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "[draft] members.csv"
    code, out = run("import", str(path))
    assert code == 1
    assert one_error(out) == f"error: {path}: no such file"


def test_list_and_search(env: Settings) -> None:
    for i, name in enumerate(["Ada Lovelace", "Grace Hopper", "Alan Turing"]):
        run("add", f"p{i}@example.com", "--name", name, *(["--confirmed"] if i else []))
    code, out = run("list")
    assert code == 0
    assert all(f"p{i}@example.com" in out for i in range(3))
    assert "3 shown of 3" in out
    code, out = run("list", "--search", "HOPPER")
    assert "p1@example.com" in out
    assert "p0@example.com" not in out
    code, out = run("list", "--status", "active", "--limit", "1")
    assert "p1@example.com" in out
    assert "1 shown of 2; next page: --after 2" in out
    code, out = run("list", "--status", "active", "--after", "2")
    assert "p2@example.com" in out
    assert "p1@example.com" not in out
    code, out = run("list", "--status", "gone")
    assert code == 2  # the usage error names the choices
    assert "pending" in out


def test_export_to_a_file_and_to_stdout(env: Settings, tmp_path: Path) -> None:
    run("add", "ada@example.com", "--name", '=HYPERLINK("http://x")', "--confirmed")
    run("add", "bob@example.com")
    target = tmp_path / "out.csv"
    code, out = run("export", str(target), "--status", "active")
    assert code == 0
    assert f"exported 1 subscriber(s) to {target}" in out
    rows = list(csv.reader(target.open(encoding="utf-8", newline="")))
    assert rows[0][:3] == ["email", "name", "status"]
    assert rows[1][:3] == ["ada@example.com", '\'=HYPERLINK("http://x")', "active"]
    assert len(rows) == 2
    assert not list(tmp_path.glob(".*partial"))
    result = runner.invoke(app, ["subscribers", "export"])
    assert result.exit_code == 0
    exported = list(csv.reader(io.StringIO(result.stdout)))
    assert [r[0] for r in exported] == ["email", "ada@example.com", "bob@example.com"]
    assert "exported 2 subscriber(s)" in result.stderr


def test_unsubscribe_set_status_and_forget(env: Settings) -> None:
    run("add", "ada@example.com", "--confirmed")
    code, out = run("unsubscribe", "ada@example.com")
    assert (code, out.strip()) == (0, "unsubscribed ada@example.com (was active)")
    code, out = run("set-status", "ada@example.com", "bounced", "--reason", "hard bounce")
    assert (code, out.strip()) == (0, "ada@example.com: unsubscribed -> bounced")
    code, out = run("unsubscribe", "ada@example.com")
    assert "is bounced (suppressed: never mailed): nothing changed" in out
    code, out = run("set-status", "ada@example.com", "ACTIVE")
    assert code == 2  # --reason is required
    assert "--reason" in out
    code, out = run("set-status", "ada@example.com", "active", "--reason", "mailbox fixed")
    assert out.strip() == "ada@example.com: bounced -> active"
    code, out = run("show", "ada@example.com")
    assert "mailbox fixed" in out
    assert "hard bounce" in out

    code, out = run("forget", "ada@example.com", input="n\n")
    assert code == 1  # aborted: nothing happens
    assert run("show", "ada@example.com")[0] == 0
    code, out = run("forget", "ADA@example.com", "--yes")
    assert (code, out.strip()) == (0, "forgot ada@example.com: deleted, and blocked from import")
    code, out = run("show", "ada@example.com")
    assert (
        one_error(out)
        == "error: ada@example.com is not on the list (it was forgotten: GDPR erasure)"
    )
    code, out = run("add", "ada@example.com")
    assert code == 1
    assert "was forgotten (GDPR erasure)" in one_error(out)


def test_stats(env: Settings) -> None:
    run("add", "a@example.com", "--confirmed")
    run("add", "b@example.com")
    code, out = run("stats", "--weeks", "2")
    assert code == 0
    lines = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert "active 1" in lines
    assert "pending 1" in lines
    assert "total 2" in lines
    assert any(line.endswith(" 2 0 0") for line in lines)  # this week: two new


def test_every_command_has_help_with_an_example(env: Settings) -> None:
    for command in (
        "add",
        "import",
        "export",
        "list",
        "show",
        "unsubscribe",
        "forget",
        "set-status",
        "stats",
        "confirm-pending",
        "consent",
    ):
        code, out = run(command, "--help")
        assert code == 0
        assert f"Example: newsletter subscribers {command}" in " ".join(out.split())
