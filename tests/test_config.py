"""Config: defaults, validation that names the key, and every way of loading a config."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hypercorn.config import Config, ConfigError, load_config, options, reference_markdown

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE = REPO_ROOT / "docs" / "reference" / "config.md"
REGENERATE = "python -m hypercorn.config > docs/reference/config.md"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


# --- defaults ----------------------------------------------------------------------------


def test_defaults() -> None:
    config = Config()
    assert config.bind == ["127.0.0.1:8000"]
    assert config.workers == 1
    assert config.worker_class == "auto"
    assert config.http == "auto"
    assert config.lifespan == "auto"
    assert config.keep_alive_timeout == 5.0
    assert config.graceful_timeout == 10.0
    assert config.server_header == "hypercorn"
    assert config.date_header is True
    assert config.response_headers == []
    assert config.pid_path is None
    assert config.certfile is None
    assert config.log_level == "info"
    assert config.error_logfile == "-"
    assert config.access_logfile is None
    assert config.access_log_format == '%(h)s "%(r)s" %(s)s %(b)s %(D)s'


def test_defaults_match_the_option_table() -> None:
    config = Config()
    for name, info in options().items():
        assert getattr(config, name) == info.default, name


def test_list_defaults_are_not_shared_between_configs() -> None:
    first = Config()
    first.bind.append("unix:/tmp/x.sock")
    first.response_headers.append("X-A: 1")
    second = Config()
    assert second.bind == ["127.0.0.1:8000"]
    assert second.response_headers == []


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"workers": "2"}, "workers: expected an integer, got str '2'"),
        ({"workers": True}, "workers: expected an integer, got bool True"),
        ({"backlog": 2.5}, "backlog: expected an integer, got float 2.5"),
        ({"backlog": -1}, "backlog: must not be negative, got -1"),
        ({"keep_alive_timeout": "5"}, "keep_alive_timeout: expected a number, got str '5'"),
        ({"graceful_timeout": False}, "graceful_timeout: expected a number, got bool False"),
        ({"graceful_timeout": -0.5}, "graceful_timeout: must not be negative, got -0.5"),
        ({"date_header": 1}, "date_header: expected true or false, got int 1"),
        ({"date_header": "yes"}, "date_header: expected true or false, got str 'yes'"),
        ({"http": "h2"}, "http: expected one of 'auto', 'httptools', 'h11', got 'h2'"),
        ({"lifespan": "yes"}, "lifespan: expected one of 'auto', 'on', 'off', got 'yes'"),
        ({"log_level": "INFO"}, "log_level: expected one of"),
        ({"server_header": None}, "server_header: expected a string, got NoneType None"),
        ({"pid_path": 3}, "pid_path: expected a string, got int 3"),
        ({"bind": ["127.0.0.1:80", 81]}, "bind: expected a list of strings"),
        ({"bind": 8000}, "bind: expected a list of strings, got int 8000"),
    ],
)
def test_a_wrong_value_is_an_error_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**changes)
    assert str(info.value).startswith(message)


def test_numbers_are_coerced_where_that_is_lossless() -> None:
    config = Config(keep_alive_timeout=7, backlog=0)
    assert config.keep_alive_timeout == 7.0
    assert isinstance(config.keep_alive_timeout, float)
    assert config.backlog == 0


def test_optional_options_accept_none() -> None:
    config = Config(certfile="cert.pem", error_logfile=None).replace(certfile=None)
    assert config.certfile is None
    assert config.error_logfile is None


def test_bind_accepts_a_string_or_a_tuple() -> None:
    assert Config(bind="0.0.0.0:80").bind == ["0.0.0.0:80"]  # type: ignore[arg-type]
    assert Config(bind=("a:1", "b:2")).bind == ["a:1", "b:2"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("keep_alive", "unknown option 'keep_alive' (did you mean 'keep_alive_timeout'?)"),
        ("worker", "unknown option 'worker' (did you mean 'workers'?)"),
        ("zzz", "unknown option 'zzz'"),
    ],
)
def test_an_unknown_key_is_an_error_with_a_hint(key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_mapping({key: 1}, "settings")
    assert str(info.value) == f"settings: {message}"


def test_from_mapping_names_the_source_in_type_errors() -> None:
    with pytest.raises(ConfigError, match=r"^settings: workers: expected an integer"):
        Config.from_mapping({"workers": "four"}, "settings")


# --- replace -----------------------------------------------------------------------------


def test_replace_returns_a_validated_copy() -> None:
    original = Config(keep_alive_timeout=3)
    changed = original.replace(keep_alive_timeout=7, bind="unix:/tmp/s")
    assert changed.keep_alive_timeout == 7.0
    assert changed.bind == ["unix:/tmp/s"]
    assert original.keep_alive_timeout == 3.0
    assert original.bind == ["127.0.0.1:8000"]
    with pytest.raises(ConfigError, match=r"^workers: must not be negative"):
        original.replace(workers=-1)


def test_replace_rejects_an_unknown_key_with_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'grace_timeout'.*'graceful_timeout'"):
        Config().replace(grace_timeout=1)


# --- TOML --------------------------------------------------------------------------------


def test_toml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "hypercorn.toml",
        """
        bind = ["127.0.0.1:9000", "unix:/tmp/h.sock"]
        keep_alive_timeout = 7
        graceful_timeout = 2.5
        date_header = false
        http = "h11"
        response_headers = ["X-Frame-Options: DENY"]
        """,
    )
    for config in (Config.from_toml(path), load_config(str(path))):
        assert config.bind == ["127.0.0.1:9000", "unix:/tmp/h.sock"]
        assert config.keep_alive_timeout == 7.0
        assert config.graceful_timeout == 2.5
        assert config.date_header is False
        assert config.http == "h11"
        assert config.response_headers == ["X-Frame-Options: DENY"]
        assert config.workers == 1  # untouched options keep their defaults


def test_toml_bind_may_be_a_string(tmp_path: Path) -> None:
    path = write(tmp_path / "h.toml", 'bind = "0.0.0.0:80"\n')
    assert load_config(str(path)).bind == ["0.0.0.0:80"]


def test_toml_unknown_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "h.toml", "keep_alive = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == (
        f"{path}: unknown option 'keep_alive' (did you mean 'keep_alive_timeout'?)"
    )


def test_toml_wrong_type_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "h.toml", 'workers = "4"\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == f"{path}: workers: expected an integer, got str '4'"


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "h.toml", "workers = \n")
    with pytest.raises(ConfigError, match=r"is not valid TOML") as info:
        load_config(str(path))
    assert str(path) in str(info.value)


def test_missing_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"^cannot read config file .*absent\.toml"):
        load_config(str(path))


# --- Python files and modules ------------------------------------------------------------

PYTHON_CONFIG = textwrap.dedent(
    """
    import os
    from pathlib import Path

    def cpu_bound_backlog() -> int:
        return 128 * 2

    class Helper:
        pass

    _private = "not an option"
    bind = ["127.0.0.1:9001"]
    backlog = cpu_bound_backlog()
    keep_alive_timeout = 7
    server_header = os.path.basename("/x/custom")
    """
)


@pytest.mark.parametrize("spec", ["file:{path}", "{path}"])
def test_python_file(tmp_path: Path, spec: str) -> None:
    path = write(tmp_path / "conf.py", PYTHON_CONFIG)
    config = load_config(spec.format(path=path))
    assert config.bind == ["127.0.0.1:9001"]
    assert config.backlog == 256
    assert config.keep_alive_timeout == 7.0
    assert config.server_header == "custom"


def test_python_file_unknown_plain_value_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "conf.py", PYTHON_CONFIG + "keepalive = 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(f"file:{path}")
    assert str(info.value) == (
        f"{path}: unknown option 'keepalive' (did you mean 'keep_alive_timeout'?)"
    )


def test_python_file_wrong_type_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "conf.py", "graceful_timeout = '10'\n")
    with pytest.raises(ConfigError, match=r"graceful_timeout: expected a number, got str"):
        load_config(str(path))


def test_missing_python_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file .*absent\.py does not exist$"):
        load_config(f"file:{tmp_path / 'absent.py'}")


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path; modules imported from it are forgotten after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("hc_test_conf"):
            del sys.modules[name]


def test_python_module(module_dir: Path) -> None:
    write(module_dir / "hc_test_conf_ok.py", PYTHON_CONFIG)
    config = load_config("python:hc_test_conf_ok")
    assert config.backlog == 256
    assert config.server_header == "custom"


def test_python_module_unknown_plain_value_is_an_error(module_dir: Path) -> None:
    write(module_dir / "hc_test_conf_bad.py", "import os\nworkerz = 2\n")
    with pytest.raises(ConfigError) as info:
        load_config("python:hc_test_conf_bad")
    assert str(info.value) == (
        "module hc_test_conf_bad: unknown option 'workerz' (did you mean 'workers'?)"
    )


def test_missing_python_module(module_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config module 'hc_test_conf_absent' not found$"):
        load_config("python:hc_test_conf_absent")


def test_python_module_with_a_broken_import_shows_the_real_error(module_dir: Path) -> None:
    # The module exists; what it imports does not. That is the user's bug, not "not found".
    write(module_dir / "hc_test_conf_broken.py", "import hc_test_no_such_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="hc_test_no_such_dependency"):
        load_config("python:hc_test_conf_broken")


# --- the generated reference -------------------------------------------------------------


def test_reference_mentions_every_option_and_flag() -> None:
    text = reference_markdown()
    for name, info in options().items():
        assert f"`{name}`" in text, name
        assert info.doc.replace("|", "\\|") in text, name
        if info.cli:
            for flag in info.flags:
                assert f"`{flag}`" in text, flag


def test_committed_reference_is_up_to_date() -> None:
    committed = REFERENCE.read_text() if REFERENCE.exists() else ""
    assert committed == reference_markdown(), (
        f"{REFERENCE.relative_to(REPO_ROOT)} is stale; regenerate it with `{REGENERATE}`"
    )


def test_regeneration_command_prints_the_reference() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hypercorn.config"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout == reference_markdown()
