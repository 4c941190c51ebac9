"""`[model] from` reads only regular files of bounded size inside the plan's repository (issue 16)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from deploylint.core.plan.hf import MAX_CONFIG_BYTES, HFConfigError, read_config
from deploylint.core.plan.resolve import repository_root

EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
CONFIG = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
          "num_hidden_layers": 32, "intermediate_size": 14336, "vocab_size": 128256}


def plan(source: str) -> str:
    return (f'schema_version = 1\n[model]\nfrom = "{source}"\n[hardware]\naccelerator = "h100-sxm"\nnum_devices = 8\n'
            '[parallelism]\ntp = 8\n[workload]\nmode = "inference"\nbatch_size = 8\nseq_len = 1024\n')


def check(folder, *args, plan="deploy.toml"):
    return subprocess.run([EXE, "check", plan, "--format", "json", *args], capture_output=True, text=True,
                          cwd=folder, stdin=subprocess.DEVNULL, timeout=60)


def dl004(out) -> list[str]:
    return [d["message"] for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "DL004"]


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "plans").mkdir()
    return tmp_path / "repo"


def test_the_repository_is_the_nearest_git_work_tree(repo):
    assert repository_root(str(repo / "plans" / "deploy.toml")) == str(repo)


def test_a_config_inside_the_repository_is_read(repo):
    (repo / "configs").mkdir()
    (repo / "configs" / "config.json").write_text(json.dumps(CONFIG))
    (repo / "plans" / "deploy.toml").write_text(plan("../configs/config.json"))
    assert dl004(check(repo / "plans")) == []


@pytest.mark.parametrize("source", ["/etc/passwd", "/no/such/file.json", "../../outside.json"])
def test_a_path_outside_the_repository_is_refused_alike_whether_it_exists_or_not(repo, source):
    (repo.parent / "outside.json").write_text(json.dumps(CONFIG))
    (repo / "plans" / "deploy.toml").write_text(plan(source))
    [message] = dl004(check(repo / "plans"))
    assert message == (f"model.from = {source!r} points outside the plan's repository ({repo}); deploylint reads "
                       "model configs only there, or in a folder listed in model-paths in [tool.deploylint]")
    assert "root:" not in message and "no such file" not in message


def test_a_link_inside_the_repository_to_a_device_outside_is_refused(repo):
    os.symlink("/dev/zero", repo / "plans" / "config.json")
    (repo / "plans" / "deploy.toml").write_text(plan("config.json"))
    [message] = dl004(check(repo / "plans"))
    assert "points outside the plan's repository" in message


def test_model_paths_in_the_configuration_allow_another_folder(repo):
    shared = repo.parent / "shared-models"
    shared.mkdir()
    (shared / "config.json").write_text(json.dumps(CONFIG))
    (repo / "deploylint.toml").write_text('[tool.deploylint]\nmodel-paths = ["../shared-models"]\n')
    (repo / "plans" / "deploy.toml").write_text(plan(str(shared / "config.json")))
    assert dl004(check(repo / "plans")) == []


def test_a_fifo_is_refused_without_blocking(repo):
    os.mkfifo(repo / "plans" / "config.json")
    (repo / "plans" / "deploy.toml").write_text(plan("config.json"))
    [message] = dl004(check(repo / "plans"))     # the timeout of check() fails the test if it blocks
    assert "is not a regular file (a FIFO, device or socket); only regular files are read" in message


def test_devices_and_oversized_files_are_refused_by_the_reader(tmp_path):
    with pytest.raises(HFConfigError, match="/dev/zero is not a regular file"):
        read_config("/dev/zero")
    big = tmp_path / "config.json"
    big.write_bytes(b" " * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(HFConfigError, match="larger than 4 MiB"):
        read_config(str(big))


# The configuration and the adapted files are in the checked repository too: a path they name is held to the
# same rule as [model] from, and what the file outside holds is never quoted.
SECRET = "root:x:0:0:secret-token-9f3a:/root:/bin/bash\n"


def _outside(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "passwd").write_text(SECRET)
    return tmp_path / "elsewhere" / "passwd"


SERVE_ACME = "#!/bin/sh\nvllm serve acme/model --tensor-parallel-size 2\n"
DS_CONFIG = '{"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 1}}\n'


@pytest.mark.parametrize("config, plan, text, said", [
    ('[tool.deploylint.models]\n"ds*.json" = {{ from = "{secret}" }}\n', "ds_config.json", DS_CONFIG,
     "points outside the checked repository"),
    ('[tool.deploylint.models]\n"acme/model" = "{secret}"\n', "serve.sh", SERVE_ACME, "outside the checked repository"),
], ids=["models-glob-from", "models-id-mapping"])
def test_a_models_table_path_outside_the_repository_is_refused_without_reading_it(repo, tmp_path, config, plan, text,
                                                                                  said):
    secret = _outside(tmp_path)
    (repo / "deploylint.toml").write_text(config.format(secret=secret))
    (repo / plan).write_text(text)
    out = check(repo, plan=plan)
    (message,) = dl004(out)
    assert said in message and "secret-token" not in out.stdout + out.stderr


def test_a_local_model_folder_in_a_command_outside_the_repository_is_refused(repo, tmp_path):
    secret = _outside(tmp_path)
    (repo / "serve.sh").write_text(f"#!/bin/sh\nvllm serve {secret} --tensor-parallel-size 2\n")
    out = check(repo, plan="serve.sh")
    (message,) = dl004(out)
    assert "outside the checked repository" in message and "secret-token" not in out.stdout + out.stderr
    # said the same way for a path that does not exist: the repository cannot learn what is on the machine
    (repo / "serve.sh").write_text(f"#!/bin/sh\nvllm serve {secret}-missing --tensor-parallel-size 2\n")
    (missing,) = dl004(check(repo, plan="serve.sh"))
    assert missing.replace("-missing", "") == message
    # inside the repository (or a model-paths folder) the same kind of reference is read
    (repo / "models").mkdir()
    (repo / "models" / "config.json").write_text(json.dumps(CONFIG))
    (repo / "serve.sh").write_text("#!/bin/sh\nvllm serve ./models --tensor-parallel-size 2\n")
    assert dl004(check(repo, plan="serve.sh")) == []
