"""Models that recipes build by name: ``seq2seq`` (attention encoder-decoder), ``rnnlm``, ``transformer`` and
``transformer_lm``."""

from seqkit.models.base import Translator, pad_batch
from seqkit.models.rnnlm import RNNLM, RNNLMOptions
from seqkit.models.seq2seq import Seq2Seq, Seq2SeqOptions
from seqkit.models.transformer import Transformer, TransformerLM, TransformerLMOptions, TransformerOptions

__all__ = [
    "RNNLM", "RNNLMOptions", "Seq2Seq", "Seq2SeqOptions", "Transformer", "TransformerLM", "TransformerLMOptions",
    "TransformerOptions", "Translator", "pad_batch",
]  # fmt: skip
