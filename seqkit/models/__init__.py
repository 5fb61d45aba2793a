"""Models that recipes build by name: ``seq2seq`` (attention encoder-decoder) and ``rnnlm``."""

from seqkit.models.base import Translator, pad_batch
from seqkit.models.rnnlm import RNNLM, RNNLMOptions
from seqkit.models.seq2seq import Seq2Seq, Seq2SeqOptions

__all__ = ["RNNLM", "RNNLMOptions", "Seq2Seq", "Seq2SeqOptions", "Translator", "pad_batch"]
