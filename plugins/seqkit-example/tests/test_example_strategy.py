"""Typical sampling: seqkit's decoding strategy kit, worked values, the kit catching planted bugs (so a pass
means something), and the strategy in `seqkit translate --strategy typical_sampling`."""

import numpy as np
import pytest
from seqkit.cli import main
from seqkit.decoding import sample_search
from seqkit.registry import Registry
from seqkit.testing.decoding import StrategyCase, StrategyTests

from seqkit_example.strategy import TypicalOptions, TypicalSampling, typical


class TestTypicalSampling(StrategyTests):
    name = "typical_sampling"
    nbest = 4


class TestNarrowTypicalSampling(StrategyTests):
    name = "typical_sampling"
    options = {"mass": 0.5, "temperature": 0.7, "seed": 3}


def test_worked_values():
    p = np.array([[0.5, 0.3, 0.15, 0.05]])  # entropy 1.14; surprisals 0.69, 1.20, 1.90, 3.00
    kept = lambda mass: np.isfinite(typical(np.log(p), mass)).tolist()  # noqa: E731
    assert kept(0.2) == [[False, True, False, False]]  # 1.20 is the closest to the entropy
    assert kept(0.7) == [[True, True, False, False]]  # then 0.69
    assert kept(0.85) == [[True, True, True, False]]  # then 1.90
    assert kept(1.0) == [[True, True, True, True]]
    uniform = np.log(np.full((1, 4), 0.25))
    assert np.isfinite(typical(uniform, 0.3)).sum() == 2  # every surprisal equals the entropy: the first ones
    with pytest.raises(ValueError, match="need 0 < mass <= 1"):
        TypicalOptions(mass=0.0)


# ---- planted bugs: each copy of typical sampling breaks one rule, and the kit's check for it fails ---------------
class BatchEntropy(TypicalSampling):
    """Takes the entropy of the whole batch, not of each row: a sentence's samples depend on its batch."""

    def search(self, model, sources, *, nbest=1, **kwargs):
        def leaky(logp):
            logp = logp - np.logaddexp.reduce(logp, axis=1, keepdims=True)
            p = np.exp(logp)
            entropy = -np.sum(p * np.where(p > 0, logp, 0.0)) / len(p)  # no axis: the batch's mean
            far = np.abs(-logp - entropy) > np.median(np.abs(-logp - entropy))
            return np.where(far, -np.inf, logp)

        return sample_search(model, sources, nbest=nbest, seed=self.options.seed, truncate=leaky, **kwargs)


class ShortestFirst(TypicalSampling):
    """Lists a sentence's samples shortest first instead of most probable first."""

    def search(self, model, sources, **kwargs):
        return [sorted(hyps, key=lambda h: len(h.tokens)) for hyps in super().search(model, sources, **kwargs)]


class FixedSeed(TypicalSampling):
    """Draws with seed 0, whatever its options say."""

    def search(self, model, sources, *, nbest=1, **kwargs):
        return sample_search(model, sources, nbest=nbest, seed=0,
                             truncate=lambda logp: typical(logp, self.options.mass), **kwargs)  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "check", "message"),
    [
        (BatchEntropy, "check_batch_invariance", "decoded alone gives"),
        (ShortestFirst, "check_nbest", "are not finite and best first"),
        (FixedSeed, "check_reproducible", "seed 1 gives the same samples as seed 0"),
    ],
)
def test_the_kit_catches_each_planted_bug(cls, check, message):
    registry = Registry("decoding_strategy")
    registry.add("typical_sampling", cls, options=TypicalOptions)
    case = StrategyCase("typical_sampling", {"mass": 0.8}, nbest=4, registry=registry)
    with pytest.raises(AssertionError, match=message):
        getattr(case, check)()
    registry = Registry("decoding_strategy")
    registry.add("typical_sampling", TypicalSampling, options=TypicalOptions)
    getattr(StrategyCase("typical_sampling", {"mass": 0.8}, nbest=4, registry=registry), check)()  # the original


# ---- in seqkit translate --------------------------------------------------------------------------------------
def test_seqkit_translate_samples_with_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(list("abcdefgh"), size=rng.integers(2, 6))) for _ in range(300)]
    for split, part in (("train", lines[:260]), ("dev", lines[260:280]), ("test", lines[280:])):
        (tmp_path / f"{split}.src").write_text("".join(f"{line}\n" for line in part))
        (tmp_path / f"{split}.tgt").write_text("".join(" ".join(line.split()[::-1]) + "\n" for line in part))
    files = "\n".join(f'{s}_files = ["{s}.src", "{s}.tgt"]' for s in ("train", "dev", "test"))
    (tmp_path / "reverse.toml").write_text(
        f"schema = 2\n[data]\n{files}\n[tokenizer]\nname = 'whitespace'\n"
        "[model]\nembed_size = 16\nhidden_size = 32\n[training]\nepochs = 1\nmax_tokens = 512\n"
        "[evaluation]\ndev_bleu = false\nmonitor = 'val/loss'\n"
    )
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "reverse.toml"), "--run-dir", str(run), "--no-progress"]) == 0
    (tmp_path / "in.txt").write_text("a b c\nd e\n")
    args = ["translate", "--run", str(run), "-i", str(tmp_path / "in.txt"), "--strategy", "typical_sampling",
            "--nbest", "3", "--set", "decoding.mass=0.8"]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" ||| ")[0] for line in out] == ["0"] * 3 + ["1"] * 3
    assert main([*args, "--set", "decoding.seed=0"]) == 0 and capsys.readouterr().out.splitlines() == out
    assert main([*args, "--set", "decoding.mas=0.5"]) == 2
    assert "decoding: unknown key 'mas'; did you mean 'mass'?" in capsys.readouterr().err
