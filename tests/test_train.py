"""GRPO training: learning signal, resume without replay, MLflow logging, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import require
from PIL import Image, ImageDraw

from visreason import VisreasonError
from visreason.cli import main
from visreason.files import read_json
from visreason.params import load_params
from visreason.rewards import DESIGNS
from visreason.train import run_train


def write_dataset(root: Path, n: int = 8) -> Path:
    """A dataset folder in the `visreason data build` layout, with n clock records."""
    (root / "images" / "clock").mkdir(parents=True)
    lines = []
    for i in range(n):
        rid = f"clock-{i:04d}"
        image = Image.new("RGB", (64, 64), "white")
        ImageDraw.Draw(image).ellipse((4, 4, 60, 60), outline="black")
        image.save(root / "images" / "clock" / f"{rid}.png")
        hour = i % 12 + 1
        record = {
            "id": rid,
            "category": "clock",
            "image": f"images/clock/{rid}.png",
            "question": f"What time does the clock show? ({i})",
            "options": [f"{hour}:00", f"{hour % 12 + 1}:00"],
            "answer": f"{hour}:00",
            "solution": {"current_hour": hour, "current_minute": 0, "add_hour": 0, "add_minute": 0},
            "description": f"It is {hour}:00.",
            "source": "test",
            "split": "train",
        }
        lines.append(json.dumps(record))
    (root / "records.jsonl").write_text("\n".join(lines) + "\n")
    (root / "manifest.json").write_text("{}\n")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"))


def smoke_params(**train) -> dict:
    params = load_params(scale="smoke")
    params["train"].update({"max_steps": 2, "max_completion_length": 8, "save_steps": 100, **train})
    return params


def even_token_reward(completions, completion_ids, **kwargs) -> list[float]:
    """Pays the share of even token ids: about 0.5 for the random tiny model, learnable to 1."""
    return [sum(1 for t in ids if t % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


def _mean(xs):
    return sum(xs) / len(xs)


@pytest.mark.slow
def test_learning_signal_and_trained_weights_reload(tiny_model, data, tmp_path):
    from safetensors.torch import load_file

    from visreason.models import load_model_and_processor

    params = smoke_params(
        max_steps=40,
        learning_rate=2e-2,
        max_completion_length=16,
        num_generations=8,
        per_device_train_batch_size=16,
        log_completions_steps=20,
    )
    summary = run_train(
        params, reward="vanilla", seed=0, data=data, model=tiny_model, out=tmp_path / "out", reward_fn=even_token_reward
    )
    history = json.loads((tmp_path / "out" / "checkpoints" / "checkpoint-40" / "trainer_state.json").read_text())
    rewards = [h["reward"] for h in history["log_history"] if "reward" in h]
    assert len(rewards) == summary["steps"] == 40
    first, last = _mean(rewards[:10]), _mean(rewards[-10:])
    assert last > first + 0.15, f"mean reward did not rise: first quarter {first:.3f}, last quarter {last:.3f}"

    before, after = (
        load_file(tiny_model / "model.safetensors"),
        load_file(tmp_path / "out" / "final" / "model.safetensors"),
    )
    assert before.keys() == after.keys()
    assert not (before["lm_head.weight"] == after["lm_head.weight"]).all()
    model, processor = load_model_and_processor(tmp_path / "out" / "final")
    assert (model.lm_head.weight == after["lm_head.weight"]).all()
    assert processor.tokenizer.convert_tokens_to_ids("<|image_pad|>") == model.config.image_token_id


def _weights(folder: Path) -> dict[str, bytes]:
    from safetensors.torch import load_file

    return {k: v.numpy().tobytes() for k, v in load_file(folder / "model.safetensors").items()}


class Recorder:
    """`even_token_reward`, recording the ids of every batch; optionally crashes at a call."""

    def __init__(self, crash_at: int | None = None):
        self.batches, self.crash_at = [], crash_at

    def __call__(self, completions, completion_ids, id, **kwargs):
        if len(self.batches) + 1 == self.crash_at:
            raise RuntimeError("simulated preemption")
        self.batches.append(list(id))
        return even_token_reward(completions, completion_ids)


@pytest.mark.slow
def test_killed_run_resumes_without_replaying_data(tiny_model, data, tmp_path):
    # 8 records, 2 prompts per step: an epoch is 4 steps; the run is killed in epoch 1, after checkpoint 5
    params = smoke_params(max_steps=7, save_steps=5, learning_rate=1e-2)
    straight = Recorder()
    reference = run_train(
        params, reward="vanilla", seed=0, data=data, model=tiny_model, out=tmp_path / "a", reward_fn=straight
    )

    def train_b(params, reward_fn):
        return run_train(
            params, reward="vanilla", seed=0, data=data, model=tiny_model, out=tmp_path / "b", reward_fn=reward_fn
        )

    killed = Recorder(crash_at=6)
    with pytest.raises(RuntimeError, match="preemption"):
        train_b(params, killed)
    assert not (tmp_path / "b" / "final").exists() and not (tmp_path / "b" / "train_summary.json").exists()
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").glob("checkpoint-*")) == ["checkpoint-5"]
    run_id = (tmp_path / "b" / "mlflow_run_id").read_text()

    resumed = Recorder()
    summary = train_b(params, resumed)
    assert summary["steps"] == 7
    assert killed.batches + resumed.batches == straight.batches  # same prompts, same order, none replayed
    assert straight.batches[4] != straight.batches[0]  # epoch 1 is not epoch 0's order again
    assert (tmp_path / "b" / "mlflow_run_id").read_text() == run_id  # the same MLflow run continues
    assert summary["final_rewards"] == reference["final_rewards"]
    assert _weights(tmp_path / "b" / "final") == _weights(tmp_path / "a" / "final")  # bit for bit

    # a longer rerun extends the finished run from its last checkpoint; an equal one does nothing
    params["train"]["max_steps"] = 8
    more = Recorder()
    assert train_b(params, more)["steps"] == 8
    assert len(more.batches) == 1
    again = Recorder()
    assert train_b(params, again)["steps"] == 8
    assert again.batches == []

    # other settings: the old run is moved aside (never resumed from), and training starts over
    params["train"]["learning_rate"] = 1e-3
    params["train"]["max_steps"] = 2
    fresh = Recorder()
    assert train_b(params, fresh)["steps"] == 2
    assert fresh.batches == straight.batches[:2]  # from step 0, not from checkpoint 8
    aside = tmp_path / "b" / "superseded"
    assert read_json(aside / "train_config.json")["learning_rate"] == 1e-2
    assert (aside / "checkpoints" / "checkpoint-8").is_dir()
    assert (tmp_path / "b" / "mlflow_run_id").read_text() != run_id  # a new MLflow run


@pytest.mark.slow
@pytest.mark.parametrize("reward", sorted(DESIGNS))
def test_cli_smoke_every_reward(reward, tiny_model, data, tmp_path):
    out = tmp_path / reward
    argv = [
        "train",
        "--reward",
        reward,
        "--seed",
        "0",
        "--data",
        str(data),
        "--model",
        str(tiny_model),
        "--out",
        str(out),
    ]
    params = tmp_path / "params.yaml"
    shutil.copy(Path(__file__).resolve().parents[1] / "params.yaml", params)
    _override(params, {"max_steps": 2, "max_completion_length": 8})
    assert main([*argv, "--params", str(params)]) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["reward"] == reward
    assert "reward/total" in summary["final_rewards"]
    assert (out / "final" / "model.safetensors").is_file()


def _override(path: Path, train: dict) -> None:
    """The smoke scale (the lab default overrides train's settings) with `train` edited."""
    params = yaml.safe_load(path.read_text()) | {"scale": "smoke"}
    params["train"].update(train)
    path.write_text(yaml.safe_dump(params))


def test_mlflow_run_has_params_metrics_tags_and_tables(tiny_model, data, tmp_path, capsys):
    import mlflow
    import torch

    from visreason.files import sha256_file
    from visreason.train import portable

    summary = run_train(
        smoke_params(log_completions_steps=1),
        reward="mixture",
        seed=3,
        data=data,
        model=tiny_model,
        out=tmp_path / "out",
    )
    client = mlflow.MlflowClient()
    r = client.get_run(summary["mlflow_run_id"])
    assert r.info.run_name == "mixture-seed3" and r.info.status == "FINISHED"
    assert r.data.tags["reward"] == "mixture" and r.data.tags["seed"] == "3" and r.data.tags["stage"] == "train"
    assert r.data.tags["git_commit"] and r.data.tags["dataset_manifest"] == summary["dataset_manifest_sha256"]
    assert r.data.tags["model"] == portable(tiny_model) == summary["model"]
    # params: the job's resolved settings only, never all of params.yaml (other designs, cluster resources)
    params = r.data.params
    assert params["train.learning_rate"] == str(smoke_params()["train"]["learning_rate"])
    assert params["job.reward"] == "mixture" and params["derived.updates_per_rollout"] == "1"
    assert {k.split(".")[0] for k in params} == {"train", "job", "derived", "generation"}
    assert len(params) < 60
    # the same metric names for every design; the design is in the `reward` tag
    metrics = r.data.metrics
    for key in ("reward/total", "reward/accuracy", "reward/think", "reward/rethink", "reward/image_description"):
        assert key in metrics, key
    for key in ("completions/mean_length", "completions/clipped_ratio", "entropy", "step_time", "loss", "grad_norm"):
        assert key in metrics, key
    assert not [k for k in metrics if k.startswith("rewards/") or k in ("reward", "reward_std")]
    assert [m.step for m in client.get_metric_history(r.info.run_id, "reward/total")] == [1, 2]
    # the training set as an MLflow dataset input, its digest the manifest's sha256
    (dataset_input,) = r.inputs.dataset_inputs
    manifest_sha = sha256_file(data / "manifest.json")
    assert dataset_input.dataset.digest == manifest_sha[:36] and dataset_input.dataset.name == data.name
    assert {t.key: t.value for t in dataset_input.tags}["manifest_sha256"] == manifest_sha
    artifacts = {a.path for a in client.list_artifacts(r.info.run_id)} | {
        a.path for a in client.list_artifacts(r.info.run_id, "completions")
    }
    assert {"reward_curve.png", "completions/step_000001.json", "completions/step_000002.json"} <= artifacts
    table = mlflow.load_table("completions/step_000002.json", run_ids=[r.info.run_id])
    assert len(table) == 8 and {"completion", "reward", "answer", "predicted", "term/accuracy"} <= set(table.columns)

    # the resolved generation engine, said loudly for `auto` and recorded
    err = capsys.readouterr().err
    engine = summary["generation"]
    if not torch.cuda.is_available():
        assert engine["engine"] == "transformers" and engine["why"] == "no GPU"
        assert "train.use_vllm: auto -> transformers (no GPU)" in err
    assert params["generation.engine"] == engine["engine"] == r.data.tags["generation_engine"]
    # the tiny random model earns no reward: no update, said loudly and recorded
    assert summary["no_update"] is True and "frac_reward_zero_std 1" in summary["no_update_reason"]
    assert "WARNING: this job made no update: grad_norm was 0 at all 2 steps" in err
    assert r.data.tags["no_update"] == "true" and r.data.tags["no_update_reason"] == summary["no_update_reason"]
    # 8 tokens cannot hold the four tags of the mixture prompt: said before training
    (line,) = summary["cannot_learn"]
    assert line.startswith("train.max_completion_length 8 cannot hold the mixture design's tags")
    assert f"WARNING: cannot learn: {line}" in err and r.data.tags["cannot_learn"] == line


# ------------------------------------------------------------------ bad input: fails before any compute


def _fails(match, tmp_path, data, model, reward="vanilla", **train):
    params = smoke_params(**train)
    with pytest.raises(VisreasonError, match=match):
        run_train(params, reward=reward, seed=0, data=data, model=model, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_reward(tiny_model, data, tmp_path):
    _fails("nonsense", tmp_path, data, tiny_model, reward="nonsense")


def test_missing_model_path(data, tmp_path):
    _fails("does not exist", tmp_path, data, tmp_path / "no-model")


def test_empty_dataset(tiny_model, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "records.jsonl").write_text("")
    (empty / "manifest.json").write_text("{}\n")
    _fails("empty", tmp_path, empty, tiny_model)


def test_dataset_with_missing_image(tiny_model, tmp_path):
    broken = write_dataset(tmp_path / "broken", n=4)
    (broken / "images" / "clock" / "clock-0002.png").unlink()
    _fails("clock-0002", tmp_path, broken, tiny_model)


def test_dataset_with_missing_field(tiny_model, tmp_path):
    broken = write_dataset(tmp_path / "broken", n=4)
    lines = (broken / "records.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    del record["answer"]
    lines[1] = json.dumps(record)
    (broken / "records.jsonl").write_text("\n".join(lines) + "\n")
    _fails("clock-0001.*answer", tmp_path, broken, tiny_model)


def test_dataset_smaller_than_a_rollout(tiny_model, data, tmp_path):
    _fails(
        "fewer than prompts_per_rollout 16",
        tmp_path,
        data,
        tiny_model,
        prompts_per_step=16,
        prompts_per_rollout=16,
        per_device_train_batch_size=4,
    )


def test_batch_not_divisible(tiny_model, data, tmp_path):
    _fails(
        "not divisible",
        tmp_path,
        data,
        tiny_model,
        prompts_per_step=3,
        num_generations=2,
        per_device_train_batch_size=4,
    )


@pytest.mark.parametrize("setting", [{"use_cpu": False}, {"bf16": True}, {"use_vllm": True}])
def test_gpu_settings_without_gpu(setting, tiny_model, data, tmp_path):
    import torch

    require(not torch.cuda.is_available(), "checks the refusal of GPU settings: needs a machine without a GPU")
    _fails(next(iter(setting)), tmp_path, data, tiny_model, **setting)


def test_prompt_too_long(tiny_model, data, tmp_path):
    _fails("clock-0000.*max_prompt_length 20", tmp_path, data, tiny_model, max_prompt_length=20)


def test_unset_setting(tiny_model, data, tmp_path):
    params = smoke_params()
    del params["train"]["beta"]
    with pytest.raises(VisreasonError, match="train.beta"):
        run_train(params, reward="vanilla", seed=0, data=data, model=tiny_model, out=tmp_path / "out")


def test_lora_trains_adapters_and_saves_a_merged_model(tiny_model, data, tmp_path):
    from visreason.models import load_model_and_processor

    lora = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0, "learning_rate": 5e-2}
    params = smoke_params()
    params["train"]["lora"].update(lora)
    summary = run_train(
        params, reward="vanilla", seed=0, data=data, model=tiny_model, out=tmp_path / "out", reward_fn=even_token_reward
    )
    final = tmp_path / "out" / "final"
    assert summary["steps"] == 2 and (final / "adapter" / "adapter_model.safetensors").is_file()
    before, after = _weights(tiny_model), _weights(final)
    assert before.keys() == after.keys()  # merged: a plain model, no LoRA keys
    changed = {k for k in before if before[k] != after[k]}
    # only the language model's projections (saved under Qwen's original names: model.layers.*, visual.*)
    assert changed and all(k.startswith("model.layers.") and k.endswith("_proj.weight") for k in changed)
    model, _ = load_model_and_processor(final)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"


def test_per_reward_overrides_merge_over_train():
    from visreason.config import train_settings
    from visreason.params import validate

    params = load_params(scale="smoke")
    params["rewards"]["mixture"] = {"learning_rate": 5e-4, "lora": {"enabled": True}}
    cfg = train_settings(params, "mixture")
    assert cfg["learning_rate"] == 5e-4 and cfg["lora"]["enabled"] and cfg["lora"]["r"] == params["train"]["lora"]["r"]
    assert train_settings(params, "vanilla")["learning_rate"] == params["train"]["learning_rate"]
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    raw["rewards"]["mixture"] = {"learnin_rate": 1e-3}
    with pytest.raises(VisreasonError, match="rewards.mixture.learnin_rate"):
        validate(raw)


def test_paper_preset_is_the_studys():
    train = load_params(scale="paper")["train"]
    assert (train["max_steps"], train["prompts_per_step"], train["learning_rate"]) == (500, 128, 1e-6)
    assert (train["temperature"], train["beta"], train["num_generations"]) == (1.0, 0.0, 5)
    assert train["max_prompt_length"] == train["max_completion_length"] == 2048
    assert (train["use_cpu"], train["bf16"]) == (False, True)
    # the on-policy reading of "batch 128"; EasyR1's clipping where updates are off-policy
    assert (train["prompts_per_rollout"], train["num_iterations"]) == (None, 1)
    assert (train["epsilon"], train["epsilon_high"]) == (0.2, 0.3)
    assert train["vllm_importance_sampling_correction"] is False  # EasyR1 has no such correction
    assert train["lora"]["learning_rate"] == 1e-5  # 10x the full fine-tuning rate
    # EasyR1's reading is one line away: prompts_per_rollout 512 passes every check
    from visreason.train import _check_settings

    easyr1 = {**train, "prompts_per_rollout": 512, "use_cpu": True, "bf16": False}
    assert _check_settings(easyr1, world_size=8)["updates_per_rollout"] == 4


# ------------------------------------------------------------------ batches, seeds, engine, LoRA rate


def _history(out: Path, step: int) -> list[dict]:
    state = read_json(out / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json")
    return [h for h in state["log_history"] if "loss" in h]


@pytest.mark.slow
def test_rollout_and_update_batches_both_readings(tiny_model, data, tmp_path):
    """One rollout per optimizer step is strictly on-policy: PPO clipping never fires. A rollout of
    twice the update batch feeds two optimizer steps; the second is off-policy, and clipping fires."""
    common = {"max_steps": 4, "learning_rate": 5e-2, "max_completion_length": 16, "prompts_per_step": 2}
    runs = {}
    for rollout in (2, 4):
        recorder = Recorder()
        summary = run_train(
            smoke_params(prompts_per_rollout=rollout, **common),
            reward="vanilla",
            seed=0,
            data=data,
            model=tiny_model,
            out=tmp_path / f"rollout{rollout}",
            reward_fn=recorder,
        )
        runs[rollout] = recorder, summary, _history(tmp_path / f"rollout{rollout}", 4)
    # optimizer steps per rollout: 1 and 2 (the reward is called once per rollout, on all its completions)
    on, off = runs[2], runs[4]
    assert [len(b) for b in on[0].batches] == [8] * 4 and [len(b) for b in off[0].batches] == [16] * 2
    assert on[1]["steps"] == off[1]["steps"] == 4 and off[1]["batches"]["updates_per_rollout"] == 2
    clipped_on = [h["clip_ratio/region_mean"] for h in on[2]]
    clipped_off = [h["clip_ratio/region_mean"] for h in off[2]]
    assert clipped_on == [0.0] * 4  # the ratio is exactly 1
    assert clipped_off[0] == clipped_off[2] == 0.0  # the first update of each rollout is on-policy
    assert clipped_off[1] > 0 and clipped_off[3] > 0, clipped_off
    assert on[1]["no_update"] is off[1]["no_update"] is False and on[1]["no_update_reason"] is None


@pytest.mark.slow
def test_off_policy_run_resumes_exactly_at_a_rollout_boundary(tiny_model, data, tmp_path):
    """Checkpoints fall between rollouts (save_steps is a multiple of the steps per rollout), so a run
    killed inside its third rollout resumes at checkpoint-4 with no rollout replayed, bit for bit."""
    params = smoke_params(max_steps=6, save_steps=2, learning_rate=5e-2, prompts_per_rollout=4)

    def train(out, reward_fn):
        return run_train(params, reward="vanilla", seed=0, data=data, model=tiny_model, out=out, reward_fn=reward_fn)

    straight = Recorder()
    train(tmp_path / "a", straight)
    with pytest.raises(RuntimeError, match="preemption"):
        train(tmp_path / "b", Recorder(crash_at=3))  # the third rollout: steps 5 and 6
    resumed = Recorder()
    summary = train(tmp_path / "b", resumed)
    assert summary["steps"] == 6 and summary["steps_this_run"] == 2
    assert resumed.batches == straight.batches[2:] and len(straight.batches) == 3
    assert _weights(tmp_path / "b" / "final") == _weights(tmp_path / "a" / "final")


def test_epoch_orders_of_neighbouring_seeds_differ():
    """Epoch e's order comes from a hash of (seed, e): seeds 0 and 1 share no epoch order (with
    `seed + e`, seed 0 in epoch 1 replayed seed 1's epoch 0)."""
    from visreason.train import EpochSeededSampler

    def orders(seed, epochs=20):
        sampler = EpochSeededSampler(list(range(64)), mini_repeat_count=1, batch_size=64, seed=seed)
        out = []
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            out.append(tuple(sampler))
        return out

    zero, one = orders(0), orders(1)
    assert len(set(zero)) == len(set(one)) == 20  # no epoch repeats another of its seed
    assert not set(zero) & set(one)
    assert orders(0) == zero  # and the orders are reproducible


def test_vllm_sampling_seed_follows_training_seed(monkeypatch):
    """TRL seeds its colocated vLLM engine with the process index alone; ours derives it from the training seed."""
    from trl.generation import vllm_generation as vg

    from visreason.train import _vllm_seeded, derived_seed

    seeds = []
    monkeypatch.setattr(vg, "LLM", lambda *args, seed, **kwargs: seeds.append(seed), raising=False)
    for training_seed in (0, 1):
        with _vllm_seeded(training_seed):
            vg.LLM(model="m", seed=0)  # as TRL calls it on process 0
            vg.LLM(model="m", seed=1)  # process 1 (tensor-parallel size 1)
    assert seeds == [derived_seed("vllm", s, p) % 2**31 for s in (0, 1) for p in (0, 1)]
    assert len(set(seeds)) == 4 and all(0 <= s < 2**31 for s in seeds)


def test_lora_has_a_learning_rate_of_its_own(tmp_path):
    from visreason.config import train_settings
    from visreason.train import _check_settings, _grpo_config

    cfg = train_settings(smoke_params(), "vanilla")
    derived = _check_settings(cfg, 1)
    assert _grpo_config(cfg, tmp_path, 0, derived, use_vllm=False).learning_rate == cfg["learning_rate"]
    cfg["lora"]["enabled"] = True
    assert _grpo_config(cfg, tmp_path, 0, derived, use_vllm=False).learning_rate == cfg["lora"]["learning_rate"]
    assert cfg["lora"]["learning_rate"] != cfg["learning_rate"]


def test_vllm_correction_is_the_setting_not_trls_default(tmp_path):
    """TRL turns the vLLM importance-sampling correction on by default; the job passes its own setting."""
    from trl import GRPOConfig

    from visreason.config import train_settings
    from visreason.train import _check_settings, _grpo_config

    assert GRPOConfig(output_dir=str(tmp_path), use_cpu=True).vllm_importance_sampling_correction is True
    cfg = train_settings(smoke_params(), "vanilla")
    derived = _check_settings(cfg, 1)
    for setting in (False, True):
        cfg["vllm_importance_sampling_correction"] = setting
        config = _grpo_config(cfg, tmp_path, 0, derived, use_vllm=True)
        assert config.vllm_importance_sampling_correction is setting


def test_group_of_one_cannot_learn(tiny_model, data, tmp_path):
    from visreason.params import validate

    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    raw["train"]["num_generations"] = 1
    with pytest.raises(VisreasonError, match="'train.num_generations'"):
        validate(raw)
    _fails("train.num_generations: 1 cannot learn", tmp_path, data, tiny_model, num_generations=1)


def test_steps_must_fill_whole_rollouts(tiny_model, data, tmp_path):
    _fails(
        "train.max_steps 3 is not a multiple of the 2 optimizer steps per rollout",
        tmp_path,
        data,
        tiny_model,
        max_steps=3,
        prompts_per_rollout=4,
    )
    _fails(
        "train.save_steps 3 is not a multiple",
        tmp_path,
        data,
        tiny_model,
        max_steps=4,
        save_steps=3,
        prompts_per_rollout=4,
    )
    _fails(
        "prompts_per_rollout 3 is not a multiple of prompts_per_step 2",
        tmp_path,
        data,
        tiny_model,
        prompts_per_rollout=3,
    )


@pytest.mark.slow
def test_moved_checkout_resumes_when_max_steps_rises(tiny_model, data, tmp_path):
    """Data and model are compared by content: after the whole folder moves (a moved checkout, or
    one filled by `dvc pull`), raising max_steps resumes instead of starting over."""
    first = tmp_path / "checkout"
    shutil.copytree(data, first / "data")
    shutil.copytree(tiny_model, first / "model")
    params = smoke_params(max_steps=2, learning_rate=1e-2)
    summary = run_train(
        params,
        reward="vanilla",
        seed=0,
        data=first / "data",
        model=first / "model",
        out=first / "out",
        reward_fn=Recorder(),
    )
    moved = tmp_path / "moved"
    first.rename(moved)
    params["train"]["max_steps"] = 4
    more = Recorder()
    resumed = run_train(
        params,
        reward="vanilla",
        seed=0,
        data=moved / "data",
        model=moved / "model",
        out=moved / "out",
        reward_fn=more,
    )
    assert resumed["steps"] == 4 and resumed["steps_this_run"] == 2 and len(more.batches) == 2
    assert resumed["mlflow_run_id"] == summary["mlflow_run_id"]  # the same run continues
    assert not (moved / "out" / "superseded").exists()
    config = read_json(moved / "out" / "train_config.json")
    assert config["data_sha256"] == summary["settings"]["data_sha256"] and config["data"] == (moved / "data").as_posix()
